"""`ezsr convert IN OUT`: stream any readable recording into any writable format."""
from __future__ import annotations

import argparse
import logging
import os

from ezsr_live.cli.options import add_geometry_option
from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.errors import FormatError
from ezsr_live.reorder import BoundedReorder

NAME = "convert"
HELP = "Convert a recording between formats (chosen by extension), streaming in constant memory."

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="recording to read")
    parser.add_argument("output", help="recording to write (.raw = EVT 3.0 unless --evt2, .aedat4, .npz)")
    add_geometry_option(parser)
    parser.add_argument(
        "--reorder-window-us",
        type=int,
        default=50_000,
        metavar="US",
        help="for formats that need monotonic time (.aedat4): sort stably within this "
        "much sensor time (default 50000 µs)",
    )


def convert(
    src: str, dst: str, *, geometry=None, reorder_window_us: int = 50_000, **writer_options: object
) -> dict[str, int]:
    """Convert ``src`` into ``dst``; the output appears only when complete (atomic rename).

    Returns counters: events written, events moved by reordering, late events re-timed.
    """
    if os.path.exists(dst) and os.path.exists(src) and os.path.samefile(src, dst):
        raise FormatError(dst, "output is the input file")
    reader = open_reader(src, geometry=geometry)
    directory, base = os.path.split(os.path.abspath(dst))
    tmp = os.path.join(directory, f".partial-{os.getpid()}-{base}")
    writer = open_writer(tmp, reader.geometry, info=reader.info, **writer_options)
    reorder = BoundedReorder(reorder_window_us) if getattr(writer, "requires_monotonic", False) else None
    ok = False
    try:
        with reader:
            for chunk in reader.iter_chunks():
                events = reorder.push(chunk.events) if reorder else chunk.events
                if len(events):
                    writer.write(events)
                if len(chunk.triggers):
                    writer.write_triggers(chunk.triggers)
            if reorder:
                rest = reorder.flush()
                if len(rest):
                    writer.write(rest)
        writer.close()
        os.replace(tmp, dst)
        ok = True
    finally:
        if not ok:
            try:
                writer.close()
            except Exception:  # the original error matters more than a failed cleanup
                pass
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {
        "events_written": writer.n_written,
        "reordered_events": reorder.moved_events if reorder else 0,
        "late_events": reorder.late_events if reorder else 0,
    }


def run(args: argparse.Namespace) -> int:
    counts = convert(args.input, args.output, geometry=args.geometry, reorder_window_us=args.reorder_window_us)
    if counts["reordered_events"]:
        log.warning(
            "%s is not time-ordered; %d events were reordered stably within a %d µs window "
            "because %s needs monotonic time",
            args.input,
            counts["reordered_events"],
            args.reorder_window_us,
            args.output,
        )
    if counts["late_events"]:
        log.warning(
            "%d events arrived more than %d µs late and were re-timed to keep time monotonic",
            counts["late_events"],
            args.reorder_window_us,
        )
    log.info("wrote %d events to %s", counts["events_written"], args.output)
    return 0
