"""From a model name (or nothing) to a recogniser, the way every front end does it.

:func:`resolve_config` decides which model a set of options means, reading the registry
once; ``ezsr-live``, ``ezsr eval`` and the Python API (:func:`create_recognizer`) all
go through it, so the same options give the same model everywhere:

1. ``weights=NAME``: that registry entry (its labels, templates, k-NN pool and window);
2. ``event_weights=FILE`` whose file name a registry entry carries (the official
   release files): that entry's architecture, text tower and window, the user's file;
3. ``event_weights=FILE`` of our own: the base model and teacher its sidecar names;
4. ``model=``/``pretrained=``;
5. nothing: the best registered model present on this machine (named in the log).

Whatever the caller gives explicitly wins over what an entry or a sidecar says.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from ezsr_live.errors import ModelError
from ezsr_live.model.defaults import QUICKGELU_SUFFIX
from ezsr_live.model.recognizer import Recognizer, RecognizerConfig
from ezsr_live.settings import KNN_ALPHA, KNN_K, KNN_TAU, TOP_K_DEFAULT

log = logging.getLogger(__name__)


def _sidecar_model(event_weights: str) -> tuple[str | None, str | None]:
    """(base model, pretrained) recorded beside our own event weights, if any."""
    from ezsr_live.model.event_encoder import read_sidecar_meta

    meta = read_sidecar_meta(event_weights)
    if meta is None:
        return None, None
    base, pretrained = meta.get("base_model"), meta.get("pretrained")
    if not isinstance(base, str):
        return None, None
    if isinstance(pretrained, str) and pretrained:
        import open_clip

        if pretrained not in open_clip.list_pretrained_tags_by_model(base):
            # a teacher file: the sidecar keeps its name; look for it beside the weights
            beside = Path(event_weights).parent / Path(pretrained).name
            pretrained = str(beside) if beside.is_file() else None
    else:
        pretrained = None
    return base, pretrained


def resolve_config(
    weights: str | None = None,
    *,
    model: str | None = None,
    pretrained: str | None = None,
    event_weights: str | None = None,
    model_config: str | None = None,
    labels: str | Sequence[str] | None = None,
    templates: str | None = None,
    knn_pool: str | None = None,
    device: str = "auto",
    cuda_graph: bool = True,
    threads: int | None = None,
    top_k: int = TOP_K_DEFAULT,
    knn_k: int = KNN_K,
    knn_tau: float = KNN_TAU,
    knn_alpha: float = KNN_ALPHA,
) -> RecognizerConfig:
    """The :class:`RecognizerConfig` these options mean (see the module docstring).
    ``pretrained=""`` asks for random weights; ``knn_pool=""`` for no pool."""
    from ezsr_live.model.registry import default_model, load_registry, spec_for_weights_file

    if model_config:
        from ezsr_live.model.clip_loader import register_model_config

        register_model_config(model_config)
    registry = load_registry()
    registry_name = weights
    if weights is not None and weights not in registry:
        raise ModelError(f"unknown registered model {weights!r}; known: {', '.join(sorted(registry))}")
    spec = registry[weights] if weights else None
    if spec is None and event_weights is not None:
        by_file = spec_for_weights_file(event_weights, specs=registry)
        if by_file is not None and (model is None or model.removesuffix(QUICKGELU_SUFFIX) == by_file.base_model):
            spec = by_file
            log.info("%s is the registered %r: %s with %s", event_weights, spec.name, spec.base_model,
                     spec.pretrained)
        elif model is None:
            model, side_pretrained = _sidecar_model(event_weights)
            if model is None:
                raise ModelError(f"{event_weights}: which CLIP model these event weights belong to is unknown "
                                 "(no registry entry has this file name and no sidecar names a base_model); "
                                 "pass --model NAME (and --pretrained TAG)")
            pretrained = side_pretrained if pretrained is None else pretrained
    if spec is None and model is None and event_weights is None:
        spec = default_model(specs=registry)
        if spec is None:
            raise ModelError("no model given (--model/--event-weights or --weights NAME) and none of "
                             "weights/registry.json is present on this machine")
        registry_name = spec.name
        log.info("using the registered model %r (%s)%s", spec.name, spec.base_model,
                 "; for real scenes put an official EZSR release (e.g. EZSR-OPENAI-VITB16.pt) into weights/ "
                 "or pass --model ViT-B-16 --event-weights FILE" if spec.rank <= 0 else "")
    labels = labels or (spec.labels_arg if spec is not None and spec.labels else "imagenet")
    templates = templates or (spec.templates_arg if spec is not None and spec.templates else "openai")
    if knn_pool is None:
        knn_pool = str(spec.knn_pool_path) if spec is not None and spec.knn_pool_path else None
    if spec is not None and registry_name is None:  # matched by file name: the user's path is loaded
        model = spec.base_model
        pretrained = (spec.pretrained_arg or "") if pretrained is None else pretrained
    pretrained = "openai" if pretrained is None else (pretrained or None)
    return RecognizerConfig(
        model=model or "ViT-B-32", pretrained=pretrained, event_weights=event_weights,
        registry_name=registry_name, device=device, cuda_graph=cuda_graph,
        threads=threads, labels=labels, templates=templates, top_k=top_k,
        knn_pool=knn_pool or None, knn_k=knn_k, knn_tau=knn_tau, knn_alpha=knn_alpha,
        window=spec.window if spec is not None else None,
        text_tower=spec.text_tower if spec is not None else "pretrained",
    )


def create_recognizer(name: str | None = None, **overrides: Any) -> Recognizer:
    """A :class:`Recognizer` for registry entry ``name`` (None: the best one present),
    with its own labels, templates and k-NN pool unless ``overrides`` say otherwise
    (any :func:`resolve_config` keyword: ``labels="cat,dog"``, ``device="cuda"`` ...)."""
    return Recognizer.from_config(resolve_config(name, **overrides))
