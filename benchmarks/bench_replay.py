"""Replay benchmark: pacing accuracy at 1x and end-to-end throughput at --speed max.

End to end = decode in the source thread -> bounded PacketBuffer -> consumer thread.
Peer: reading the same file with no thread and no pacing (the decoder alone).
Usage: python benchmarks/bench_replay.py [--events 50000000] [--paced-s 10]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import scratch_dir, tiled_raw  # noqa: E402

from ezsr_live.recipes.demo.moving_disc import DEMO_GEOMETRY, moving_disc_events  # noqa: E402
from ezsr_live.drivers import open_reader, open_writer  # noqa: E402
from ezsr_live.drivers.sources import open_source  # noqa: E402
from ezsr_live.runtime.handover import PacketBuffer, SourceThread  # noqa: E402


def max_speed(path: Path) -> tuple[float, int, int]:
    source = open_source(str(path), speed=None)
    n = 0
    start = time.perf_counter()
    with SourceThread(source, PacketBuffer(max_events=64 << 20)) as thread:
        for packet in thread:
            n += len(packet)
    wall = time.perf_counter() - start
    return n / wall / 1e6, n, thread.buffer.events_dropped


def decode_only(path: Path) -> float:
    n = 0
    start = time.perf_counter()
    for packet in open_reader(path):
        n += len(packet)
    return n / (time.perf_counter() - start) / 1e6


def paced(path: Path) -> tuple[float, float]:
    events = open_reader(path).read_all()
    span = (int(events["t"].max()) - int(events["t"][0])) / 1e6
    source = open_source(str(path), speed=1.0)
    start = time.perf_counter()
    n = sum(len(p) for p in source)
    wall = time.perf_counter() - start
    assert n == len(events)
    return span, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--paced-s", type=float, default=10.0, help="length of the paced recording")
    args = parser.parse_args()
    tmp = scratch_dir()
    try:
        big = tiled_raw("evt3_gen41_1280x720.raw", args.events, tmp / "big_evt3.raw")
        decode = decode_only(big)
        mev_s, n, dropped = max_speed(big)
        paced_file = tmp / "paced.raw"
        with open_writer(paced_file, DEMO_GEOMETRY) as w:
            w.write(moving_disc_events(duration_us=int(args.paced_s * 1e6)))
        span, wall = paced(paced_file)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    error_pct = 100.0 * (wall - span) / span
    print(f"{'measure':44s} {'value':>12s}")
    print(f"{'decode only (EVT3, no thread), Mev/s':44s} {decode:12.1f}")
    print(f"{'--speed max end to end, Mev/s':44s} {mev_s:12.1f}")
    print(f"{'  ratio end-to-end / decode only':44s} {mev_s / decode:12.2f}")
    print(f"{'  events delivered / dropped':44s} {n:>8d}/{dropped}")
    print(f"{'paced 1x: recording span, s':44s} {span:12.3f}")
    print(f"{'paced 1x: wall time, s':44s} {wall:12.3f}")
    print(f"{'paced 1x: error, %':44s} {error_pct:12.3f}")
    print(json.dumps({
        "max_speed_mev_s": round(mev_s, 1),
        "decode_only_mev_s": round(decode, 1),
        "paced_span_s": round(span, 3),
        "paced_wall_s": round(wall, 3),
        "paced_error_pct": round(error_pct, 3),
    }))


if __name__ == "__main__":
    main()
