"""Benchmark of the recognition engine: encoder + scoring + k-NN latency, k-NN indexes.

CPU (default)::

    python benchmarks/bench_model.py

  * batch-1 latency (p50/p99) of the recogniser (encoder + scoring over 1,000 labels,
    with and without k-NN translation) for ViT-B-32 and ViT-B-16 with random weights;
  * k-NN query latency and recall@16 for pools of 100k and 1.28M synthetic 512-d
    vectors (clustered: 100 super-clusters x 10 clusters, like classes of real
    embeddings) with the exact IndexFlatIP and the approximate index (IVF-Flat, or HNSW
    with --approx hnsw), plus build times. Target: approximate at 1.28M <= 2 ms/query
    with recall@16 >= 0.95.

CUDA (``--device cuda``, needs no faiss): the same recogniser in fp16, eager versus
CUDA-graph replay at batch 1, throughput at batch 32, and exact fp16 matmul + top-16
k-NN over the 1.28M pool on the device (its recall@16 against fp32 exact search).

Nothing is downloaded or written. Sizes shrink with --knn-sizes / --quick. The last
line of output is one JSON object of headline figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ezsr_live.model import knn  # noqa: E402
from ezsr_live.model.clip_loader import configure_cpu_threads, load_clip  # noqa: E402
from ezsr_live.model.recognizer import Recognizer  # noqa: E402
from ezsr_live.model.vocabulary import FixedVocabulary  # noqa: E402

log = logging.getLogger("bench_model")
DIM = 512
K = 16


# ----------------------------------------------------------------------------------
def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    a = np.asarray(samples_ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def time_calls(fn: Callable[[], Any], iters: int, warmup: int, sync: bool = False) -> list[float]:
    for _ in range(warmup):
        fn()
    if sync:
        torch.cuda.synchronize()
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


NOISE = 2.5


def clustered_vectors(n: int, dim: int = DIM, seed: int = 0, device: str = "cpu",
                      noise: float | None = None) -> torch.Tensor:
    """Unit vectors around 1,000 cluster centres ("classes") grouped in 100 super-clusters.

    Centres of one super-cluster have cosine ~0.5 with each other; a point is its
    centre plus isotropic noise of ``noise`` (default 2.5) times the centre's norm, so
    its cosine with its centre is ~0.37 and two points of one class have cosine ~0.14
    against ~0.07 across sibling classes, with a spread of ~0.04: neighbourhoods overlap,
    as CLIP image embeddings of related ImageNet classes do, rather than separating
    cleanly. (At noise 1.5 an IVF index reaches recall@16 0.998 probing 4 lists of 2048;
    at 2.5 it needs 8 for 0.965.)"""
    noise = NOISE if noise is None else noise
    g = torch.Generator(device=device).manual_seed(12345)  # same centres for every call
    supers = torch.nn.functional.normalize(torch.randn(100, dim, generator=g, device=device), dim=-1)
    siblings = torch.nn.functional.normalize(torch.randn(1000, dim, generator=g, device=device), dim=-1)
    centres = torch.nn.functional.normalize(supers.repeat_interleave(10, 0) + siblings, dim=-1)
    g.manual_seed(seed)
    out = torch.empty(n, dim, device=device)
    for start in range(0, n, 131072):  # in chunks: bounded temporary memory
        m = min(131072, n - start)
        which = torch.randint(0, 1000, (m,), generator=g, device=device)
        jitter = torch.randn(m, dim, generator=g, device=device)
        jitter *= noise / jitter.norm(dim=1, keepdim=True)
        out[start:start + m] = torch.nn.functional.normalize(centres[which] + jitter, dim=-1)
    return out


def random_vocabulary(n: int = 1000, dim: int = DIM) -> FixedVocabulary:
    g = torch.Generator().manual_seed(7)
    return FixedVocabulary([f"label {i}" for i in range(n)], torch.randn(n, dim, generator=g))


def guarded(results: dict[str, Any], name: str, fn: Callable[[], None]) -> None:
    """Run one section; a failure is reported and recorded, the others still run."""
    try:
        fn()
    except Exception as exc:  # a benchmark reports everything it can
        traceback.print_exc()
        results[f"{name}_error"] = f"{type(exc).__name__}: {exc}"


# ----------------------------------------------------------------------------------
# CPU k-NN
def bench_knn_cpu(size: int, approx: str, queries: int, noise: float, results: dict[str, Any], tag: str,
                  table: list[str]) -> knn.Pool:
    import faiss

    t0 = time.perf_counter()
    data = clustered_vectors(size + 2 * queries, seed=size, noise=noise).numpy()
    xb, tune_q, eval_q = data[:size], data[size:size + queries], data[size + queries:]
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    flat = knn.build_index(xb, "flat")
    flat_build = time.perf_counter() - t0
    truth_eval = flat.search(eval_q, K)[1]
    truth_tune = flat.search(tune_q, K)[1]
    exact_ms = time_calls(lambda it=iter(eval_q): flat.search(next(it)[None], K), min(50, queries - 5), 3)
    exact_p50, exact_p99 = percentiles(exact_ms)

    kind = approx if size > 1 else "flat"
    t0 = time.perf_counter()
    index = knn.build_index(xb, kind)
    build_s = time.perf_counter() - t0
    depth, tuned = knn.tune_search_depth(index, tune_q, truth_tune, 0.95)
    knn.set_search_depth(index, depth)
    found = np.stack([index.search(q[None], K)[1][0] for q in eval_q])
    recall = knn.recall_at_k(found, truth_eval)
    approx_ms = time_calls(lambda it=iter(np.concatenate([eval_q, eval_q])): index.search(next(it)[None], K),
                           queries, 5)
    approx_p50, approx_p99 = percentiles(approx_ms)
    table.append(f"{size:>9,d}  exact flat   {exact_p50:8.3f} {exact_p99:8.3f}  recall@16 1.000   "
                 f"build {flat_build:6.1f} s")
    table.append(f"{'':>9}  {kind:<5} d={depth!s:<4} {approx_p50:8.3f} {approx_p99:8.3f}  recall@16 "
                 f"{recall:.3f}   build {build_s:6.1f} s (data {gen_s:.1f} s, {faiss.omp_get_max_threads()} threads)")
    results.update({f"knn_{tag}_exact_ms": round(exact_p50, 3), f"knn_{tag}_approx_ms": round(approx_p50, 3),
                    f"knn_{tag}_approx_recall16": round(recall, 4), f"knn_{tag}_approx_build_s": round(build_s, 1),
                    f"knn_{tag}_approx_kind": kind, f"knn_{tag}_approx_depth": depth})
    del flat
    meta = knn.PoolMeta(model="synthetic", embed_dim=DIM, count=size, index_type=kind, search_depth=depth)
    return knn.Pool(Path(f"<synthetic {size}>"), index, meta, None)


# ----------------------------------------------------------------------------------
def bench_models_cpu(models: list[str], iters: int, pool: knn.Pool | None, results: dict[str, Any],
                     table: list[str]) -> None:
    vocab = random_vocabulary()
    for name in models:
        torch.manual_seed(0)
        clip = load_clip(name, None, "cpu", "fp32")
        rec = Recognizer(clip.model.visual, vocab, logit_scale=100.0, input_size=clip.image_size, device="cpu")
        x = torch.randn(1, 3, clip.image_size, clip.image_size)
        p50, p99 = percentiles(time_calls(lambda: rec.recognize(x), iters, 3))
        key = name.lower().replace("-", "").replace("vit", "vit")
        results[f"{key}_cpu_p50_ms"] = round(p50, 2)
        results[f"{key}_cpu_p99_ms"] = round(p99, 2)
        table.append(f"{name:<9} {'encoder + scoring':<26} {p50:8.2f} {p99:8.2f}")
        if pool is not None:
            rec.set_knn(knn.KnnTranslator(pool))
            p50k, p99k = percentiles(time_calls(lambda: rec.recognize(x), iters, 3))
            results[f"{key}_cpu_knn_p50_ms"] = round(p50k, 2)
            results[f"{key}_cpu_knn_p99_ms"] = round(p99k, 2)
            chain = f"+ k-NN ({len(pool):,d}, {pool.meta.index_type})"
            table.append(f"{name:<9} {chain:<26} {p50k:8.2f} {p99k:8.2f}")
        del rec, clip


# ----------------------------------------------------------------------------------
def bench_cuda(models: list[str], iters: int, pool_size: int, noise: float, results: dict[str, Any],
               table: list[str]) -> None:
    dev = torch.device("cuda")
    results["cuda_device"] = torch.cuda.get_device_name(dev)
    pool_holder: dict[str, Any] = {}

    def knn_section() -> None:
        pool32 = clustered_vectors(pool_size, device="cuda", noise=noise)
        pool16 = pool32.half()
        q = clustered_vectors(200, seed=pool_size + 1, device="cuda", noise=noise)
        truth = torch.topk(q @ pool32.T, K, dim=-1).indices.cpu().numpy()
        found = torch.topk(q.half() @ pool16.T, K, dim=-1).indices.cpu().numpy()
        recall = knn.recall_at_k(found, truth)
        dk = knn.DeviceKnn(pool16, k=K)
        one = q[:1].clone()
        p50, p99 = percentiles(time_calls(lambda: dk(one), iters, 10, sync=True))
        results.update({"knn_1m_cuda_exact_ms": round(p50, 3), "knn_1m_cuda_fp16_recall16": round(recall, 4)})
        table.append(f"k-NN exact fp16 matmul+top16, {pool_size:,d} x {DIM}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
                     f"recall@16 vs fp32 {recall:.4f}")
        del pool32
        pool_holder["knn"] = dk

    guarded(results, "knn_cuda", knn_section)
    vocab = random_vocabulary()
    for name in models:
        key = name.lower().replace("-", "")

        def model_section(name: str = name, key: str = key) -> None:
            torch.manual_seed(0)
            clip = load_clip(name, None, "cuda", "fp16")
            x1 = torch.randn(1, 3, clip.image_size, clip.image_size, device=dev)
            x32 = torch.randn(32, 3, clip.image_size, clip.image_size, device=dev)
            for with_knn in (False, True):
                if with_knn and "knn" not in pool_holder:
                    continue
                suffix = "_knn" if with_knn else ""
                knn_obj = pool_holder.get("knn") if with_knn else None
                for graph in (False, True):
                    rec = Recognizer(clip.model.visual, vocab, logit_scale=100.0, input_size=clip.image_size,
                                     device=dev, knn=knn_obj, cuda_graph=graph)
                    p50, p99 = percentiles(time_calls(lambda: rec.recognize(x1), iters, 10, sync=True))
                    mode = "graph" if graph else "eager"
                    results[f"{key}_cuda_{mode}{suffix}_p50_ms"] = round(p50, 3)
                    results[f"{key}_cuda_{mode}{suffix}_p99_ms"] = round(p99, 3)
                    table.append(f"{name:<9} batch 1 {mode:<5} {'+ k-NN' if with_knn else '      '}  "
                                 f"p50 {p50:8.3f} ms  p99 {p99:8.3f} ms")
                    if not graph:
                        n = max(5, iters // 4)
                        ms = time_calls(lambda: rec.recognize(x32), n, 3, sync=True)
                        fps = 32 * 1e3 / float(np.median(ms))
                        results[f"{key}_cuda_b32{suffix}_fps"] = round(fps, 1)
                        table.append(f"{name:<9} batch 32 eager {'+ k-NN' if with_knn else '      '} "
                                     f"{fps:10.1f} frames/s")
                    del rec
            del clip
            torch.cuda.empty_cache()

        guarded(results, key, model_section)


# ----------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--models", default="ViT-B-32,ViT-B-16", help="open_clip architectures (random weights)")
    ap.add_argument("--iters", type=int, default=None, help="timed calls per case (default: 30 cpu, 200 cuda)")
    ap.add_argument("--knn-sizes", default="100000,1280000", help="pool sizes (the largest is reported as 1m)")
    ap.add_argument("--approx", choices=("ivf", "hnsw"), default="ivf", help="approximate index (CPU)")
    ap.add_argument("--queries", type=int, default=200, help="k-NN queries for recall and latency")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch/faiss CPU threads (default: the engine's default, all cores but one)")
    ap.add_argument("--noise", type=float, default=NOISE,
                    help=f"synthetic data: noise norm relative to the class centre (default {NOISE}; larger is harder)")
    ap.add_argument("--quick", action="store_true", help="small sizes, few iterations: a smoke run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

    models = [m for m in args.models.split(",") if m]
    sizes = sorted(int(s) for s in args.knn_sizes.split(",") if s)
    if args.quick:
        sizes = sorted({min(s, 50_000) for s in sizes})
    results: dict[str, Any] = {"device": args.device, "torch": torch.__version__, "synthetic_noise": args.noise}
    table: list[str] = []

    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("no CUDA device", file=sys.stderr)
            return 1
        iters = args.iters or (20 if args.quick else 200)
        bench_cuda(models, iters, sizes[-1], args.noise, results, table)
        print("\n".join(["", f"== recogniser on {results.get('cuda_device')} (fp16) =="] + table))
        print(json.dumps(results))
        return 0

    threads = configure_cpu_threads(args.threads)
    import faiss

    faiss.omp_set_num_threads(threads)
    results["threads"] = threads
    iters = args.iters or (5 if args.quick else 30)
    knn_table: list[str] = []
    pools: dict[int, knn.Pool] = {}
    for size in sizes:
        tag = "1m" if size >= 1_000_000 else f"{size // 1000}k"

        def section(size: int = size, tag: str = tag) -> None:
            pools[size] = bench_knn_cpu(size, args.approx, args.queries, args.noise, results, tag, knn_table)

        guarded(results, f"knn_{tag}", section)
        for s in list(pools)[:-1]:  # keep only the largest pool for the recogniser runs
            del pools[s]
    pool = pools[max(pools)] if pools else None
    model_table: list[str] = []
    guarded(results, "models", lambda: bench_models_cpu(models, iters, pool, results, model_table))

    print(f"\n== recogniser, batch 1, CPU ({threads} threads, 1,000 labels) ==")
    print(f"{'model':<9} {'chain':<26} {'p50 ms':>8} {'p99 ms':>8}")
    print("\n".join(model_table))
    print(f"\n== k-NN, one 512-d query, top-{K} ==")
    print(f"{'vectors':>9}  {'index':<12} {'p50 ms':>8} {'p99 ms':>8}")
    print("\n".join(knn_table))
    print("(timings on a shared machine are noisy)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
