"""Command-line options shared by several commands (defined once)."""
from __future__ import annotations

import argparse

from ezsr_live.events import Geometry
from ezsr_live.runtime.live import SourceOptions


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _geometry(text: str) -> Geometry:
    try:
        return Geometry.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_geometry_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--geometry",
        type=_geometry,
        default=None,
        metavar="WxH",
        help="sensor size, for recordings whose header does not say (e.g. 640x480)",
    )


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "inf", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0 (or 'max')")
    return value


def add_source_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--camera`` / ``--replay`` and the options of each kind of source."""
    group = parser.add_argument_group("source")
    what = group.add_mutually_exclusive_group(required=required)
    what.add_argument(
        "--camera",
        metavar="CAMERA",
        help="live source: davis346, davis, dvxplorer, dvs128 or a DV serial number (dv-processing); "
        "prophesee, evk4 or prophesee:SERIAL (Metavision SDK); tcp://HOST:PORT or unix:///PATH (DV network stream)",
    )
    what.add_argument("--replay", metavar="FILE", help="play a recording (.raw, .aedat4, .dat, .npz, .bin, .aedat)")
    group.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X",
        help="replay speed: 1.0 = the recording's own clock (default), 2 = twice as fast, 'max' = as fast as possible",
    )
    group.add_argument("--loop", action="store_true", help="replay: start again at the end")
    group.add_argument("--start-us", type=int, default=0, metavar="US", help="replay: skip this much time at the start")
    group.add_argument("--duration-us", type=int, default=None, metavar="US", help="replay: play only this much time")
    group.add_argument(
        "--reconnect", action="store_true", help="network streams: reconnect with back-off when the peer goes away"
    )
    add_geometry_option(group)


def source_options_from_args(args: argparse.Namespace) -> SourceOptions:
    """The source that the parsed ``--camera``/``--replay`` options describe."""
    return SourceOptions(spec=args.camera if args.camera else args.replay, geometry=args.geometry,
                         reconnect=args.reconnect, replay=bool(args.replay), speed=args.speed, loop=args.loop,
                         start_us=args.start_us, duration_us=args.duration_us)
