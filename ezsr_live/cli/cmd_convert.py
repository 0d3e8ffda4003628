"""`ezsr convert IN OUT`: stream any readable recording into any writable format."""
from __future__ import annotations

import argparse
import logging

from ezsr_live.cli.options import add_geometry_option
from ezsr_live.drivers.convert import convert
from ezsr_live.drivers.reorder import DEFAULT_REORDER_WINDOW_US
from ezsr_live.cli import options as types

NAME = "convert"
HELP = "Convert a recording between formats (chosen by extension), streaming in constant memory."
#: a cold Numba cache compiles a decoder and an encoder: 1.1-1.6 s from RAW to .npz or .aedat4,
#: 7.7-9.1 s from .aedat4 to RAW, measured on 2 cores
COMPILE_S = (1, 9)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="recording to read")
    parser.add_argument("output", help="recording to write (.raw = EVT 3.0 unless --evt2, .aedat4, .npz)")
    add_geometry_option(parser)
    parser.add_argument(
        "--reorder-window-us",
        type=types.reorder_window_us,
        default=DEFAULT_REORDER_WINDOW_US,
        metavar="US",
        help="for formats that need monotonic time (.aedat4): sort stably within this "
        f"much sensor time (default {DEFAULT_REORDER_WINDOW_US} µs)",
    )


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
