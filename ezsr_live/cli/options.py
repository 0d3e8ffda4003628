"""Command-line options shared by several commands (defined once)."""
from __future__ import annotations

import argparse

from ezsr_live.events import Geometry
from ezsr_live.runtime.live import HANDOVERS, SourceOptions, lossless_for


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


class _AppendSource(argparse._AppendAction):
    """``--camera``/``--replay`` may repeat, one stream each; ``source_order`` keeps the
    order they were given in (the streams' indices). Sources on the command line replace
    those of a config file, as every other option does."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        order = list(getattr(namespace, "source_order", None) or [])
        order.append((self.dest, values))
        namespace.source_order = order
        setattr(namespace, self.dest, [v for dest, v in order if dest == self.dest])


def add_source_options(parser: argparse.ArgumentParser, *, required: bool = False, several: bool = False) -> None:
    """``--camera`` / ``--replay`` and the options of each kind of source; with ``several``
    both may repeat and mix (one stream each, sharing one recogniser)."""
    group = parser.add_argument_group("source")
    what = group if several else group.add_mutually_exclusive_group(required=required)
    repeat = {"action": _AppendSource} if several else {}
    again = " (repeat for several streams)" if several else ""
    what.add_argument(
        "--camera",
        metavar="CAMERA",
        help="live source: davis346, davis, dvxplorer, dvs128 or a DV serial number (dv-processing); "
        "prophesee, evk4 or prophesee:SERIAL (Metavision SDK); tcp://HOST:PORT or unix:///PATH (DV network stream)"
        + again, **repeat,
    )
    what.add_argument("--replay", metavar="FILE", **repeat,
                      help="play a recording (.raw, .aedat4, .dat, .npz, .bin, .aedat)" + again)
    if several:
        group.add_argument(
            "--handover", choices=HANDOVERS, default="auto",
            help="how windows reach the recogniser: 'latest' recognises the newest window whenever it is free and "
                 "skips the others (what a camera needs); 'lossless' recognises every consecutive window and holds "
                 "the replay back meanwhile (replays only); 'auto' (default): lossless for replays at --speed max, "
                 "latest otherwise")
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
    """The source that the parsed ``--camera``/``--replay`` options describe (the first,
    where they repeat)."""
    return sources_from_args(args)[0]


def _given(value: object) -> list[str]:
    # a single option, a repeated one, or one from a config file (a string or a list)
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]  # type: ignore[attr-defined]


def sources_from_args(args: argparse.Namespace) -> list[SourceOptions]:
    """Every stream the parsed ``--camera``/``--replay`` options describe, in the order given."""
    order = getattr(args, "source_order", None) or (
        [("camera", v) for v in _given(args.camera)] + [("replay", v) for v in _given(args.replay)])
    handover = getattr(args, "handover", "auto")
    return [SourceOptions(spec=spec, geometry=args.geometry, reconnect=args.reconnect, replay=kind == "replay",
                          speed=args.speed, loop=args.loop, start_us=args.start_us, duration_us=args.duration_us,
                          lossless=lossless_for(handover, replay=kind == "replay", speed=args.speed))
            for kind, spec in order]
