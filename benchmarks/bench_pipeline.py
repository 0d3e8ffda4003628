"""Pipeline benchmark: a >= 50 M-event recording through source thread → ring → worker.

For each model (random weights): replay at --speed max (latest wins), at --speed max
lossless (every window recognised, the replay held back: windows/s) and at 1x; result
rate, latency (last event of the window available → result published) p50/p99, and the
process's CPU utilisation. With --device cuda: fp16 + CUDA-graph recogniser and exact on-device k-NN
over a 1.28 M-vector pool (target: ViT-B/16 + k-NN p99 <= 2 ms, >= 500 results/s).
A soak run (--soak-s 600) replays a looped recording at 1x and reports RSS growth and
p99 latency per minute.

Peer: the bare recogniser call on the same frame (no threads, no windows), so the
pipeline's own overhead shows as the ratio between the two.

Usage: python benchmarks/bench_pipeline.py [--events 50000000] [--models tiny,ViT-B-16]
       [--device cpu|cuda] [--soak-s 0]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _data import scratch_dir, tiled_raw  # noqa: E402
from bench_model import clustered_vectors, random_vocabulary  # noqa: E402

from ezsr_live.drivers.sources import open_source  # noqa: E402
from ezsr_live.kernels import ezsr_model_input  # noqa: E402
from ezsr_live.model import knn as knn_mod  # noqa: E402
from ezsr_live.model.clip_loader import configure_cpu_threads, load_clip, register_model_config  # noqa: E402
from ezsr_live.model.event_encoder import make_event_encoder  # noqa: E402
from ezsr_live.model.recognizer import Recognizer  # noqa: E402
from ezsr_live.runtime.pipeline import Pipeline  # noqa: E402
from ezsr_live.runtime.settings import RuntimeSettings  # noqa: E402
from ezsr_live.windows import WindowSpec  # noqa: E402

TINY_CONFIG = HERE.parent / "ezsr_live" / "model" / "configs" / "ezsr-test-tiny.json"


def make_recognizer(name: str, device: str, knn_size: int) -> Recognizer:
    model = "ezsr-test-tiny" if name == "tiny" else name
    if name == "tiny":
        register_model_config(TINY_CONFIG)
    precision = "fp16" if device == "cuda" else "fp32"
    clip = load_clip(model, None, device, precision)
    encoder, _ = make_event_encoder(clip.model, model, None, clip.image_size)
    rec = Recognizer(encoder, random_vocabulary(1000, clip.embed_dim), logit_scale=clip.logit_scale,
                     input_size=clip.image_size, device=device, model_id=clip.identity, top_k=5)
    if knn_size:
        pool = clustered_vectors(knn_size, clip.embed_dim, device=device)
        rec.set_knn(knn_mod.DeviceKnn(pool.to(rec.dtype) if device == "cuda" else pool, k=16))
    return rec


def bare_call_ms(rec: Recognizer, path: Path, iters: int) -> float:
    """The recogniser alone on one 15k-event frame (includes the histogram kernel)."""
    source = open_source(str(path), speed=None)
    events = next(iter(source))[:15000]
    geometry = source.geometry
    times = []
    for i in range(iters + 3):
        t0 = time.perf_counter()
        frame = ezsr_model_input(events, geometry, size=rec.input_size)
        rec.recognize(torch.from_numpy(frame)[None])
        if rec.device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    source.stop()
    return float(np.median(times))


def run(rec: Recognizer, path: Path, speed: float | None, max_s: float, loop: bool = False,
        lossless: bool = False) -> dict:
    source = open_source(str(path), speed=speed, loop=loop)
    pipeline = Pipeline(source, rec, RuntimeSettings(window=WindowSpec.by_events(15000)), lossless=lossless)
    latencies = []
    cpu0, wall0 = os.times(), time.perf_counter()
    first = None
    with pipeline:
        for result in pipeline.iter_results(timeout=0.05):
            first = first or time.perf_counter()
            latencies.append(result.latency_ms)
            if time.perf_counter() - wall0 > max_s:
                break
    end = time.perf_counter()
    wall = end - wall0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / wall
    lat = np.asarray(latencies[1:] or [float("nan")])  # the first includes warm-up
    steady = (len(latencies) - 1) / (end - first) if first and end > first else 0.0
    return {
        "results": len(latencies),
        "results_per_s": steady,  # from the first result on: start-up is not the pipeline's rate
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "cpu_util": cpu,
        "wall_s": wall,
        "windows_skipped": pipeline.windows_skipped,
    }


def soak(rec: Recognizer, path: Path, seconds: float) -> dict:
    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    source = open_source(str(path), speed=1.0, loop=True)
    pipeline = Pipeline(source, rec, RuntimeSettings(window=WindowSpec.by_events(15000)))
    start = time.perf_counter()
    minute, per_minute, lat = 0, [], []
    rss_start = None
    with pipeline:
        for result in pipeline.iter_results(timeout=0.05):
            lat.append(result.latency_ms)
            now = time.perf_counter() - start
            if rss_start is None and now > 5:
                rss_start = rss_mb()  # after warm-up allocations
            if now >= 60 * (minute + 1) or now >= seconds:
                per_minute.append((minute, float(np.percentile(lat, 99)), rss_mb()))
                minute, lat = minute + 1, []
            if now >= seconds:
                break
    for m, p99, rss in per_minute:
        print(f"  soak minute {m:2d}: p99 {p99:7.2f} ms  rss {rss:8.1f} MB")
    return {"soak_s": seconds, "soak_rss_growth_mb": per_minute[-1][2] - (rss_start or per_minute[0][2]),
            "soak_p99_first_ms": per_minute[0][1], "soak_p99_last_ms": per_minute[-1][1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--models", default="tiny,ViT-B-16")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--knn-size", type=int, default=None, help="pool vectors (default: 1.28M on cuda, none on cpu)")
    ap.add_argument("--max-s", type=float, default=8.0, help="cap per run (seconds)")
    ap.add_argument("--soak-s", type=float, default=0.0, help="also soak the first model at 1x for this long")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="Python's GIL switch interval (ezsr-live sets 0.5; Python's default is 5)")
    args = ap.parse_args()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    if args.device == "cpu":
        configure_cpu_threads(args.threads)
    knn_size = args.knn_size if args.knn_size is not None else (1_280_000 if args.device == "cuda" else 0)
    tmp = scratch_dir()
    rows, headline = [], {}
    try:
        path = tiled_raw("evt3_gen41_1280x720.raw", args.events, tmp / "big.raw")
        for name in args.models.split(","):
            rec = make_recognizer(name, args.device, knn_size)
            bare = bare_call_ms(rec, path, 20 if args.device == "cuda" or name == "tiny" else 5)
            tag = name.lower().replace("-", "").replace("/", "")
            for mode, speed, lossless in (("max", None, False), ("lossless", None, True), ("1x", 1.0, False)):
                # at 1x the 50 M events last ~2 s: loop them for the whole measuring time
                r = run(rec, path, speed, args.max_s, loop=speed is not None, lossless=lossless)
                rows.append((name, mode, bare, r))
                headline[f"{tag}_{mode}_results_per_s"] = round(r["results_per_s"], 1)
                headline[f"{tag}_{mode}_p99_ms"] = round(r["p99_ms"], 3)
                if lossless:
                    # every window, as fast as recognition allows: against the bare call's rate
                    headline[f"{tag}_lossless_windows_per_s"] = round(r["results_per_s"], 1)
                    headline[f"{tag}_lossless_vs_bare_ratio"] = round(r["results_per_s"] * bare / 1e3, 3)
                if name == args.models.split(",")[0]:
                    if mode == "max":
                        headline["max_speed_results_per_s"] = round(r["results_per_s"], 1)
                    elif mode == "lossless":
                        headline["lossless_windows_per_s"] = round(r["results_per_s"], 1)
                        headline["lossless_windows_skipped"] = r["windows_skipped"]
                    else:
                        headline["latency_p50_ms"] = round(r["p50_ms"], 3)
                        headline["latency_p99_ms"] = round(r["p99_ms"], 3)
            if args.soak_s and name == args.models.split(",")[0]:
                headline.update(soak(rec, path, args.soak_s))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"device {args.device}, k-NN pool {knn_size:,} vectors, windows of 15,000 events, {args.events:,} events, "
          f"GIL switch interval {sys.getswitchinterval() * 1e3:g} ms")
    print(f"{'model':10s} {'speed':8s} {'bare ms':>8s} {'res/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'p50/bare':>8s} {'cpu':>5s} {'skipped':>8s}")
    for name, speed, bare, r in rows:
        print(f"{name:10s} {speed:8s} {bare:8.2f} {r['results_per_s']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['p50_ms'] / bare:8.2f} {r['cpu_util']:5.2f} {r['windows_skipped']:8d}")
    headline["device"] = args.device
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
