"""Command-line options shared by several commands (defined once)."""
from __future__ import annotations

import argparse

from ezsr_live.events import Geometry
from ezsr_live.cli.settings_args import add_settings, range_type
from ezsr_live.runtime.live import SourceOptions, lossless_for
from ezsr_live.settings import MAX_WINDOW_MS, RING_EVENTS, ReplaySettings, float_range, int_range, range_of, settings_of


#: argparse types for the toolbox's numeric options, all through the shared validator
#: (ezsr_live.settings.Range): finite, of the right kind, within bounds that keep what
#: the option sizes (memory, threads, timers) within what the machine can do
positive_int = range_type(int_range(1))
positive_float = range_type(float_range(0.0, lo_open=True))
#: optimiser steps, intervals, sample counts
count = range_type(int_range(1, 1_000_000_000))
#: samples per batch: each one is allocated at once
batch_size = range_type(int_range(1, 65_536))
#: worker processes (0: in the main process)
workers = range_type(int_range(0, 256))
#: CPU threads (the live recogniser's --threads range)
threads = range_type(range_of("threads"))
#: random seeds (numpy's and torch's generators take them all)
seed = range_type(int_range(0, 2**32 - 1))
#: a fraction in [0, 1]
fraction = range_type(float_range(0.0, 1.0))
#: a rate or a scale >= 0
non_negative = range_type(float_range(0.0, 1e9))
#: a time in ms > 0, at most the longest live window
milliseconds = range_type(float_range(0.0, MAX_WINDOW_MS, lo_open=True, unit="ms"))
#: a wall-clock duration in seconds (ezsr record --duration-s: the same as ezsr-live's)
duration_s = range_type(range_of("duration_s"))
#: ezsr eval's windows: the live window's bounds
window_events = range_type(range_of("window_events"))
length_jitter = range_type(int_range(0, RING_EVENTS, unit="events"))
#: ezsr pool info --check: k as the live k-NN's; queries a pool can answer in a while
knn_k = range_type(range_of("knn_k"))
queries = range_type(int_range(1, 1_000_000))
#: a share in (0, 1] (variance kept, recall targeted)
share = range_type(float_range(0.0, 1.0, lo_open=True))
non_negative_count = range_type(int_range(0, 1_000_000_000))
#: ezsr synth
degrees = range_type(float_range(0.0, 360.0, unit="degrees"))
frames = range_type(int_range(2, 1000))  # rendered frames: at least 2 to interpolate between
threshold = range_type(float_range(0.0, 10.0, lo_open=True, unit="log units"))
gap_ms = range_type(float_range(0.0, MAX_WINDOW_MS, unit="ms"))
#: ezsr synth in seconds: how long the camera moves per image, and the pause between images
motion_s = range_type(float_range(0.0, MAX_WINDOW_MS / 1000, lo_open=True, unit="s"))
gap_s = range_type(float_range(0.0, MAX_WINDOW_MS / 1000, unit="s"))
#: ezsr train
accum = range_type(int_range(1, 4096))
learning_rate = range_type(float_range(0.0, 10.0, lo_open=True))
logit_scale = range_type(float_range(1.0, 100.0))  # CLIP caps its learnt scale at 100
gain = range_type(float_range(0.0, 100.0, lo_open=True))
clip_grad = range_type(float_range(None, 1e9))  # <= 0: off
#: ezsr convert: sensor time held back to reorder (the events of that span stay in memory)
reorder_window_us = range_type(int_range(0, 60_000_000, unit="µs"))


def parse_geometry(text: str) -> Geometry:
    """An argparse type: ``WxH``."""
    try:
        return Geometry.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_geometry_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                        help: str = "sensor size, for recordings whose header does not say (e.g. 640x480)") -> None:
    """``--geometry WxH``: the one name of the sensor size on every command."""
    parser.add_argument("--geometry", type=parse_geometry, default=None, metavar="WxH", help=help)


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
    # several streams is ezsr-live's run; ezsr record/convert read one source whole
    add_settings(group, settings_of(ReplaySettings), skip=() if several else ("handover",))
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
