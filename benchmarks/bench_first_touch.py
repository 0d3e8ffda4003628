"""First touch of a whole-file read's buffer: huge pages against 4 kB pages, on memory
freed just now and on memory freed long enough ago for a hypervisor to have taken it back.

It is the measurement behind :func:`ezsr_live.events.whole_file_buffer`'s choice
(:mod:`ezsr_live.host_memory`): where the kernel reports free pages to the host, a huge
page is carved from a block the host discarded and faults there too. Interleaved rounds;
each round frees a buffer of the same size, waits ``0`` or ``--pause-s`` seconds,
allocates with or without numpy's huge-page hint and writes one byte per 4 kB page.
Last line: one JSON object.
Usage: python benchmarks/bench_first_touch.py [--rounds 3] [--events 20000000] [--pause-s 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from ezsr_live import host_memory
from ezsr_live.events import EVENT_DTYPE

PAGE = 4096


def first_touch_s(n_bytes: int, hint: bool, pause_s: float) -> float:
    multiarray = np._core.multiarray
    previous = multiarray._set_madvise_hugepage(hint)
    try:
        freed = np.empty(n_bytes, np.uint8)
        freed[::PAGE] = 1
        del freed
        time.sleep(pause_s)
        fresh = np.empty(n_bytes, np.uint8)
    finally:
        multiarray._set_madvise_hugepage(previous)
    t0 = time.perf_counter()
    fresh[::PAGE] = 1
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--pause-s", type=float, default=3.0, help="how long 'long ago' is (reporting waits ~2 s)")
    args = ap.parse_args()
    n_bytes = args.events * EVENT_DTYPE.itemsize
    cases = {(hint, pause): [] for pause in (0.0, args.pause_s) for hint in (True, False)}
    for _ in range(args.rounds):
        for (hint, pause), times in cases.items():
            times.append(first_touch_s(n_bytes, hint, pause))
    reports = host_memory.free_pages_go_to_host()
    print(f"{args.events:,} events ({n_bytes / 1e6:.0f} MB); free page reporting to a host: {reports}")
    print(f"{'memory freed':<14} {'huge pages':>11} {'4 kB pages':>11} {'huge / 4 kB':>12}")
    figures: dict[str, float | bool] = {"free_page_reporting": reports}
    for pause, name in ((0.0, "just_freed"), (args.pause_s, "freed_long_ago")):
        huge, small = (statistics.median(cases[(h, pause)]) for h in (True, False))
        print(f"{name:<14} {huge:>10.3f}s {small:>10.3f}s {huge / small:>11.2f}x")
        figures.update({f"{name}_huge_s": round(huge, 4), f"{name}_small_s": round(small, 4),
                        f"{name}_huge_vs_small_ratio": round(huge / small, 3)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
