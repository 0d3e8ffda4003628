"""k-NN translation of event embeddings into the RGB embedding space (EZSR, Remark 1).

Given an L2-normalised event embedding ``e`` and its ``k`` nearest pool embeddings
``r_i`` (cosine similarity ``s_i``)::

    w = softmax(s / tau)
    e~ = normalise(alpha * e + (1 - alpha) * sum_i w_i r_i)

Defaults (settable everywhere): ``k = 16``, ``tau = 0.05``, ``alpha = 0.5``. Only alpha
was measured, on the demo miniature (``ezsr demo study``, docs/results.md): against the
literal reading of Remark 1 (alpha = 0) it is level or up to 0.8 points ahead for six
students over three seeds, and loses far less when the pool lacks the classes being
recognised. k and tau could not be tuned here (no N-ImageNet on this machine); the
rationale: nearest-neighbour cosine similarities between CLIP image embeddings sit in a
narrow band (about 0.6-0.95), so tau = 0.05 makes a 0.05 similarity lead worth a factor
e in weight - the closest few neighbours dominate
without collapsing onto one; k = 16 leaves room for that softmax to find them while
keeping the gather cheap (and is what the benchmark's recall@16 measures); alpha = 0.5
weighs the event evidence and the RGB prior equally, so a poor pool can at most halve
the event signal. ``ezsr pool info --check`` and the benchmark report retrieval recall.

A *pool* is a folder: ``index.faiss`` (the vectors, in a faiss index), ``meta.json``
(model identity, dimension, count, source, index type and search parameters, label
names) and, when labels are known, ``labels.npy`` (int32 label id per vector, -1 none).
Up to :data:`EXACT_LIMIT` vectors the index is an exact ``IndexFlatIP``; above it an
approximate one (IVF-Flat by default, HNSW on request) whose search depth is tuned at
build time to reach a target recall@k against exact search.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ezsr_live.fileio import atomic_write_text
from ezsr_live.errors import ModelError
from ezsr_live.model.defaults import QUICKGELU_SUFFIX
from ezsr_live.settings import KNN_ALPHA, KNN_K, KNN_TAU

log = logging.getLogger(__name__)

EXACT_LIMIT = 200_000
POOL_FORMAT = "ezsr-live pool"
POOL_VERSION = 1
INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")


# ----------------------------------------------------------------------------------
# the translation itself: pure functions
# ----------------------------------------------------------------------------------
def translate(e: torch.Tensor, sims: torch.Tensor, neighbours: torch.Tensor,
              tau: float = KNN_TAU, alpha: float = KNN_ALPHA) -> torch.Tensor:
    """``e`` (B, D), ``sims`` (B, k) (``-inf`` for absent neighbours), ``neighbours`` (B, k, D)
    -> translated, normalised (B, D). Computed in float32 whatever the input dtype."""
    dtype = e.dtype
    w = torch.softmax(sims.float() / tau, dim=-1)
    w = torch.nan_to_num(w, nan=0.0)  # a row with no neighbour at all: all weights 0
    prior = torch.einsum("bk,bkd->bd", w, neighbours.float())
    mixed = alpha * e.float() + (1.0 - alpha) * prior
    return torch.nn.functional.normalize(mixed, dim=-1).to(dtype)


def exact_translate(e: torch.Tensor, pool: torch.Tensor, k: int = KNN_K,
                    tau: float = KNN_TAU, alpha: float = KNN_ALPHA) -> torch.Tensor:
    """Exact k-NN translation with a matmul + top-k against the whole pool (N, D) on the
    pool's device; graph-capturable (no host synchronisation)."""
    sims = e.to(pool.dtype) @ pool.T
    top, idx = torch.topk(sims, k, dim=-1)
    return translate(e, top, pool[idx], tau, alpha)


# ----------------------------------------------------------------------------------
# faiss indexes
# ----------------------------------------------------------------------------------
def _faiss():
    # deferred: the CUDA path and the CLI's other commands do not need faiss. Its loader
    # narrates which SIMD build it picks at INFO level; that is not news to our users.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


def _as_f32(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    x = _as_f32(x)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def choose_kind(count: int, kind: str = "auto") -> str:
    if kind not in INDEX_KINDS:
        raise ModelError(f"unknown index type {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if kind == "auto":
        return "flat" if count <= EXACT_LIMIT else "ivf"
    return kind


def ivf_nlist(count: int) -> int:
    """About 2*sqrt(N) lists, a power of two: 2048 lists at ImageNet's 1.28M. Fewer lists
    than the common 4*sqrt(N) keep k-means training and adding within a minute on two
    cores, at the price of scanning slightly more vectors per probe."""
    return int(2 ** max(4, round(math.log2(2.0 * math.sqrt(max(count, 1))))))


def build_index(vectors: np.ndarray, kind: str = "auto", *, hnsw_m: int = 32,
                ef_construction: int = 80, train_points: int | None = None,
                seed: int = 0) -> Any:
    """A faiss inner-product index over L2-normalised ``vectors`` (N, D)."""
    faiss = _faiss()
    xb = _as_f32(vectors)
    n, d = xb.shape
    kind = choose_kind(n, kind)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    else:
        nlist = min(ivf_nlist(n), max(1, n // 39))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10  # centroids only steer the probe; more iterations buy little recall
        n_train = min(n, train_points or 40 * nlist)
        rng = np.random.default_rng(seed)
        sample = xb[np.sort(rng.choice(n, n_train, replace=False))] if n_train < n else xb
        index.train(sample)
    index.add(xb)
    return index


def index_kind(index: Any) -> str:
    faiss = _faiss()
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


def set_search_depth(index: Any, depth: int | None) -> None:
    """``nprobe`` for IVF, ``efSearch`` for HNSW; nothing for exact indexes."""
    if depth is None:
        return
    kind = index_kind(index)
    if kind == "ivf":
        _faiss().extract_index_ivf(index).nprobe = int(depth)
    elif kind == "hnsw":
        index.hnsw.efSearch = int(depth)


def get_search_depth(index: Any) -> int | None:
    kind = index_kind(index)
    if kind == "ivf":
        return int(_faiss().extract_index_ivf(index).nprobe)
    if kind == "hnsw":
        return int(index.hnsw.efSearch)
    return None


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Ground-truth ids (Q, k) by brute force with faiss' exact kernel."""
    faiss = _faiss()
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(_as_f32(vectors))
    return flat.search(_as_f32(queries), k)[1]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true k neighbours that were found (the usual k-NN recall@k)."""
    k = truth.shape[1]
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / float(k * len(truth))


def probe_queries(vectors: np.ndarray, count: int = 200, noise: float = 0.5, seed: int = 1) -> np.ndarray:
    """Queries near the pool but not in it: pool vectors plus isotropic noise of relative
    norm ``noise``, renormalised (an event embedding is near, not on, its RGB ones)."""
    rng = np.random.default_rng(seed)
    base = vectors[rng.choice(len(vectors), min(count, len(vectors)), replace=False)].astype(np.float32)
    jitter = rng.standard_normal(base.shape).astype(np.float32)
    jitter *= noise / np.linalg.norm(jitter, axis=1, keepdims=True)
    return normalise_rows(base + jitter)


def tune_search_depth(index: Any, queries: np.ndarray, truth: np.ndarray,
                      target_recall: float = 0.95) -> tuple[int | None, float]:
    """Smallest nprobe / efSearch whose recall@k reaches ``target_recall``; returns
    (depth, recall). Exact indexes return (None, 1.0)."""
    kind = index_kind(index)
    if kind == "flat":
        return None, 1.0
    k = truth.shape[1]
    if kind == "ivf":
        nlist = _faiss().extract_index_ivf(index).nlist
        depths = [d for d in (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256) if d <= nlist] or [nlist]
    else:
        depths = [d for d in (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512) if d >= k]
    recall = 0.0
    for depth in depths:
        set_search_depth(index, depth)
        recall = recall_at_k(index.search(_as_f32(queries), k)[1], truth)
        if recall >= target_recall:
            return depth, recall
    return depths[-1], recall


# ----------------------------------------------------------------------------------
# pools on disk
# ----------------------------------------------------------------------------------
@dataclass
class PoolMeta:
    model: str  # CLIP identity (clip_loader.model_identity) the vectors were embedded with
    embed_dim: int
    count: int
    index_type: str
    search_depth: int | None = None
    tuned_recall: float | None = None
    source: str | None = None
    label_names: list[str] = field(default_factory=list)
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": POOL_FORMAT, "version": POOL_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, doc: dict[str, Any], where: Path) -> "PoolMeta":
        if doc.get("format") != POOL_FORMAT:
            raise ModelError(f"{where}: not an ezsr-live pool (format {doc.get('format')!r})")
        if doc.get("version") != POOL_VERSION:
            raise ModelError(f"{where}: pool version {doc.get('version')} is not supported (want {POOL_VERSION})")
        try:
            return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})
        except TypeError as exc:
            raise ModelError(f"{where}: malformed pool metadata: {exc}") from None


def _check_pool_model(path: Path, meta: PoolMeta, model_id: str, embed_dim: int | None) -> None:
    if meta.model != model_id:
        name, _, tag = model_id.partition("/")
        if name.endswith(QUICKGELU_SUFFIX) and meta.model == f"{name[:-len(QUICKGELU_SUFFIX)]}/{tag}":
            raise ModelError(f"{path}: pool was embedded with {meta.model} built with GELU, but those weights were "
                             f"trained with QuickGELU ({model_id} is loaded); its vectors are off: rebuild the pool "
                             "with 'ezsr pool build'")
        raise ModelError(f"{path}: pool was built with model {meta.model}, "
                         f"but {model_id} is loaded; rebuild the pool with this model")
    if embed_dim is not None and meta.embed_dim != embed_dim:
        raise ModelError(f"{path}: pool vectors are {meta.embed_dim}-d, the model's are {embed_dim}-d")


class Pool:
    """An opened pool: faiss index, metadata and optional per-vector labels."""

    def __init__(self, path: Path, index: Any, meta: PoolMeta, label_ids: np.ndarray | None):
        self.path = path
        self.index = index
        self.meta = meta
        self.label_ids = label_ids
        if index_kind(index) == "ivf":
            # reconstructing neighbours by id needs IVF's id -> list map
            _faiss().extract_index_ivf(index).make_direct_map()

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def check_model(self, model_id: str, embed_dim: int | None = None) -> None:
        """Refuse a pool embedded with another CLIP model than the one loaded."""
        _check_pool_model(self.path, self.meta, model_id, embed_dim)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.search(_as_f32(queries), k)

    def reconstruct(self, ids: np.ndarray) -> np.ndarray:
        """Vectors for ``ids`` (any shape); ids < 0 give zero vectors."""
        flat = ids.reshape(-1).astype(np.int64)
        out = np.zeros((flat.size, self.meta.embed_dim), dtype=np.float32)
        ok = flat >= 0
        if ok.any():
            out[ok] = self.index.reconstruct_batch(flat[ok])
        return out.reshape(*ids.shape, self.meta.embed_dim)

    def vectors(self) -> np.ndarray:
        """All vectors (N, D) float32, in id order (for exact device search and checks)."""
        return self.index.reconstruct_n(0, self.index.ntotal)

    def label_of(self, vector_id: int) -> str | None:
        if self.label_ids is None or vector_id < 0:
            return None
        lid = int(self.label_ids[vector_id])
        return self.meta.label_names[lid] if lid >= 0 else None


def write_pool(path: str | os.PathLike, index: Any, meta: PoolMeta,
               label_ids: np.ndarray | None = None) -> Path:
    """Write ``index.faiss``, ``labels.npy`` and (last, so a pool is complete once it has
    one) ``meta.json`` into folder ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta.count = int(index.ntotal)
    meta.index_type = index_kind(index)
    meta.search_depth = get_search_depth(index)
    meta.created = meta.created or time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _faiss().write_index(index, str(path / "index.faiss"))
    if label_ids is not None:
        np.save(path / "labels.npy", label_ids.astype(np.int32))
    atomic_write_text(path / "meta.json", json.dumps(meta.to_json(), indent=2) + "\n")
    return path


def read_pool_meta(path: str | os.PathLike) -> PoolMeta:
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise ModelError(f"{path}: not a pool (no meta.json); build one with 'ezsr pool build'")
    try:
        doc = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{meta_file}: unreadable pool metadata: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{meta_file}: pool metadata must be a JSON object")
    return PoolMeta.from_json(doc, meta_file)


def open_pool(path: str | os.PathLike, model_id: str | None = None, embed_dim: int | None = None) -> Pool:
    """Open a pool; with ``model_id`` given, refuse it unless it was built with that model."""
    path = Path(path)
    meta = read_pool_meta(path)
    if model_id is not None:
        _check_pool_model(path, meta, model_id, embed_dim)  # before reading a possibly huge index
    try:
        index = _faiss().read_index(str(path / "index.faiss"))
    except RuntimeError as exc:
        raise ModelError(f"{path / 'index.faiss'}: unreadable faiss index: {str(exc).splitlines()[0]}") from None
    if index.d != meta.embed_dim or index.ntotal != meta.count:
        raise ModelError(f"{path}: index holds {index.ntotal} x {index.d}-d vectors, "
                         f"metadata says {meta.count} x {meta.embed_dim}")
    labels = None
    if (path / "labels.npy").is_file():
        labels = np.load(path / "labels.npy", allow_pickle=False)
        if labels.shape != (meta.count,):
            raise ModelError(f"{path / 'labels.npy'}: {labels.shape} labels for {meta.count} vectors")
    set_search_depth(index, meta.search_depth)
    return Pool(path, index, meta, labels)


def create_pool(path: str | os.PathLike, vectors: np.ndarray, model_id: str, *, kind: str = "auto",
                source: str | None = None, label_names: Sequence[str] = (),
                label_ids: np.ndarray | None = None, target_recall: float = 0.95,
                **index_options: Any) -> Pool:
    """Normalise ``vectors``, index them, tune approximate search, write the pool, open it."""
    xb = normalise_rows(vectors)
    index = build_index(xb, kind, **index_options)
    recall = None
    if index_kind(index) != "flat":
        queries = probe_queries(xb)
        k = min(KNN_K, len(xb))
        depth, recall = tune_search_depth(index, queries, exact_neighbours(xb, queries, k), target_recall)
        set_search_depth(index, depth)
        log.info("tuned %s search depth %s: recall@%d %.3f", index_kind(index), depth, k, recall)
    meta = PoolMeta(model=model_id, embed_dim=xb.shape[1], count=len(xb), index_type=index_kind(index),
                    tuned_recall=recall, source=source, label_names=list(label_names))
    write_pool(path, index, meta, label_ids)
    return open_pool(path)


# ----------------------------------------------------------------------------------
# the translator used by the recogniser on CPU
# ----------------------------------------------------------------------------------
class KnnTranslator:
    """Translate event embeddings with a pool searched by faiss (CPU path)."""

    def __init__(self, pool: Pool, k: int = KNN_K, tau: float = KNN_TAU, alpha: float = KNN_ALPHA):
        if k < 1:
            raise ModelError(f"--knn-k must be >= 1, got {k}")
        if tau <= 0:
            raise ModelError(f"--knn-tau must be > 0, got {tau}")
        if not 0.0 <= alpha <= 1.0:
            raise ModelError(f"--knn-alpha must be within [0, 1], got {alpha}")
        self.pool = pool
        self.k = min(int(k), len(pool))
        self.tau = float(tau)
        self.alpha = float(alpha)

    @classmethod
    def open(cls, path: str | os.PathLike, model_id: str, embed_dim: int, **params: Any) -> "KnnTranslator":
        return cls(open_pool(path, model_id, embed_dim), **params)

    def __call__(self, e: torch.Tensor) -> torch.Tensor:
        """(B, D) normalised embeddings -> (B, D) translated, on ``e``'s device and dtype."""
        q = _as_f32(e)
        sims, ids = self.pool.search(q, self.k)
        sims = np.where(ids >= 0, sims, -np.inf).astype(np.float32)
        neighbours = self.pool.reconstruct(ids)
        out = translate(torch.from_numpy(q), torch.from_numpy(sims), torch.from_numpy(neighbours),
                        self.tau, self.alpha)
        return out.to(device=e.device, dtype=e.dtype)

    def device_matrix(self, device: torch.device, dtype: torch.dtype = torch.float16) -> torch.Tensor:
        """The whole pool as an (N, D) tensor on ``device``, for exact on-device search."""
        return torch.from_numpy(self.pool.vectors()).to(device=device, dtype=dtype)


class DeviceKnn:
    """Exact k-NN translation by matmul + top-k on the encoder's device (CUDA path): no
    faiss, no host round trip, so it can live inside a captured CUDA graph."""

    def __init__(self, pool_matrix: torch.Tensor, k: int = KNN_K, tau: float = KNN_TAU,
                 alpha: float = KNN_ALPHA):
        if pool_matrix.ndim != 2 or pool_matrix.shape[0] < 1:
            raise ModelError("a device pool must be a non-empty (N, D) matrix")
        self.pool = pool_matrix
        self.k = min(int(k), pool_matrix.shape[0])
        self.tau = float(tau)
        self.alpha = float(alpha)

    @classmethod
    def from_translator(cls, knn: KnnTranslator, device: torch.device,
                        dtype: torch.dtype = torch.float16) -> "DeviceKnn":
        return cls(knn.device_matrix(device, dtype), knn.k, knn.tau, knn.alpha)

    def __call__(self, e: torch.Tensor) -> torch.Tensor:
        return exact_translate(e, self.pool, self.k, self.tau, self.alpha)
