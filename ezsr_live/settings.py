"""Every setting of a live run, declared once, with the validators every edge shares.

One frozen dataclass per concern (:class:`WindowSettings`, :class:`RecognitionSettings`,
:class:`ReplaySettings`, :class:`OutputSettings`). Each field carries a :class:`Setting`
in its metadata: type, default, bounds, unit, help, command-line flag, TOML key and the
GUI's step. What reads them:

* ``ezsr_live.cli.settings_args`` generates the ``ezsr-live`` options (and ``ezsr
  record --reconnect``) from them;
* ``ezsr_live.cli.config`` checks ``--config FILE.toml`` values with :meth:`Setting.check`;
* ``gui/controls.py`` takes its spin boxes' ranges and steps from them;
* :class:`ezsr_live.runtime.settings.RuntimeSettings` and ``Pipeline.update`` check
  every change with them; the recogniser and the replay take their defaults and checks
  from them.

Each default and bound is written here and nowhere else. :class:`Range` is also the
validator of the toolbox's numeric options (``ezsr pool info --queries`` ...).

To add a setting: a field with :func:`setting` in the concern it belongs to; the
option, the TOML key and the runtime check follow. See CONTRIBUTING.md.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np

from ezsr_live.errors import EzsrError


class SettingError(EzsrError, ValueError):
    """A value a setting (or a numeric option) does not accept; the message names the
    setting as the user wrote it (``--top-k``, ``config.toml: top-k``, ``top_k``).
    Also a ValueError, for callers that treat it as a bad argument."""


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def shown(value: object) -> str:
    """A refused value as the message shows it: ints with separators, the rest as
    repr, anything long cut (a refusal is one line)."""
    text = f"{value:,}" if type(value) is int else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Range:
    """The values a number may take: finite, of ``kind`` (int or float), within
    [lo, hi] (lo excluded with ``lo_open``; None: no bound on that side)."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    unit: str = ""

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        unit = f" ({self.unit})" if self.unit else ""
        if self.lo is not None and self.hi is not None:
            return f"{what}{unit} in {'(' if self.lo_open else '['}{_fmt(self.lo)}, {_fmt(self.hi)}]"
        if self.lo is not None:
            return f"{what}{unit} {'>' if self.lo_open else '>='} {_fmt(self.lo)}"
        if self.hi is not None:
            return f"{what}{unit} <= {_fmt(self.hi)}"
        return what + unit

    def accepts(self, value: object) -> bool:
        """True for a finite number of the right kind (bools are not numbers) within the bounds."""
        # numpy's scalars count (numbers.Integral/Real); bools do not, whatever Python says
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or value <= self.hi

    def check(self, value: object, name: str, what: str | None = None) -> Any:
        """``value`` as ``kind`` if accepted, else :class:`SettingError` naming ``name``
        (and saying ``what`` is accepted: the range's own description by default)."""
        if not self.accepts(value):
            raise SettingError(f"{name}: must be {what or self.describe()}, got {shown(value)}")
        return self.kind(value)

    def parse(self, text: str, name: str, what: str | None = None) -> Any:
        """A number from text (the command line), checked."""
        try:
            value: float = int(text) if self.kind is int else float(text)
        except ValueError:
            raise SettingError(f"{name}: must be {what or self.describe()}, got {shown(text)}") from None
        if not self.accepts(value):  # say what was typed, not what it parsed to
            raise SettingError(f"{name}: must be {what or self.describe()}, got {shown(text)}")
        return self.kind(value)


def int_range(lo: int | None = None, hi: int | None = None, unit: str = "") -> Range:
    return Range(int, lo, hi, unit=unit)


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, unit: str = "") -> Range:
    return Range(float, lo, hi, lo_open=lo_open, unit=unit)


@dataclass(frozen=True)
class Setting:
    """One setting: what it is, its default and bounds, and how each edge names it.

    ``kind`` is int, float, bool or str. Numbers have a :class:`Range`; strings may have
    ``choices``; ``words`` are texts that stand for values (``--speed max`` → None).
    ``optional``: None is a value ("not given": the model's own window, no limit).
    ``flag`` is the command-line option, ``toml`` the config key (both derived from the
    field name unless given); ``step``/``decimals`` are the GUI's spin-box step.
    """

    default: Any
    help: str
    kind: type = str
    range: Range | None = None
    choices: tuple[str, ...] | None = None
    words: Mapping[str, Any] = field(default_factory=dict)
    optional: bool = False
    metavar: str | None = None
    flag: str = ""
    toml: str = ""
    step: float | None = None
    decimals: int = 0
    name: str = ""  # the field's name, filled in by settings_of()

    def _named(self, name: str) -> "Setting":
        return dataclasses.replace(self, name=name, flag=self.flag or "--" + name.replace("_", "-"),
                                   toml=self.toml or name.replace("_", "-"))

    def describe(self) -> str:
        parts = [self.range.describe()] if self.range is not None else []
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        if self.kind is bool:
            parts.append("true or false")
        if self.words:
            parts.append(repr(next(iter(self.words))))  # the first word; the others are its aliases
        if not parts:
            parts.append("a string" if self.kind is str else self.kind.__name__)
        return " or ".join(parts)

    def check(self, value: object, name: str | None = None) -> Any:
        """A typed value (TOML, the GUI, the Python API), checked; the accepted value
        (ints widened to float for float settings), else :class:`SettingError`."""
        name = name or self.name
        if value is None and self.optional:
            return None
        if isinstance(value, str) and value.lower() in self.words:
            return self.words[value.lower()]
        if self.range is not None:
            return self.range.check(value, name, self.describe())
        if self.kind is bool:
            if not isinstance(value, bool):
                raise SettingError(f"{name}: must be true or false, got {shown(value)}")
            return value
        if not isinstance(value, str):
            raise SettingError(f"{name}: must be {self.describe()}, got {shown(value)}")
        if self.choices is not None and value not in self.choices:
            raise SettingError(f"{name}: must be {self.describe()}, got {shown(value)}")
        return value

    def parse(self, text: str, name: str | None = None) -> Any:
        """A value from command-line text, checked."""
        name = name or self.flag
        if text.lower() in self.words:
            return self.words[text.lower()]
        if self.range is not None:
            return self.range.parse(text, name, self.describe())
        return self.check(text, name)


def setting(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field whose metadata is a :class:`Setting` (see :class:`Setting` for
    the keywords); the kind follows the range, else the default's type."""
    rng = metadata.get("range")
    kind = metadata.pop("kind", rng.kind if rng is not None else type(default) if default is not None else str)
    return field(default=default, metadata={"setting": Setting(default, help, kind=kind, **metadata)})


@functools.cache
def settings_of(concern: type) -> tuple[Setting, ...]:
    """The settings of one concern's dataclass, in field order, with their names."""
    return tuple(f.metadata["setting"]._named(f.name) for f in dataclasses.fields(concern))


def setting_named(concern: type, name: str) -> Setting:
    for s in settings_of(concern):
        if s.name == name:
            return s
    raise KeyError(name)


# ----------------------------------------------------------------------- limits
#: the live ring's capacity: 4 M events (55 MB) hold 80 ms of a 50 Mev/s sensor, more
#: than any window the recogniser uses (EZSR: 15k events, 50 ms), and a hard memory cap.
#: A window by count can be at most this long.
RING_EVENTS = 1 << 22
#: EZSR's models were trained on windows of about this many events
DEFAULT_WINDOW_EVENTS = 15_000
#: the design's default time window (ms): for a model the registry does not know
DEFAULT_WINDOW_MS = 50.0
#: times and offsets in µs stay below 2^53: exact as floats, and far from int64's end
#: when added to a recording's own (Unix µs) timestamps
MAX_US = 1 << 53
#: a minute: a time window longer than that holds more than the ring at any real rate
MAX_WINDOW_MS = 60_000.0
#: above this, "max" is the same replay
MAX_SPEED = 10_000.0
#: how windows reach the recogniser (see ezsr_live.runtime.live.lossless_for)
HANDOVERS = ("auto", "latest", "lossless")
#: wall-clock limits: about 11.6 days (Qt's timers count int32 milliseconds)
MAX_DURATION_S = 1e6


# ----------------------------------------------------------------------- concerns
@dataclass(frozen=True)
class WindowSettings:
    """Which events the recogniser looks at."""

    window_ms: float | None = setting(
        None, "recognise the last T milliseconds of events (default: the window the model was trained on, "
        f"from weights/registry.json: {DEFAULT_WINDOW_EVENTS:,} events for the official EZSR models, "
        f"{DEFAULT_WINDOW_MS:g} ms for the bundled demo; {DEFAULT_WINDOW_MS:g} ms for a model the registry "
        "does not know)",
        range=float_range(0.001, MAX_WINDOW_MS, unit="ms"), optional=True, metavar="T", step=1.0, decimals=3)
    window_events: int | None = setting(
        None, "recognise the last N events instead (default: as for --window-ms)",
        range=int_range(1, RING_EVENTS, unit="events"), optional=True, metavar="N", step=1000)
    coords: Literal["resize", "direct"] = setting(
        "resize", "sensor → model input: 'resize' (nearest resize + centre crop, default) or 'direct' "
        "(scale coordinates, as the official N-ImageNet evaluation)", choices=("resize", "direct"))


@dataclass(frozen=True)
class RecognitionSettings:
    """What the recogniser reports and how k-NN translation blends neighbours."""

    top_k: int = setting(5, "labels reported per frame", range=int_range(1, 1000), step=1)
    knn_k: int = setting(16, "neighbours", range=int_range(1, 1000), step=1)
    knn_tau: float = setting(0.05, "softmax temperature over neighbour similarities",
                             range=float_range(0.0, 100.0, lo_open=True), step=0.01, decimals=3)
    knn_alpha: float = setting(0.5, "weight of the event embedding against the neighbours",
                               range=float_range(0.0, 1.0), step=0.05, decimals=2)
    threads: int | None = setting(None, "CPU inference threads (default: all cores but one)",
                                  range=int_range(1, 4096), optional=True)


@dataclass(frozen=True)
class ReplaySettings:
    """How a recording is played (and a network stream reconnected)."""

    speed: float | None = setting(
        1.0, "replay speed: 1.0 = the recording's own clock (default), 2 = twice as fast, 'max' = as fast as "
        "possible", range=float_range(0.0, MAX_SPEED, lo_open=True), words={"max": None, "inf": None, "0": None},
        optional=True, metavar="X")
    loop: bool = setting(False, "replay: start again at the end")
    start_us: int = setting(0, "replay: skip this much time at the start", range=int_range(0, MAX_US, unit="µs"),
                            metavar="US")
    duration_us: int | None = setting(None, "replay: play only this much time", range=int_range(1, MAX_US, unit="µs"),
                                      optional=True, metavar="US")
    reconnect: bool = setting(False, "network streams: reconnect with back-off when the peer goes away")
    handover: str = setting(
        "auto", "how windows reach the recogniser: 'latest' recognises the newest window whenever it is free and "
        "skips the others (what a camera needs); 'lossless' recognises every consecutive window and holds the "
        "replay back meanwhile (replays only); 'auto' (default): lossless for replays at --speed max, latest "
        "otherwise", choices=HANDOVERS)


@dataclass(frozen=True)
class OutputSettings:
    """Where results go and when the run ends."""

    headless: bool = setting(False, "no window: one JSON object per result on stdout, logs on stderr")
    max_results: int | None = setting(None, "stop after N results (of every stream, with several)",
                                      range=int_range(1, None), optional=True, metavar="N")
    duration_s: float | None = setting(None, "stop after S seconds",
                                       range=float_range(0.0, MAX_DURATION_S, lo_open=True, unit="s"),
                                       optional=True, metavar="S")
    output: str | None = setting(None, "also write the results to this file", optional=True, metavar="FILE.jsonl")
    record: str | None = setting(None, "also record what the source delivers (.aedat4, .raw, .evt2.raw: crash-safe formats)", optional=True,
                                 metavar="FILE")
    no_recognition: bool = setting(False, "no model: stream statistics once a second (checks a camera or a "
                                   "recording)")
    min_confidence: float = setting(
        0.0, "show 'none of these' when the best label's probability is below P (0..1; default 0)",
        range=float_range(0.0, 1.0), flag="--threshold", toml="threshold", metavar="P", step=0.05, decimals=2)
    smooth: int = setting(1, "window: average the shown probabilities over the last N results",
                          range=int_range(1, 1000), metavar="N")
    screenshot: str | None = setting(None, "window: save a screenshot after the first results", optional=True,
                                     metavar="PATH.png")


#: the colour schemes of :mod:`ezsr_live.kernels.colour_schemes`, named here so that the
#: command line can offer them without loading Numba and the kernels
SCHEME_NAMES = ("polarity", "time_surface", "event_count")


@dataclass(frozen=True)
class ViewSettings:
    """What the live window shows, apart from what is recognised: its own accumulation,
    frame rate and colours (:class:`ezsr_live.runtime.display.DisplaySettings`)."""

    accumulation_ms: float = setting(20.0, "the view shows the last T ms of events",
                                     range=float_range(0.1, 5000.0, unit="ms"), flag="--view-ms", toml="view-ms",
                                     metavar="T", step=1.0, decimals=1)
    accumulation_events: int | None = setting(
        None, "the view shows the last N events instead (at most the ring's capacity less the recognition window)",
        range=int_range(100, 4_000_000, unit="events"), optional=True, flag="--view-events", toml="view-events",
        metavar="N", step=1000)
    fps: float = setting(60.0, "most frames the view paints per second", range=float_range(1.0, 240.0, unit="fps"),
                         flag="--view-fps", toml="view-fps", metavar="X", step=1.0, decimals=0)
    scheme: str = setting("polarity", "how events are coloured", choices=SCHEME_NAMES, flag="--colours",
                          toml="colours")
    decay_ms: float = setting(10.0, "time surface: events fade as exp(-age/τ)",
                              range=float_range(0.05, 5000.0, unit="ms"), metavar="T", step=0.5, decimals=2)
    saturation: int = setting(8, "event count: events at a pixel for white", range=int_range(1, 255, unit="events"),
                              metavar="N", step=1)


CONCERNS: tuple[type, ...] = (WindowSettings, RecognitionSettings, ReplaySettings, OutputSettings, ViewSettings)


@functools.cache
def all_settings() -> Mapping[str, Setting]:
    """Every setting by field name (names are unique across the concerns)."""
    out: dict[str, Setting] = {}
    for concern in CONCERNS:
        for s in settings_of(concern):
            if s.name in out:
                raise AssertionError(f"setting {s.name!r} is declared twice")
            out[s.name] = s
    return out


def range_of(name: str) -> Range:
    """The range of a numeric setting (for options elsewhere that take the same values)."""
    rng = all_settings()[name].range
    if rng is None:
        raise KeyError(f"{name} is not a number")
    return rng


WINDOW_MS = setting_named(WindowSettings, "window_ms")
WINDOW_EVENTS = setting_named(WindowSettings, "window_events")
TOP_K = setting_named(RecognitionSettings, "top_k")
MIN_CONFIDENCE = setting_named(OutputSettings, "min_confidence")
KNN_K_SETTING = setting_named(RecognitionSettings, "knn_k")
SPEED = setting_named(ReplaySettings, "speed")
START_US = setting_named(ReplaySettings, "start_us")
DURATION_US = setting_named(ReplaySettings, "duration_us")

#: the recogniser's defaults, for signatures (written once, in the dataclass above)
TOP_K_DEFAULT: int = RecognitionSettings.top_k
KNN_K: int = RecognitionSettings.knn_k
KNN_TAU: float = RecognitionSettings.knn_tau
KNN_ALPHA: float = RecognitionSettings.knn_alpha
