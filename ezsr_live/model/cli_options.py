"""The recogniser's command-line options, defined once for every front end
(``ezsr-live``, evaluation commands): :func:`add_model_arguments` and
:func:`config_from_args`."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from typing import TYPE_CHECKING

from ezsr_live.model.defaults import DEVICE_CHOICES, KNN_ALPHA, KNN_K, KNN_TAU, QUICKGELU_SUFFIX

if TYPE_CHECKING:
    from ezsr_live.model.recognizer import RecognizerConfig

log = logging.getLogger(__name__)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="open_clip architecture, e.g. ViT-B-32, ViT-B-16, ViT-L-14 (default: the best model of "
                        "weights/registry.json whose weights are present, else the bundled demo model)")
    g.add_argument("--pretrained", default=None,
                   help="open_clip pretrained tag (e.g. openai; downloaded into open_clip's cache on first use), "
                        "a checkpoint file, or '' for random weights (default with --model: openai)")
    g.add_argument("--event-weights", metavar="PATH",
                   help="distilled event encoder: our .safetensors (+ .json sidecar) or an official "
                        "EZSR-OPENAI-*.pt; without it the raw CLIP tower runs on event frames (poor accuracy)")
    g.add_argument("--weights", metavar="NAME",
                   help="a configuration from weights/registry.json (sets --model, --pretrained, --event-weights; "
                        "checks the file's sha256)")
    g.add_argument("--model-config", metavar="JSON", help="extra open_clip architecture config (file or folder)")
    g.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    g.add_argument("--no-cuda-graph", action="store_true",
                   help="CUDA: run eagerly instead of replaying a captured graph for single frames")
    g.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU inference threads (default: all cores but one)")

    v = parser.add_argument_group("vocabulary")
    v.add_argument("--labels", default=None,
                   help="built-in set (imagenet, caltech101, cifar10), a file (one label per line), or 'cat,dog,car' "
                        "(default: the registered model's own vocabulary, else imagenet)")
    v.add_argument("--templates", default=None,
                   help="prompt templates: openai (CLIP's 80), short (7), photo (1) or a file with {} "
                        "(default: the registered model's own, else openai)")
    v.add_argument("--top-k", type=_positive_int, default=5, help="labels reported per frame (default: 5)")

    k = parser.add_argument_group("k-NN translation")
    k.add_argument("--knn-pool", metavar="PATH", help="pool built by 'ezsr pool build' with the same --model")
    k.add_argument("--knn-k", type=_positive_int, default=KNN_K,
                   help=f"neighbours (default: {KNN_K})")
    k.add_argument("--knn-tau", type=float, default=KNN_TAU,
                   help=f"softmax temperature over neighbour similarities (default: {KNN_TAU})")
    k.add_argument("--knn-alpha", type=float, default=KNN_ALPHA,
                   help=f"weight of the event embedding against the neighbours (default: {KNN_ALPHA})")


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


def config_from_args(args: argparse.Namespace) -> RecognizerConfig:
    """The recogniser the options describe.

    The model comes from, in this order: ``--weights NAME``; the registry entry whose
    file name ``--event-weights`` carries (the official release files); the sidecar of our
    own event weights (its ``base_model`` and ``pretrained``); ``--model``/``--pretrained``;
    and without any of them the best registered model present here (named in the log).
    Options the user typed always win over what an entry or a sidecar says."""
    from ezsr_live.errors import ModelError
    from ezsr_live.model.recognizer import RecognizerConfig
    from ezsr_live.model.registry import default_model, lookup, spec_for_weights_file

    if getattr(args, "model_config", None):
        from ezsr_live.model.clip_loader import register_model_config

        register_model_config(args.model_config)
    registry_name, model, pretrained = args.weights, args.model, args.pretrained
    spec = lookup(registry_name) if registry_name else None
    if spec is None and args.event_weights is not None:
        by_file = spec_for_weights_file(args.event_weights)
        if by_file is not None and (model is None or model.removesuffix(QUICKGELU_SUFFIX) == by_file.base_model):
            spec = by_file
            log.info("%s is the registered %r: %s with %s", args.event_weights, spec.name, spec.base_model,
                     spec.pretrained)
        elif model is None:
            model, side_pretrained = _sidecar_model(args.event_weights)
            if model is None:
                raise ModelError(f"{args.event_weights}: which CLIP model these event weights belong to is unknown "
                                 "(no registry entry has this file name and no sidecar names a base_model); "
                                 "pass --model NAME (and --pretrained TAG)")
            pretrained = side_pretrained if pretrained is None else pretrained
    if spec is None and model is None and args.event_weights is None:
        spec = default_model()
        if spec is None:
            raise ModelError("no model given (--model/--event-weights or --weights NAME) and none of "
                             "weights/registry.json is present on this machine")
        registry_name = spec.name
        log.info("using the registered model %r (%s)%s", spec.name, spec.base_model,
                 "; for real scenes put an official EZSR release (e.g. EZSR-OPENAI-VITB16.pt) into weights/ "
                 "or pass --model ViT-B-16 --event-weights FILE" if spec.rank <= 0 else "")
    labels = args.labels or (spec.labels_arg if spec is not None and spec.labels else "imagenet")
    templates = args.templates or (spec.templates_arg if spec is not None and spec.templates else "openai")
    knn_pool = args.knn_pool or (str(spec.knn_pool_path) if spec is not None and spec.knn_pool_path else None)
    if spec is not None and registry_name is None:  # matched by file name: the user's path is loaded
        model = spec.base_model
        pretrained = (spec.pretrained_arg or "") if pretrained is None else pretrained
    pretrained = "openai" if pretrained is None else (pretrained or None)
    return RecognizerConfig(
        model=model or "ViT-B-32", pretrained=pretrained, event_weights=args.event_weights,
        registry_name=registry_name, device=args.device, cuda_graph=not args.no_cuda_graph,
        threads=args.threads, labels=labels, templates=templates, top_k=args.top_k,
        knn_pool=knn_pool, knn_k=args.knn_k, knn_tau=args.knn_tau, knn_alpha=args.knn_alpha,
        window=spec.window if spec is not None else None,
        text_tower=spec.text_tower if spec is not None else "pretrained",
    )
