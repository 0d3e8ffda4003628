"""``ezsr eval --dataset D --root DIR``: zero-shot accuracy of an event encoder."""
from __future__ import annotations

import argparse

from ezsr_live.cli import options as types
from ezsr_live.settings import DEFAULT_WINDOW_EVENTS

NAME = "eval"
HELP = "Zero-shot top-1/top-5 accuracy on an event dataset, with and without k-NN translation."
#: a cold Numba cache compiles a decoder and the representation kernels: 9.5-10.5 s on
#: N-MNIST, measured on 2 cores
COMPILE_S = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ezsr_live.recipes.evaluation.datasets import DATASETS
    from ezsr_live.cli.model_options import add_model_arguments

    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, metavar="DIR",
                        help="one split's folder of class folders, as the release unpacks it "
                             "(N-MNIST/Test, Caltech101, N_Imagenet/extracted_val, ...)")
    parser.add_argument("--list", metavar="FILE", help="only the samples listed (relative paths, one per line)")
    parser.add_argument("--class-names", metavar="FILE",
                        help="'FOLDER NAME' lines, or for N-ImageNet the 1000 synsets in ImageNet order "
                             "or the devkit's mapping.txt")
    parser.add_argument("--window", default="events", choices=("events", "whole"),
                        help="events: --window-events from a seeded random start (official); whole: every event")
    parser.add_argument("--window-events", type=types.window_events, default=None, metavar="N",
                        help="events per window (default: the window the model was trained on, from "
                             f"weights/registry.json when it counts events, else {DEFAULT_WINDOW_EVENTS:,} as the "
                             "official models)")
    parser.add_argument("--length-jitter", type=types.length_jitter, default=0,
                        help="draw the window length within +-N events (the official N-ImageNet script uses 2000)")
    parser.add_argument("--seed", type=types.seed, default=0)
    parser.add_argument("--batch-size", type=types.batch_size, default=32)
    parser.add_argument("--workers", type=types.workers, default=0, metavar="N",
                        help="DataLoader processes decoding files while the model runs (default: 0, in the "
                             "main process); under torchrun each rank scores its share of the samples")
    parser.add_argument("--limit", type=types.count, metavar="N", help="a seeded random subset of N samples")
    parser.add_argument("-o", "--output", metavar="DIR", help="write per_class.csv, confusion PNGs, summary.json")
    parser.add_argument("--no-progress", action="store_true")
    add_model_arguments(parser)


def _provenance(args: argparse.Namespace, rcfg, recognizer, pool_path: str | None, pool_meta, config) -> dict:
    """What produced the numbers: summary.json carries it beside them."""
    import datetime

    import open_clip
    import torch

    from ezsr_live import __version__
    from ezsr_live.fileio import sha256_file

    weights = rcfg.event_weights
    if weights is None and rcfg.registry_name:
        from ezsr_live.model.registry import lookup

        path = lookup(rcfg.registry_name).event_weights_path
        weights = str(path) if path is not None else None
    pool = None
    if pool_path:
        pool = {"path": str(pool_path), "model": pool_meta.model, "vectors": int(pool_meta.count),
                "k": args.knn_k, "tau": args.knn_tau, "alpha": args.knn_alpha}
    return {
        "ezsr_live": __version__, "torch": torch.__version__, "open_clip": open_clip.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "registry_name": rcfg.registry_name, "model": rcfg.model, "pretrained": rcfg.pretrained,
        "model_identity": recognizer.model_id,
        "event_weights": weights, "event_weights_sha256": sha256_file(weights) if weights else None,
        "knn_pool": pool,
        "window": {"mode": config.window, "events": config.window_events, "length_jitter": config.length_jitter},
        "seed": config.seed, "limit": config.limit, "batch_size": config.batch_size,
        "workers": args.workers, "world_size": _world_size(),
    }


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def run(args: argparse.Namespace) -> int:
    from ezsr_live.model.clip_loader import resolve_device
    from ezsr_live.recipes.train.distributed import setup, teardown

    env, device = setup(resolve_device(args.device))
    try:
        return _run(args, str(device), env.is_main)
    finally:
        teardown()


def _run(args: argparse.Namespace, device: str, is_main: bool) -> int:
    from ezsr_live.errors import EzsrError
    from ezsr_live.recipes.evaluation import EvalConfig, class_text_matrix, discover, evaluate
    from ezsr_live.model import knn as knn_mod
    from ezsr_live.cli.model_options import config_from_args
    from ezsr_live.model.recognizer import Recognizer

    if args.labels is not None:
        # the dataset's classes are the vocabulary: a --labels list would silently score nothing
        raise EzsrError("--labels does not apply to eval: the dataset's classes are the vocabulary; "
                        "rename them with --class-names FILE ('FOLDER NAME' lines)")
    if args.workers < 0:
        raise EzsrError(f"--workers must be >= 0, got {args.workers}")
    eval_set = discover(args.dataset, args.root, list_file=args.list, class_names_file=args.class_names)
    rcfg = config_from_args(args)
    window_events = args.window_events
    if window_events is None:
        window_events = int(rcfg.window[1]) if rcfg.window and rcfg.window[0] == "events" else DEFAULT_WINDOW_EVENTS
    try:
        config = EvalConfig(args.window, window_events, args.length_jitter, args.seed, max(1, args.batch_size),
                            args.limit, not args.no_progress and is_main)
    except ValueError as exc:
        raise EzsrError(str(exc)) from None
    rcfg.labels = list(dict.fromkeys(eval_set.class_names))
    rcfg.device = device
    # the pool the live window would use (--knn-pool, else the registered model's): scored
    # both with and without it below, so "knn" is what ezsr-live shows
    pool_path = rcfg.knn_pool
    rcfg.knn_pool = None
    recognizer = Recognizer.from_config(rcfg)
    vocab = recognizer.vocabulary
    text = class_text_matrix(eval_set.class_names, lambda names: vocab.matrix()[[vocab.labels.index(n) for n in names]])
    text = text.to(recognizer.device)
    translator = pool_meta = None
    if pool_path:
        translator = knn_mod.KnnTranslator.open(pool_path, recognizer.model_id, text.shape[1],
                                                k=args.knn_k, tau=args.knn_tau, alpha=args.knn_alpha)
        pool_meta = translator.pool.meta
        if recognizer.device.type == "cuda":
            translator = knn_mod.DeviceKnn.from_translator(translator, recognizer.device, recognizer.dtype)
    provenance = _provenance(args, rcfg, recognizer, pool_path, pool_meta, config) if is_main and args.output else None
    report = evaluate(eval_set, recognizer.embed, text, recognizer.input_size, config, knn=translator,
                      out_dir=args.output, workers=args.workers, provenance=provenance)
    if not report.is_main:
        return 0
    print(f"{args.dataset}: {report.n_samples} samples, {len(eval_set.class_names)} classes, "
          f"window {config.window_events:,} events"
          + (f", {len(report.unreadable)} unreadable" if report.unreadable else ""))
    if pool_path:
        origin = "--knn-pool" if args.knn_pool else f"the registered model's ({rcfg.registry_name})"
        print(f"  k-NN pool: {pool_path} ({origin}); 'knn' is what ezsr-live shows")
    for name, s in report.variants.items():
        print(f"  {name:>5}: top-1 {100 * s.top1_acc:6.2f} %   top-5 {100 * s.top5_acc:6.2f} %")
    for key, path in report.files.items():
        print(f"  {key}: {path}")
    return 0
