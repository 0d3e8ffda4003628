"""Event-frame kernels: EZSR histogram throughput against numpy and dv-processing, and the
live window cut.

For each sensor size, 20 M uniformly random events (dv-processing's own generator, so
that dv's accumulators get a native ``dv.EventStore`` built outside the timed region;
our kernels and numpy get the very same events as an EVENT_DTYPE packet) go through:

* ours: :func:`ezsr_histogram` (counts, hot-pixel clip, normalisation, full 2 x H x W
  frame) and :func:`ezsr_model_input` (everything up to the 3 x 224 x 224 encoder input);
* numpy: the same EZSR histogram with ``np.bincount`` and with ``np.add.at`` counting;
* dv-processing: ``EdgeMapAccumulator`` and ``Accumulator`` (accept + generateFrame).

Everything runs on one thread; each figure is the best of a few runs, taken in rounds
that interleave the contenders. The window cut is
the time to copy the newest 15,000-event window out of a ring buffer holding 30 M events.
Numbers taken while other jobs share the machine are noisy.

Usage: python benchmarks/bench_kernels.py [--events N] [--repeats R]
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import time
from typing import Callable

import numpy as np

import dv_processing as dv
from ezsr_live.events import EVENT_DTYPE
from ezsr_live.kernels import ezsr_histogram, ezsr_model_input
from ezsr_live.runtime.ring import EventRingBuffer
from ezsr_live.windows import WindowSpec

SENSORS = [(1280, 720), (346, 260)]


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def numpy_ezsr_histogram(events: np.ndarray, width: int, height: int, use_add_at: bool) -> np.ndarray:
    """The EZSR histogram in plain numpy: what one would write without a kernel."""
    plane = width * height
    index = events["y"].astype(np.int64) * width + events["x"]
    index += (events["p"] == 0) * plane
    if use_add_at:
        counts = np.zeros(2 * plane, dtype=np.int64)
        np.add.at(counts, index, 1)
    else:
        counts = np.bincount(index, minlength=2 * plane)
    hist = counts.reshape(2, height, width).astype(np.float32)
    active = hist[hist > 0.1]
    if active.size == 0:
        return np.zeros_like(hist)
    clip = np.float32(np.quantile(active, 0.75))
    hist = np.minimum(hist, clip)
    return hist / (hist.max(axis=(1, 2), keepdims=True) + 1)


def random_events(width: int, height: int, n: int, seed: int) -> tuple[dv.EventStore, np.ndarray]:
    store = dv.data.generate.uniformEventsWithinTimeRange(0, datetime.timedelta(seconds=1), (width, height), n, seed)
    native = store.numpy()
    events = np.empty(len(native), dtype=EVENT_DTYPE)
    events["t"] = native["timestamp"]
    events["x"] = native["x"]
    events["y"] = native["y"]
    events["p"] = native["polarity"]
    return store, events


def bench_sensor(width: int, height: int, n: int, repeats: int) -> dict[str, float]:
    store, events = random_events(width, height, n, seed=width)
    geometry = (width, height)
    # compile (or load the cached kernels) outside the timed region
    ezsr_histogram(events[:1000], geometry)
    ezsr_model_input(events[:1000], geometry)
    edge_map = dv.EdgeMapAccumulator((width, height))
    accumulator = dv.Accumulator((width, height))

    def dv_run(acc) -> Callable[[], object]:
        def run() -> object:
            acc.accept(store)
            return acc.generateFrame()

        return run

    contenders: dict[str, tuple[Callable[[], object], int]] = {
        "ours: ezsr_histogram (2xHxW frame)": (lambda: ezsr_histogram(events, geometry), repeats),
        "ours: ezsr_model_input (3x224x224)": (lambda: ezsr_model_input(events, geometry), repeats),
        "numpy: bincount EZSR histogram": (lambda: numpy_ezsr_histogram(events, width, height, False), 1),
        "numpy: np.add.at EZSR histogram": (lambda: numpy_ezsr_histogram(events, width, height, True), 1),
        "dv: EdgeMapAccumulator": (dv_run(edge_map), repeats),
        "dv: Accumulator": (dv_run(accumulator), repeats),
    }
    seconds = {name: float("inf") for name in contenders}
    # rounds interleave the contenders, so that they all meet the same machine load
    for round_ in range(repeats):
        for name, (run, runs) in contenders.items():
            if round_ < runs:
                seconds[name] = min(seconds[name], best_seconds(run, 1))
    rates = {name: n / s / 1e6 for name, s in seconds.items()}
    ours = rates["ours: ezsr_histogram (2xHxW frame)"]
    print(f"\n{width}x{height}, {n:,} random events, one thread")
    print(f"{'kernel':40s} {'ms':>9s} {'Mev/s':>9s} {'ours x':>7s}")
    for name, s in seconds.items():
        print(f"{name:40s} {s * 1e3:9.1f} {rates[name]:9.1f} {ours / rates[name]:7.2f}")
    del store, events
    gc.collect()
    return {
        "hist_mev_s": ours,
        "model_input_mev_s": rates["ours: ezsr_model_input (3x224x224)"],
        "numpy_bincount_mev_s": rates["numpy: bincount EZSR histogram"],
        "numpy_add_at_mev_s": rates["numpy: np.add.at EZSR histogram"],
        "dv_edgemap_mev_s": rates["dv: EdgeMapAccumulator"],
        "dv_accumulator_mev_s": rates["dv: Accumulator"],
    }


def bench_window_cut(n_ring: int, window: int, cuts: int) -> dict[str, float]:
    ring = EventRingBuffer(n_ring)
    chunk = np.zeros(1 << 20, dtype=EVENT_DTYPE)
    chunk["t"] = np.arange(chunk.size)
    chunk["x"] = np.arange(chunk.size) % 1280
    chunk["y"] = np.arange(chunk.size) % 720
    pushed = 0
    push_start = time.perf_counter()
    while pushed < n_ring:
        ring.push(chunk)
        chunk["t"] += chunk.size
        pushed += chunk.size
    push_seconds = time.perf_counter() - push_start
    spec = WindowSpec.by_events(window)
    timings = []
    for _ in range(cuts):
        start = time.perf_counter()
        ring.newest(spec)
        timings.append(time.perf_counter() - start)
    timings_ms = np.asarray(timings) * 1e3
    time_spec = WindowSpec(duration_us=window)  # 1 event/us: the same number of events
    time_ms = np.median([best_seconds(lambda: ring.newest(time_spec), 1) for _ in range(cuts // 10)]) * 1e3
    print(f"\nring buffer of {len(ring):,} events ({ring.nbytes / 1e6:.0f} MB), newest {window:,}-event window")
    print(f"{'push (1 Mi-event packets)':40s} {pushed / push_seconds / 1e6:9.1f} Mev/s")
    print(f"{'cut by count: median':40s} {np.median(timings_ms):9.4f} ms")
    print(f"{'cut by count: 99th percentile':40s} {np.percentile(timings_ms, 99):9.4f} ms")
    print(f"{'cut by time (same span): median':40s} {time_ms:9.4f} ms")
    return {
        "window_cut_ms": float(np.median(timings_ms)),
        "window_cut_p99_ms": float(np.percentile(timings_ms, 99)),
        "window_cut_by_time_ms": float(time_ms),
        "ring_push_mev_s": pushed / push_seconds / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000, help="random events per sensor size")
    parser.add_argument("--repeats", type=int, default=5, help="runs per kernel (best is kept)")
    parser.add_argument("--ring-events", type=int, default=30_000_000)
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()} (kernels single-threaded); load average {os.getloadavg()[0]:.1f}")
    per_sensor = {f"{w}x{h}": bench_sensor(w, h, args.events, args.repeats) for w, h in SENSORS}
    cut = bench_window_cut(args.ring_events, 15_000, 1_000)

    main_sensor = per_sensor["1280x720"]
    figures: dict[str, float] = {
        "hist_mev_s": main_sensor["hist_mev_s"],
        "hist_vs_dv_edgemap": main_sensor["hist_mev_s"] / main_sensor["dv_edgemap_mev_s"],
        "hist_vs_dv_accumulator": main_sensor["hist_mev_s"] / main_sensor["dv_accumulator_mev_s"],
        "hist_vs_numpy": main_sensor["hist_mev_s"]
        / max(main_sensor["numpy_bincount_mev_s"], main_sensor["numpy_add_at_mev_s"]),
        "hist_vs_numpy_bincount": main_sensor["hist_mev_s"] / main_sensor["numpy_bincount_mev_s"],
    }
    for sensor, values in per_sensor.items():
        for key, value in values.items():
            figures[f"{key.removesuffix('_mev_s')}_{sensor}_mev_s"] = value
    figures.update(cut)
    print()
    print(json.dumps({key: round(value, 4) for key, value in figures.items()}))


if __name__ == "__main__":
    main()
