"""The two per-packet engine additions of the window's research tools, against numpy:

* the ROI crop (:func:`ezsr_live.kernels.roi.crop_events`, run on every recognised
  window when a region of interest is set) against a numpy boolean mask + shift;
* the ON/OFF rate counter (:class:`ezsr_live.runtime.rates.EventRateCounter`, run on
  every packet in the source thread) against ``np.bincount`` of the same bins.

Events: the 1280x720 EVT 3.0 sample (219,596 real events), tiled to N events with
increasing time. Rounds interleave the contenders; each figure is the best round.

Usage: python benchmarks/bench_roi_rates.py [--samples DIR] [--events N] [--rounds R]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ezsr_live.drivers import open_reader
from ezsr_live.events import Roi
from ezsr_live.kernels.roi import crop_events
from ezsr_live.runtime.rates import EventRateCounter

ROOT = Path(__file__).resolve().parents[1]


def _events(samples: Path, n: int) -> np.ndarray:
    with open_reader(samples / "evt3_gen41_1280x720.raw") as reader:
        base = np.concatenate(list(reader))
    base = base[np.argsort(base["t"], kind="stable")]
    span = int(base["t"][-1] - base["t"][0]) + 1
    reps = -(-n // len(base))
    tiles = []
    for k in range(reps):
        tile = base.copy()
        tile["t"] += k * span
        tiles.append(tile)
    return np.concatenate(tiles)[:n]


def _numpy_crop(events: np.ndarray, roi: Roi) -> np.ndarray:
    x, y = events["x"], events["y"]
    inside = (x >= roi.x) & (x < roi.x + roi.width) & (y >= roi.y) & (y < roi.y + roi.height)
    out = events[inside]
    out["x"] -= roi.x
    out["y"] -= roi.y
    return out


def _numpy_rates(events: np.ndarray, bin_us: int) -> np.ndarray:
    bins = events["t"] // bin_us
    first = bins[0]
    on = np.bincount(bins[events["p"] != 0] - first)
    off = np.bincount(bins[events["p"] == 0] - first)
    return np.stack([np.pad(on, (0, max(0, len(off) - len(on)))), np.pad(off, (0, max(0, len(on) - len(off))))])


def _best(fn, rounds: list[float]) -> None:
    start = time.perf_counter()
    fn()
    rounds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default=os.environ.get("EZSR_SAMPLES", str(ROOT.parent / "shared" / "samples")))
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = _events(Path(args.samples), args.events)
    roi = Roi(400, 180, 420, 330)
    packet = 65_536
    assert np.array_equal(crop_events(events, roi), _numpy_crop(events, roi))  # same result (and warm)
    counter = EventRateCounter(bin_us=50_000, span_us=10_000_000)
    counter.add(events[:10])
    times: dict[str, list[float]] = {"crop_ours": [], "crop_numpy": [], "rates_ours": [], "rates_numpy": []}

    def rates_ours() -> None:
        counter.clear()
        for start in range(0, len(events), packet):
            counter.add(events[start:start + packet])

    def rates_numpy() -> None:
        for start in range(0, len(events), packet):
            _numpy_rates(events[start:start + packet], 50_000)

    for _ in range(args.rounds):
        _best(lambda: crop_events(events, roi), times["crop_ours"])
        _best(lambda: _numpy_crop(events, roi), times["crop_numpy"])
        _best(rates_ours, times["rates_ours"])
        _best(rates_numpy, times["rates_numpy"])
    best = {name: min(values) for name, values in times.items()}
    mev = {name: args.events / seconds / 1e6 for name, seconds in best.items()}
    for name in best:
        print(f"{name:12s} {mev[name]:8.1f} Mev/s")
    print(f"crop: ours / numpy = {mev['crop_ours'] / mev['crop_numpy']:.2f}x; "
          f"rates: ours / numpy = {mev['rates_ours'] / mev['rates_numpy']:.2f}x")
    print(json.dumps({"events": args.events, "packet_events": packet,
                      **{f"{name}_mev_per_s": round(value, 1) for name, value in mev.items()},
                      "crop_ratio_ours_to_numpy": round(mev["crop_ours"] / mev["crop_numpy"], 2),
                      "rates_ratio_ours_to_numpy": round(mev["rates_ours"] / mev["rates_numpy"], 2)}))


if __name__ == "__main__":
    main()
