"""`ezsr-live`: the live application.

Sources stage: any ``--camera``/``--replay`` source runs in its own thread behind a
bounded drop-oldest buffer; ``--headless`` prints one JSON line of stream statistics
per second and a final summary (the recogniser and the window come with later issues).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from typing import Sequence

from ezsr_live.cli.common import EXIT_USAGE, run_guarded
from ezsr_live.cli.options import add_source_options, source_spec_and_options
from ezsr_live.drivers.sources import open_source
from ezsr_live.handover import SourceThread
from ezsr_live.recorder import Recorder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ezsr-live",
        description="Real-time zero-shot object recognition for event cameras.",
    )
    add_source_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--headless", action="store_true", help="no window: print JSON lines on stdout")
    out.add_argument("--record", metavar="FILE", help="also record what the source delivers (.aedat4, .raw, .npz)")
    out.add_argument("--duration-s", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages on stderr")
    return parser


def _run_headless(args: argparse.Namespace) -> int:
    spec, options = source_spec_and_options(args)
    source = open_source(spec, **options)
    recorder = Recorder(args.record, source.geometry, source.info) if args.record else None
    thread = SourceThread(source, tap=recorder)
    stop = threading.Event()
    timer = threading.Timer(args.duration_s, stop.set) if args.duration_s is not None else None
    n_total = 0
    n_interval = 0
    t_last = None
    start = last_report = time.monotonic()
    try:
        thread.start()
        if timer:
            timer.start()
        while not stop.is_set():
            packet = thread.buffer.get(timeout=0.05)
            if packet is not None:
                n_total += len(packet)
                n_interval += len(packet)
                t_last = int(packet["t"][-1])
            elif thread.buffer.drained:
                break
            now = time.monotonic()
            if now - last_report >= 1.0:
                print(json.dumps({
                    "t_us": t_last,
                    "events": n_interval,
                    "event_rate": round(n_interval / (now - last_report), 1),
                    "events_dropped": thread.buffer.events_dropped,
                    "packets_dropped": thread.buffer.packets_dropped,
                }), flush=True)
                n_interval, last_report = 0, now
    finally:
        if timer:
            timer.cancel()
        thread.stop()
        if recorder:
            recorder.close()
    if thread.error is not None:
        raise thread.error
    wall = time.monotonic() - start
    print(json.dumps({
        "source": spec,
        "geometry": str(source.geometry),
        "status": source.status,
        "n_events": n_total,
        "wall_s": round(wall, 3),
        "events_dropped": thread.buffer.events_dropped,
        "packets_dropped": thread.buffer.packets_dropped,
        "recorded": recorder.n_written if recorder else None,
    }), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="ezsr-live: %(message)s", stream=sys.stderr
    )
    if not (args.camera or args.replay):
        parser.print_usage(sys.stderr)
        print("ezsr-live: give a source: --camera CAMERA or --replay FILE", file=sys.stderr)
        return EXIT_USAGE
    if not args.headless:
        print("ezsr-live: the live window is not available yet; use --headless", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM ends the run like Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return run_guarded("ezsr-live", lambda: _run_headless(args))


if __name__ == "__main__":
    sys.exit(main())
