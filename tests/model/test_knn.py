"""k-NN translation against a brute-force numpy reference, pools on disk, model checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ezsr_live.errors import ModelError
from ezsr_live.model import knn


def clustered(n: int, d: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_translate(e: np.ndarray, pool: np.ndarray, k: int, tau: float, alpha: float) -> np.ndarray:
    """The formula, written out with numpy and an exhaustive search."""
    out = []
    for q in e.astype(np.float64):
        sims = pool.astype(np.float64) @ q
        nearest = np.argsort(-sims)[:k]
        w = np.exp((sims[nearest] - sims[nearest].max()) / tau)
        w /= w.sum()
        mixed = alpha * q + (1 - alpha) * (w[:, None] * pool[nearest]).sum(0)
        out.append(mixed / np.linalg.norm(mixed))
    return np.array(out)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(3000, 32, 40, seed=0)


@pytest.fixture(scope="module")
def flat_pool(vectors, tmp_path_factory) -> knn.Pool:
    labels = np.arange(len(vectors)) % 3
    return knn.create_pool(tmp_path_factory.mktemp("pool") / "p", vectors, "tiny/random",
                           label_names=["a", "b", "c"], label_ids=labels, source="/images")


@pytest.mark.parametrize("k,tau,alpha", [(16, 0.05, 0.5), (1, 0.05, 0.0), (5, 1.0, 0.8), (7, 0.01, 1.0)])
def test_faiss_translation_matches_brute_force_reference(flat_pool, vectors, k, tau, alpha):
    queries = knn.probe_queries(vectors, 20, seed=3)
    translator = knn.KnnTranslator(flat_pool, k=k, tau=tau, alpha=alpha)
    got = translator(torch.from_numpy(queries)).numpy()
    np.testing.assert_allclose(got, reference_translate(queries, vectors, k, tau, alpha), atol=2e-5)


def test_device_exact_translation_matches_brute_force_reference(vectors):
    queries = knn.probe_queries(vectors, 20, seed=4)
    dev = knn.DeviceKnn(torch.from_numpy(vectors), k=16, tau=0.05, alpha=0.5)
    got = dev(torch.from_numpy(queries)).numpy()
    np.testing.assert_allclose(got, reference_translate(queries, vectors, 16, 0.05, 0.5), atol=2e-5)


def test_translation_keeps_device_and_dtype_and_unit_norm(flat_pool, vectors):
    e = torch.from_numpy(vectors[:4]).double()
    out = knn.KnnTranslator(flat_pool)(e)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4, dtype=torch.float64))


def test_pool_round_trips_metadata_and_labels(flat_pool, vectors):
    reopened = knn.open_pool(flat_pool.path, "tiny/random", 32)
    assert reopened.meta.count == 3000 and reopened.meta.index_type == "flat"
    assert reopened.meta.source == "/images"
    assert [reopened.label_of(i) for i in range(4)] == ["a", "b", "c", "a"]
    np.testing.assert_allclose(reopened.vectors(), vectors, atol=1e-6)


def test_pool_built_with_another_model_is_refused(flat_pool):
    with pytest.raises(ModelError, match="built with model tiny/random.*ViT-B-32/openai is loaded"):
        knn.open_pool(flat_pool.path, "ViT-B-32/openai", 32)
    with pytest.raises(ModelError, match="32-d"):
        knn.open_pool(flat_pool.path, "tiny/random", 512)


def test_folder_without_pool_or_with_bad_metadata_is_refused(tmp_path, flat_pool):
    with pytest.raises(ModelError, match="not a pool"):
        knn.open_pool(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        knn.open_pool(tmp_path)
    doc = json.loads((flat_pool.path / "meta.json").read_text())
    doc["count"] = 5
    (tmp_path / "meta.json").write_text(json.dumps(doc))
    (tmp_path / "index.faiss").write_bytes((flat_pool.path / "index.faiss").read_bytes())
    with pytest.raises(ModelError, match="metadata says 5"):
        knn.open_pool(tmp_path)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_is_tuned_to_the_target_recall(tmp_path, kind):
    xb = clustered(20000, 32, 100, seed=5)
    pool = knn.create_pool(tmp_path / kind, xb, "tiny/random", kind=kind, target_recall=0.95)
    assert pool.meta.index_type == kind and pool.meta.search_depth is not None
    queries = knn.probe_queries(xb, 100, seed=9)
    truth = knn.exact_neighbours(xb, queries, 16)
    assert knn.recall_at_k(knn.open_pool(pool.path).search(queries, 16)[1], truth) >= 0.9


def test_auto_index_is_exact_up_to_the_limit():
    assert knn.choose_kind(knn.EXACT_LIMIT) == "flat"
    assert knn.choose_kind(knn.EXACT_LIMIT + 1) == "ivf"
    with pytest.raises(ModelError):
        knn.choose_kind(10, "lsh")


def test_bad_translation_parameters_are_refused(flat_pool):
    for params in ({"k": 0}, {"tau": 0.0}, {"alpha": 1.5}):
        with pytest.raises(ModelError):
            knn.KnnTranslator(flat_pool, **params)
