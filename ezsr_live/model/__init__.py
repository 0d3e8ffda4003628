"""The model side of EZSR inference: CLIP through open_clip, event-encoder weights, the
model registry, editable vocabularies, k-NN translation pools and the recogniser.

Names are imported lazily so that ``import ezsr_live.model`` stays cheap (open_clip,
torch and faiss load on first use).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ClipBundle": "clip_loader", "load_clip": "clip_loader", "resolve_device": "clip_loader",
    "register_model_config": "clip_loader", "ensure_model_config": "clip_loader", "model_identity": "clip_loader",
    "configure_cpu_threads": "clip_loader",
    "EventWeightsInfo": "event_encoder", "load_visual_weights": "event_encoder",
    "make_event_encoder": "event_encoder", "save_event_weights": "event_encoder",
    "read_event_weights": "event_encoder",
    "ModelSpec": "registry", "load_registry": "registry", "lookup": "registry",
    "verify_event_weights": "registry",
    "TemplateSet": "templates", "get_templates": "templates",
    "Vocabulary": "vocabulary", "FixedVocabulary": "vocabulary", "TextEmbeddingCache": "vocabulary",
    "parse_labels": "vocabulary",
    "KnnTranslator": "knn", "DeviceKnn": "knn", "Pool": "knn", "PoolMeta": "knn",
    "open_pool": "knn", "create_pool": "knn", "translate": "knn",
    "Recognizer": "recognizer", "RecognizerConfig": "recognizer", "Prediction": "recognizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
