"""``ezsr pool``: build and inspect k-NN translation pools of CLIP image embeddings."""
from __future__ import annotations

import argparse
import time

from ezsr_live.cli import options as types
from ezsr_live.model.defaults import DEVICE_CHOICES
from ezsr_live.settings import KNN_K
from ezsr_live.cli.teacher import add_teacher_arguments, teacher_from_args

NAME = "pool"
HELP = "build or inspect a k-NN pool of CLIP image embeddings (EZSR's k-NN translation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="pool_command", required=True, metavar="ACTION")

    b = sub.add_parser("build", help="embed a folder tree of images into a pool",
                       description="Embed every image under IMAGE_DIR with the CLIP image tower into a "
                                   "pool folder. Resumable: rerun the same command after an interruption. "
                                   "The first folder level under IMAGE_DIR is kept as the images' label.")
    b.add_argument("image_dir", metavar="IMAGE_DIR")
    b.add_argument("-o", "--output", required=True, metavar="POOL", help="pool folder to write")
    add_teacher_arguments(b, "ViT-B-32", "openai")
    b.add_argument("--model-config", metavar="JSON", help="extra open_clip architecture config file or folder")
    b.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    b.add_argument("--batch-size", type=types.batch_size, default=64)
    b.add_argument("--workers", type=types.workers, default=2, help="image decoding processes (default: 2)")
    b.add_argument("--index", default="auto", choices=("auto", "flat", "ivf", "hnsw"),
                   help="auto: exact up to 200k vectors, IVF above")
    b.add_argument("--target-recall", type=types.share, default=0.95,
                   help="approximate indexes are tuned to this recall@16 (default: 0.95)")
    b.add_argument("--no-labels", action="store_true", help="do not keep folder names as labels")
    b.add_argument("--overwrite", action="store_true", help="replace an existing pool")
    b.add_argument("--no-progress", action="store_true")

    i = sub.add_parser("info", help="describe a pool", description="Describe a pool; with --check, "
                       "measure its recall@k against exact search and its query time.")
    i.add_argument("pool", metavar="POOL")
    i.add_argument("--check", action="store_true", help="measure recall@k against exact search")
    i.add_argument("--queries", type=types.queries, default=200, help="queries for --check (default: 200)")
    i.add_argument("-k", type=types.knn_k, default=KNN_K, help=f"k for --check (default: {KNN_K})")


def _build(args: argparse.Namespace) -> int:
    from ezsr_live.model.clip_loader import load_clip, register_model_config
    from ezsr_live.model.pool_builder import build_pool

    if args.model_config:
        register_model_config(args.model_config)
    model, pretrained = teacher_from_args(args)
    clip = load_clip(model, pretrained, args.device)
    pool = build_pool(args.image_dir, args.output, clip, batch_size=args.batch_size, workers=args.workers,
                      kind=args.index, with_labels=not args.no_labels, overwrite=args.overwrite,
                      progress=not args.no_progress, target_recall=args.target_recall)
    m = pool.meta
    print(f"{args.output}: {m.count} vectors x {m.embed_dim}-d, model {m.model}, index {m.index_type}, "
          f"{len(m.label_names)} labels")
    return 0


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    from ezsr_live.model import knn

    pool = knn.open_pool(args.pool)
    m = pool.meta
    rows = [("pool", str(pool.path)), ("model", m.model), ("vectors", f"{m.count} x {m.embed_dim}-d"),
            ("index", m.index_type + (f" (search depth {m.search_depth})" if m.search_depth else "")),
            ("source", m.source or "-"), ("labels", str(len(m.label_names))), ("created", m.created or "-")]
    if m.tuned_recall is not None:
        rows.append(("tuned recall@16", f"{m.tuned_recall:.3f}"))
    for key, value in m.extra.items():
        rows.append((key.replace("_", " "), str(value)))
    if args.check:
        vectors = pool.vectors()
        k = min(args.k, len(vectors))
        queries = knn.probe_queries(vectors, args.queries)
        truth = knn.exact_neighbours(vectors, queries, k)
        t0 = time.perf_counter()
        found = np.stack([pool.search(q[None], k)[1][0] for q in queries])  # one by one, as live
        per_query_ms = (time.perf_counter() - t0) * 1e3 / len(queries)
        rows.append((f"recall@{k} vs exact", f"{knn.recall_at_k(found, truth):.4f}"))
        rows.append(("query time", f"{per_query_ms:.3f} ms (batch 1, mean of {len(queries)})"))
    width = max(len(r[0]) for r in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def run(args: argparse.Namespace) -> int:
    return _build(args) if args.pool_command == "build" else _info(args)
