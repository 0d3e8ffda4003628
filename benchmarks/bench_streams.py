"""Several streams sharing one encoder: results/s and p99 latency for 1, 2, 4, 8 streams.

Each stream replays the same recording (by default the bundled moving-disc recording,
346x260 at about 60 kev/s, in windows of 2,000 events: a DAVIS-like camera whose
decoding costs little; ``--recording evt3`` tiles the 1280x720 EVT 3.0 sample to
``--events`` instead, in windows of 15,000) in its own pipeline (source thread, ring, worker, frames on its own geometry); all of them share
one recogniser through :class:`~ezsr_live.runtime.batching.SharedRecognizer`, which
runs the windows pending at once in one forward pass. Two loads:

* ``latest`` - every stream a camera-like 1x replay, looped: the recogniser is the
  bottleneck and each stream takes its newest window (results/s over all streams);
* ``lossless`` - every stream a --speed max replay recognised window by window
  (windows/s over all streams).

Peer, interleaved with each run: the same streams calling the recogniser one window
at a time (unbatched, one lock), so ``batched_vs_unbatched`` shows what batching buys;
``ratio_vs_1`` is the throughput against one stream.

Usage: python benchmarks/bench_streams.py [--streams 1,2,4,8] [--models tiny] [--device cpu|cuda]
       [--modes latest,lossless] [--seconds 5] [--rounds 1] [--knn-size 0] [--recording disc|evt3]
GPU:   python benchmarks/bench_streams.py --device cuda --models ViT-B-16 --streams 1,2,4,8,16 \
           --knn-size 1280000 --recording evt3
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _data import scratch_dir, tiled_raw  # noqa: E402
from bench_pipeline import make_recognizer  # noqa: E402

from ezsr_live.drivers.sources import open_source  # noqa: E402
from ezsr_live.model.clip_loader import configure_cpu_threads  # noqa: E402
from ezsr_live.runtime.batching import SharedRecognizer, iter_stream_results  # noqa: E402
from ezsr_live.runtime.pipeline import Pipeline  # noqa: E402
from ezsr_live.runtime.settings import RuntimeSettings  # noqa: E402
from ezsr_live.windows import WindowSpec  # noqa: E402


def run(recognizer, path: Path, n_streams: int, mode: str, seconds: float, window_events: int) -> dict:
    lossless = mode == "lossless"
    pipelines = [Pipeline(open_source(str(path), speed=None if lossless else 1.0, loop=True), recognizer,
                          RuntimeSettings(window=WindowSpec.by_events(window_events)), lossless=lossless, stream=i)
                 for i in range(n_streams)]
    latencies: list[float] = []
    for p in pipelines:
        p.start()
    try:
        start = first = None
        n = 0
        start = time.perf_counter()
        for result in iter_stream_results(pipelines, timeout=0.05, idle=True):
            now = time.perf_counter()
            if now - start > seconds:
                break
            if result is None:
                continue
            if first is None:
                first, n = now, 0  # the first result carries the warm-up: rates count after it
                continue
            n += 1
            latencies.append(result.latency_ms)
        end = time.perf_counter()
    finally:
        for p in pipelines:
            p.stop()
    lat = np.asarray(latencies or [float("nan")])
    return {"results_per_s": n / (end - first) if first and end > first else 0.0,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "skipped": sum(p.windows_skipped for p in pipelines),
            "mean_batch": getattr(recognizer, "mean_batch", 1.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", default="1,2,4,8")
    ap.add_argument("--models", default="tiny", help="comma list: tiny (ezsr-test-tiny), ViT-B-16, ...")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--modes", default="latest,lossless")
    ap.add_argument("--recording", choices=("disc", "evt3"), default="disc")
    ap.add_argument("--events", type=int, default=3_000_000, help="--recording evt3: events of the tiled file")
    ap.add_argument("--window-events", type=int, default=None, help="default: 2,000 (disc), 15,000 (evt3)")
    ap.add_argument("--seconds", type=float, default=5.0, help="measuring time per run")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved batched/unbatched rounds (median)")
    ap.add_argument("--knn-size", type=int, default=0, help="k-NN pool vectors (random, clustered)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.device == "cpu":
        configure_cpu_threads(args.threads)
    counts = [int(v) for v in args.streams.split(",")]
    if args.window_events is None:
        args.window_events = 2_000 if args.recording == "disc" else 15_000
    modes = args.modes.split(",")
    tmp = scratch_dir()
    headline: dict = {}
    table = []
    try:
        path = (HERE.parent / "weights" / "demo" / "moving_disc.raw" if args.recording == "disc"
                else tiled_raw("evt3_gen41_1280x720.raw", args.events, tmp / "streams.raw"))
        for name in args.models.split(","):
            rec = make_recognizer(name, args.device, args.knn_size)
            tag = name.lower().replace("-", "").replace("/", "")
            for mode in modes:
                base = None
                for n in counts:
                    batched, unbatched = [], []
                    for _ in range(args.rounds):  # A B A B: the machine's load hits both alike
                        batched.append(run(SharedRecognizer(rec), path, n, mode, args.seconds, args.window_events))
                        unbatched.append(run(rec, path, n, mode, args.seconds, args.window_events))
                    b = {k: float(np.median([r[k] for r in batched])) for k in batched[0]}
                    u = {k: float(np.median([r[k] for r in unbatched])) for k in unbatched[0]}
                    base = base if base is not None else b["results_per_s"]
                    ratio = b["results_per_s"] / base if base else 0.0
                    vs_peer = b["results_per_s"] / u["results_per_s"] if u["results_per_s"] else 0.0
                    table.append((name, mode, n, b, u, ratio, vs_peer))
                    key = f"{tag}_{mode}_{n}_streams"
                    headline[f"{key}_results_per_s"] = round(b["results_per_s"], 1)
                    headline[f"{key}_p99_ms"] = round(b["p99_ms"], 2)
                    headline[f"{key}_ratio_vs_1_stream"] = round(ratio, 3)
                    headline[f"{key}_batched_vs_unbatched_ratio"] = round(vs_peer, 3)
                    headline[f"{key}_mean_batch"] = round(b["mean_batch"], 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"device {args.device}, windows of {args.window_events:,} events, recording {path.name}, "
          f"{args.seconds:g} s per run, {args.rounds} round(s), k-NN pool {args.knn_size:,}")
    print(f"{'model':9s} {'mode':8s} {'streams':>7s} {'res/s':>8s} {'vs 1':>6s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'batch':>6s} {'skipped':>8s} {'unbatched res/s':>16s} {'batched/unb':>11s}")
    for name, mode, n, b, u, ratio, vs_peer in table:
        print(f"{name:9s} {mode:8s} {n:7d} {b['results_per_s']:8.1f} {ratio:6.2f} {b['p50_ms']:8.1f} "
              f"{b['p99_ms']:8.1f} {b['mean_batch']:6.2f} {int(b['skipped']):8d} {u['results_per_s']:16.1f} "
              f"{vs_peer:11.2f}")
    headline["device"] = args.device
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
