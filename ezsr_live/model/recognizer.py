"""The recogniser: event frame tensors -> embedding -> optional k-NN -> scores -> top-k.

Input: a (B, 3, S, S) normalised frame tensor as the EZSR histogram kernel produces it.
Output: per frame, the top-k labels with softmax probabilities over the vocabulary,
where logits are ``logit_scale.exp() * cos(event embedding, label embedding)``.

On CUDA the batch-1 call is launch-bound, so by default the model runs in fp16 and the
whole chain (encoder, normalisation, exact on-device k-NN, scoring, softmax, top-k) is
captured once into a CUDA graph over static buffers and replayed per frame; label
embeddings live in a padded static buffer so vocabulary edits do not force a
re-capture unless the vocabulary outgrows it. ``cuda_graph=False`` (``--no-cuda-graph``)
runs the same code eagerly. Other batch sizes always run eagerly. On CPU everything is
eager under ``torch.inference_mode`` with k-NN through faiss.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
import os
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch

from ezsr_live.errors import ModelError
from ezsr_live.model import knn as knn_mod
from ezsr_live.model.clip_loader import configure_cpu_threads, load_clip, resolve_device
from ezsr_live.model.event_encoder import (
    has_text_tower,
    input_dtype,
    load_text_tower,
    make_event_encoder,
    read_event_weights,
)
from ezsr_live.model.templates import TemplateSet
from ezsr_live.model.text_cache import default_cache, text_tower_identity
from ezsr_live.model.vocabulary import Vocabulary
from ezsr_live.settings import KNN_ALPHA, KNN_K, KNN_TAU, TOP_K, TOP_K_DEFAULT, RecognitionSettings, settings_of

log = logging.getLogger(__name__)


class LabelSource(Protocol):
    """What the recogniser needs from a vocabulary (Vocabulary, FixedVocabulary)."""

    version: int

    @property
    def labels(self) -> tuple[str, ...]: ...

    def matrix(self) -> torch.Tensor: ...


@runtime_checkable
class IncrementalLabelSource(LabelSource, Protocol):
    """A vocabulary that can encode an edit a few labels at a time (Vocabulary): the
    recogniser keeps scoring the previous labels until all are encoded."""

    @property
    def templates(self) -> TemplateSet: ...

    def pending(self) -> list[str]: ...

    def encode_pending(self, max_labels: int | None = None) -> int: ...


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float
    logit: float


@dataclass
class RecognizerConfig:
    """Everything needed to build a recogniser; mirrors the command-line options."""

    model: str = "ViT-B-32"
    pretrained: str | None = "openai"
    event_weights: str | None = None
    registry_name: str | None = None  # a weights/registry.json entry; overrides model/pretrained/event_weights
    device: str = "auto"
    precision: str | None = None  # None: fp16 on CUDA, fp32 elsewhere
    cuda_graph: bool = True
    threads: int | None = None
    labels: str | Sequence[str] | None = None  # None: the registered model's own, else imagenet
    templates: str | TemplateSet | None = None  # None: the registered model's own, else openai
    top_k: int = TOP_K_DEFAULT
    knn_pool: str | None = None
    knn_k: int = KNN_K
    knn_tau: float = KNN_TAU
    knn_alpha: float = KNN_ALPHA
    #: the input the event weights were trained on, from the registry: ("events", N) or
    #: ("ms", T); the live window and ``ezsr eval`` use it unless told otherwise
    window: tuple[str, float] | None = None
    #: "event_weights": the weights file carries its own text tower (official bigE)
    text_tower: str = "pretrained"

    def __post_init__(self) -> None:
        # the same checks as the command line's, for the Python API and registry values
        for s in settings_of(RecognitionSettings):
            object.__setattr__(self, s.name, s.check(getattr(self, s.name)))


class _GraphedBatch1:
    """A CUDA graph of ``fn`` over a static (1, 3, S, S) input buffer."""

    def __init__(self, fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], example: torch.Tensor):
        self.static_in = example.clone()
        side = torch.cuda.Stream(device=example.device)
        side.wait_stream(torch.cuda.current_stream(example.device))
        with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
            for _ in range(3):
                fn(self.static_in)
        torch.cuda.current_stream(example.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_out = fn(self.static_in)

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self.static_in.copy_(x, non_blocking=True)
        self.graph.replay()
        return self.static_out


class Recognizer:
    """One object from frame tensors to top-k labels. Thread-safe: one call at a time."""

    def __init__(
        self,
        encoder: torch.nn.Module,
        vocabulary: LabelSource,
        *,
        logit_scale: float,
        input_size: int,
        device: torch.device | str = "cpu",
        model_id: str = "",
        knn: knn_mod.KnnTranslator | knn_mod.DeviceKnn | None = None,
        top_k: int = TOP_K_DEFAULT,
        cuda_graph: bool = True,
        vocab_prompts_per_call: int | None = 256,
    ):
        self.device = resolve_device(device)
        # After a vocabulary edit, each call encodes at most this many prompts and keeps
        # scoring against the previous labels until the new set is complete, so an edit
        # never stalls the live view (None: encode everything at once).
        self.vocab_prompts_per_call = vocab_prompts_per_call
        self.encoder = encoder.eval()
        self.vocabulary = vocabulary
        self.logit_scale = float(logit_scale)
        self.input_size = int(input_size)
        self.model_id = model_id
        self.top_k = TOP_K.check(top_k, "top_k")
        self.dtype = input_dtype(encoder)
        self.use_cuda_graph = bool(cuda_graph) and self.device.type == "cuda"
        self._lock = threading.RLock()
        self._vocab_version: int | None = None
        self._labels: tuple[str, ...] = ()
        self._label_buf: torch.Tensor | None = None  # (capacity, D) on device
        self._label_mask: torch.Tensor | None = None  # (capacity,) 0 valid / -inf padding
        self._graph: _GraphedBatch1 | None = None
        self._graph_key: tuple | None = None
        self.knn: knn_mod.KnnTranslator | knn_mod.DeviceKnn | None = None
        self.set_knn(knn)

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: RecognizerConfig) -> "Recognizer":
        """Load CLIP, the event encoder, the vocabulary and the pool as ``cfg`` says."""
        model, pretrained = cfg.model, cfg.pretrained
        event_weights: str | os.PathLike | None = cfg.event_weights
        text_tower, labels, templates = cfg.text_tower, cfg.labels, cfg.templates
        if cfg.registry_name:
            from ezsr_live.model.registry import lookup, verify_event_weights, verify_pretrained

            spec = lookup(cfg.registry_name)
            model, pretrained = spec.base_model, verify_pretrained(spec)
            event_weights = event_weights or verify_event_weights(spec)
            text_tower = spec.text_tower
            labels = labels or spec.labels_arg
            templates = templates or spec.templates_arg
        device = resolve_device(cfg.device)
        precision = cfg.precision or ("fp16" if device.type == "cuda" else "fp32")
        if device.type == "cpu":
            configure_cpu_threads(cfg.threads)
        weights = read_event_weights(event_weights) if event_weights else None
        own_text = text_tower == "event_weights" and weights is not None and has_text_tower(weights[0])
        clip = load_clip(model, pretrained, device, precision, load_weights=not own_text)
        if own_text and weights is not None:
            load_text_tower(clip.model, weights[0], weights[1].path)
        encoder, _info = make_event_encoder(clip.model, model, weights, clip.image_size)
        # on disk, keyed by what the text tower really is: its own file when the event
        # weights carry one, the pretrained file (name, size, time) when one was given
        text_files = [weights[1].path] if own_text and weights is not None else [pretrained] if pretrained else []
        vocabulary = Vocabulary(clip.encode_text, clip.identity, labels or "imagenet", templates,
                                disk=default_cache(), disk_identity=text_tower_identity(clip.identity, *text_files))
        translator = None
        if cfg.knn_pool:
            translator = knn_mod.KnnTranslator.open(cfg.knn_pool, clip.identity, clip.embed_dim,
                                                    k=cfg.knn_k, tau=cfg.knn_tau, alpha=cfg.knn_alpha)
        return cls(encoder, vocabulary, logit_scale=clip.logit_scale, input_size=clip.image_size,
                   device=device, model_id=clip.identity, knn=translator, top_k=cfg.top_k,
                   cuda_graph=cfg.cuda_graph)

    def set_knn(self, knn: knn_mod.KnnTranslator | knn_mod.DeviceKnn | None) -> None:
        """Use (or, with None, stop using) k-NN translation. On CUDA a faiss pool is moved to
        the device for exact matmul search."""
        with self._lock:
            if isinstance(knn, knn_mod.KnnTranslator) and self.model_id:
                knn.pool.check_model(self.model_id)
            if isinstance(knn, knn_mod.KnnTranslator) and self.device.type == "cuda":
                knn = knn_mod.DeviceKnn.from_translator(knn, self.device, self.dtype)
            self.knn = knn
            self._graph = None

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels currently scored (the previous set while an edit is still encoding)."""
        with self._lock:
            self._sync_vocabulary()
            return self._labels

    @property
    def vocabulary_pending(self) -> int:
        """Labels of the latest vocabulary edit still waiting to be encoded."""
        vocabulary = self.vocabulary
        return len(vocabulary.pending()) if isinstance(vocabulary, IncrementalLabelSource) else 0

    # -- vocabulary -> device buffers ------------------------------------------------
    def _sync_vocabulary(self) -> None:
        version = self.vocabulary.version
        if version == self._vocab_version and self._label_buf is not None:
            return
        vocabulary = self.vocabulary
        if (isinstance(vocabulary, IncrementalLabelSource) and self._label_buf is not None
                and self.vocab_prompts_per_call):
            per_label = max(1, len(vocabulary.templates))
            vocabulary.encode_pending(max_labels=max(1, self.vocab_prompts_per_call // per_label))
            if vocabulary.pending():
                return  # keep scoring the previous labels meanwhile
        matrix = self.vocabulary.matrix()
        labels = tuple(self.vocabulary.labels)
        n, d = matrix.shape
        capacity = n if not self.use_cuda_graph else 1 << max(4, (n - 1).bit_length())
        buf, mask = self._label_buf, self._label_mask
        if buf is None or mask is None or buf.shape != (capacity, d):
            buf = self._label_buf = torch.zeros(capacity, d, device=self.device, dtype=self.dtype)
            mask = self._label_mask = torch.zeros(capacity, device=self.device, dtype=torch.float32)
            self._graph = None  # buffers moved: the captured graph points at the old ones
        buf[:n].copy_(matrix.to(self.dtype))
        buf[n:].zero_()
        mask.zero_()
        mask[n:] = float("-inf")
        self._labels = labels
        self._vocab_version = version

    def _label_buffers(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The label embeddings and their mask on the device (set by _sync_vocabulary)."""
        if self._label_buf is None or self._label_mask is None:
            raise ModelError("the vocabulary has not been encoded yet")
        return self._label_buf, self._label_mask

    # -- the chain ---------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.nn.functional.normalize(self.encoder(x).float(), dim=-1)
        if self.knn is not None:
            e = self.knn(e)
        return e.float()

    def _chain(self, x: torch.Tensor, k: int) -> tuple[torch.Tensor, ...]:
        buf, mask = self._label_buffers()
        e = self._embed(x)
        logits = self.logit_scale * (e.to(self.dtype) @ buf.T).float() + mask
        probs = torch.softmax(logits, dim=-1)
        top_p, top_i = torch.topk(probs, k, dim=-1)
        return e, probs, top_p, top_i, logits.gather(1, top_i)

    def _check(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.ndim == 3:
            frames = frames.unsqueeze(0)
        s = self.input_size
        if frames.ndim != 4 or tuple(frames.shape[1:]) != (3, s, s):
            raise ModelError(f"frames must be (B, 3, {s}, {s}), got {tuple(frames.shape)}")
        return frames.to(self.device, self.dtype, non_blocking=True)

    def _run(self, frames: torch.Tensor, k: int | None = None) -> tuple[torch.Tensor, ...]:
        with self._lock:
            self._sync_vocabulary()
            k = max(1, min(k or self.top_k, len(self._labels)))
            x = self._check(frames)
            if self.use_cuda_graph and x.shape[0] == 1:
                with torch.no_grad():
                    key = (k, self._label_buffers()[0].data_ptr(), id(self.knn))
                    if self._graph is None or self._graph_key != key:
                        self._graph = _GraphedBatch1(lambda t: self._chain(t, k), x)
                        self._graph_key = key
                    return tuple(t.clone() for t in self._graph(x))
            with torch.inference_mode():
                return self._chain(x, k)

    # -- public calls ------------------------------------------------------------------
    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, D) float32 normalised event embeddings, after k-NN translation if enabled."""
        return self._run(frames)[0]

    def predict_proba(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, L) float32 softmax probabilities over the vocabulary, on the CPU."""
        probs = self._run(frames)[1]
        return probs[:, : len(self._labels)].float().cpu()

    def recognize(self, frames: torch.Tensor, k: int | None = None) -> list[list[Prediction]]:
        """Top-``k`` (default ``top_k``) predictions for each frame, best first."""
        with self._lock:  # the indices must be read against the labels they were scored with
            _, _, top_p, top_i, top_l = self._run(frames, k)
            labels = self._labels
        top_p, top_i, top_l = top_p.float().cpu(), top_i.cpu(), top_l.float().cpu()
        return [[Prediction(labels[int(i)], float(p), float(lg)) for p, i, lg in zip(pr, ir, lr)]
                for pr, ir, lr in zip(top_p, top_i, top_l)]
