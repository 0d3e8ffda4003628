"""``ezsr geometry SOURCE``: can this teacher and image set show EZSR's Lemma 1 failure?"""
from __future__ import annotations

import argparse
import json

from ezsr_live.cli import options as types
from ezsr_live.model.defaults import DEVICE_CHOICES

NAME = "geometry"
HELP = ("Geometry diagnostic of a CLIP teacher on a labelled image set: effective dimension, text class "
        "energy outside the image subspace, RGB zero-shot after centring, whitening and null-space noise.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="a k-NN pool built with labels ('ezsr pool build'), or a folder of class folders "
                             "of images (embedded here with the model's RGB tower)")
    parser.add_argument("--model", default=None, help="open_clip architecture (default: the registered model's)")
    parser.add_argument("--pretrained", default=None, help="open_clip tag or checkpoint file")
    parser.add_argument("--weights", metavar="NAME", help="take model, pretrained weights and templates from "
                                                          "this weights/registry.json entry")
    parser.add_argument("--model-config", metavar="JSON", help="extra open_clip architecture config")
    parser.add_argument("--templates", default=None, help="prompt templates (default: the registered model's, "
                                                          "else openai)")
    parser.add_argument("--device", default="cpu", choices=DEVICE_CHOICES)
    parser.add_argument("--variance", type=types.share, default=0.95,
                        help="image subspace: the principal directions holding this share of the variance")
    parser.add_argument("--noise-norm", type=types.non_negative, default=1.0,
                        help="norm of the random components added outside the image subspace (default: 1)")
    parser.add_argument("--seed", type=types.seed, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")


def _model(args: argparse.Namespace) -> tuple[str, str | None, str]:
    from ezsr_live.errors import ModelError
    from ezsr_live.model.registry import default_model, lookup, verify_pretrained

    if args.model_config:
        from ezsr_live.model.clip_loader import register_model_config

        register_model_config(args.model_config)
    if args.model is not None:
        return args.model, args.pretrained or None, args.templates or "openai"
    spec = lookup(args.weights) if args.weights else default_model()
    if spec is None:
        raise ModelError("no model: pass --model NAME [--pretrained TAG] or --weights NAME")
    pretrained = verify_pretrained(spec) if args.pretrained is None else (args.pretrained or None)
    return spec.base_model, pretrained, args.templates or spec.templates_arg or "openai"


def _pool_embeddings(source: str, identity: str):
    import numpy as np

    from ezsr_live.errors import EzsrError
    from ezsr_live.model.knn import open_pool

    pool = open_pool(source, identity)
    if pool.label_ids is None or not pool.meta.label_names:
        raise EzsrError(f"{source}: the pool has no labels (built with --no-labels?); the diagnostic needs classes")
    vectors = pool.reconstruct(np.arange(len(pool)))
    return vectors, np.asarray(pool.label_ids, dtype=np.int64), list(pool.meta.label_names)


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from ezsr_live.errors import EzsrError
    from ezsr_live.recipes.evaluation.geometry import diagnose
    from ezsr_live.model.clip_loader import load_clip
    from ezsr_live.model.knn import read_pool_meta
    from ezsr_live.model.vocabulary import Vocabulary

    source = Path(args.source)
    if not source.is_dir():
        raise EzsrError(f"{source}: not a pool or an image folder")
    model, pretrained, templates = _model(args)
    clip = load_clip(model, pretrained, args.device)
    try:
        read_pool_meta(source)
        is_pool = True
    except EzsrError:
        is_pool = False
    if is_pool:
        vectors, labels, names = _pool_embeddings(str(source), clip.identity)
    else:
        from ezsr_live.model.pool_builder import build_pool

        with tempfile.TemporaryDirectory(prefix="ezsr-geometry-") as tmp:
            build_pool(source, Path(tmp) / "pool", clip, workers=0, progress=False)
            vectors, labels, names = _pool_embeddings(str(Path(tmp) / "pool"), clip.identity)
    if len(names) < 2:
        raise EzsrError(f"{source}: {len(names)} class; the diagnostic needs at least two")
    text = Vocabulary(clip.encode_text, clip.identity, names, templates).matrix().numpy()
    try:
        report = diagnose(vectors, labels, text, variance=args.variance, noise_norm=args.noise_norm, seed=args.seed)
    except ValueError as exc:
        raise EzsrError(f"{source}: {exc}") from None
    if args.json:
        print(json.dumps({"model": clip.identity, "source": str(source), **report.to_json()}))
    else:
        print(f"{clip.identity} on {source}")
        print(report.describe())
    return 0
