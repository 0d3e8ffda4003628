"""The recogniser's command-line options, defined once for every front end
(``ezsr-live``, evaluation commands): :func:`add_model_arguments` and
:func:`config_from_args`."""
from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from ezsr_live.cli.settings_args import add_setting
from ezsr_live.model.defaults import DEVICE_CHOICES
from ezsr_live.settings import RecognitionSettings, settings_of

if TYPE_CHECKING:
    from ezsr_live.model.recognizer import RecognizerConfig

log = logging.getLogger(__name__)

RECOGNITION = {s.name: s for s in settings_of(RecognitionSettings)}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--model", default=None,
                   help="open_clip architecture, e.g. ViT-B-32, ViT-B-16, ViT-L-14 (default: the best model of "
                        "weights/registry.json whose weights are present, else the bundled demo model)")
    g.add_argument("--pretrained", default=None,
                   help="open_clip pretrained tag (e.g. openai; downloaded into open_clip's cache on first use), "
                        "a checkpoint file, or '' for random weights (default with --model: openai)")
    g.add_argument("--event-weights", metavar="PATH",
                   help="distilled event encoder: our .safetensors (+ .json sidecar, which names its model) or "
                        "any of the eight official EZSR-*.pt files (the file name selects architecture, text tower "
                        "and window); without it the raw CLIP tower runs on event frames (poor accuracy)")
    g.add_argument("--weights", metavar="NAME",
                   help="a configuration from weights/registry.json (sets --model, --pretrained, --event-weights; "
                        "checks the file's sha256)")
    g.add_argument("--model-config", metavar="JSON", help="extra open_clip architecture config (file or folder)")
    g.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    g.add_argument("--no-cuda-graph", action="store_true",
                   help="CUDA: run eagerly instead of replaying a captured graph for single frames")
    add_setting(g, RECOGNITION["threads"])

    v = parser.add_argument_group("vocabulary")
    v.add_argument("--labels", default=None,
                   help="built-in set (imagenet, caltech101, cifar10), a file (one label per line), or 'cat,dog,car' "
                        "(default: the registered model's own vocabulary, else imagenet)")
    v.add_argument("--templates", default=None,
                   help="prompt templates: openai (CLIP's 80), short (7), photo (1) or a file with {} "
                        "(default: the registered model's own, else openai)")
    add_setting(v, RECOGNITION["top_k"])

    k = parser.add_argument_group("k-NN translation")
    k.add_argument("--knn-pool", metavar="PATH", help="pool built by 'ezsr pool build' with the same --model")
    for name in ("knn_k", "knn_tau", "knn_alpha"):
        add_setting(k, RECOGNITION[name])


def model_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`ezsr_live.model.factory.resolve_config` that the
    options describe."""
    return dict(
        weights=args.weights, model=args.model, pretrained=args.pretrained, event_weights=args.event_weights,
        model_config=args.model_config, device=args.device, cuda_graph=not args.no_cuda_graph,
        threads=args.threads, labels=args.labels, templates=args.templates, top_k=args.top_k,
        knn_pool=args.knn_pool, knn_k=args.knn_k, knn_tau=args.knn_tau, knn_alpha=args.knn_alpha,
    )


def config_from_args(args: argparse.Namespace) -> RecognizerConfig:
    """The recogniser the options describe (:func:`ezsr_live.model.factory.resolve_config`)."""
    from ezsr_live.model.factory import resolve_config

    return resolve_config(**model_options_from_args(args))
