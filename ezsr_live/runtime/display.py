"""What the live view shows, apart from what is recognised (Qt-free).

The recognition window (:class:`~ezsr_live.runtime.settings.RuntimeSettings.window`,
e.g. 15,000 events) is what the model sees; the view shows its own *accumulation*
(e.g. the last 10 ms), at its own frame rate, in a colour scheme. Both cut the same
ring buffer, and neither setting changes the other.

:class:`DisplaySettings` holds the view's options, each field with its default and
bounds in one place (``field(metadata=...)``; :func:`bounds` reads them), so that the
command line, the config file and the window's controls offer the same ranges.
:class:`DisplayRenderer` cuts the newest accumulation from a ring and paints it into
one of a few reused frame buffers (:class:`~ezsr_live.kernels.colour_schemes.SchemeRenderer`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ezsr_live.events import EVENT_DTYPE
from ezsr_live.windows import WindowSpec

__all__ = ["SCHEME_NAMES", "DisplayFrame", "DisplayRenderer", "DisplaySettings", "bounds"]

#: the colour schemes of :mod:`ezsr_live.kernels.colour_schemes`, named here so that the
#: command line can offer them without loading Numba and the kernels (torch among them)
SCHEME_NAMES = ("polarity", "time_surface", "event_count")

#: frame buffers in rotation: one being painted into, one on screen, one spare
FRAME_BUFFERS = 3


@dataclass(frozen=True)
class DisplaySettings:
    """The live view's options (see the module docstring); validated on creation."""

    #: the view's accumulation by time (ms); ignored when ``accumulation_events`` is set
    accumulation_ms: float = field(default=20.0, metadata={"min": 0.1, "max": 5000.0, "unit": "ms",
                                                            "help": "the view shows the last T ms of events"})
    #: the view's accumulation by count instead (None: by time)
    accumulation_events: int | None = field(default=None, metadata={
        "min": 100, "max": 4_000_000, "unit": "events", "help": "the view shows the last N events instead"})
    #: most frames the view paints per second
    fps: float = field(default=60.0, metadata={"min": 1.0, "max": 240.0, "unit": "fps",
                                                "help": "most frames the view paints per second"})
    #: one of :data:`~ezsr_live.kernels.colour_schemes.SCHEMES`
    scheme: str = field(default="polarity", metadata={"choices": SCHEME_NAMES,
                                                      "help": "how events are coloured"})
    #: the time surface's decay constant τ
    decay_ms: float = field(default=10.0, metadata={"min": 0.05, "max": 5000.0, "unit": "ms",
                                                     "help": "time surface: events fade as exp(-age/τ)"})
    #: the event-count scheme's events for full white
    saturation: int = field(default=8, metadata={"min": 1, "max": 255, "unit": "events",
                                                  "help": "event count: events at a pixel for white"})

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                continue
            if "choices" in meta and value not in meta["choices"]:
                raise ValueError(f"{f.name} must be one of {', '.join(meta['choices'])}, got {value!r}")
            if "min" in meta and not meta["min"] <= value <= meta["max"]:
                raise ValueError(f"{f.name} must be within {meta['min']:g}..{meta['max']:g}, got {value!r}")

    @property
    def accumulation(self) -> WindowSpec:
        """The view's window, as the ring cuts it."""
        if self.accumulation_events is not None:
            return WindowSpec.by_events(self.accumulation_events)
        return WindowSpec.by_time_ms(self.accumulation_ms)

    def replace(self, **changes: Any) -> "DisplaySettings":
        return dataclasses.replace(self, **changes)


def bounds(name: str) -> dict[str, Any]:
    """Default, bounds, unit and help of one :class:`DisplaySettings` field."""
    for f in dataclasses.fields(DisplaySettings):
        if f.name == name:
            return {"default": f.default, **f.metadata}
    raise KeyError(name)


@dataclass(frozen=True)
class DisplayFrame:
    """One painted frame: ``image`` is (H, W) uint32 0xAARRGGBB, a reused buffer that
    stays valid until :data:`FRAME_BUFFERS` - 1 further frames were rendered."""

    image: np.ndarray
    seq: int
    n_events: int
    t_end_us: int
    render_ms: float  # cutting the window plus painting it
    scheme: str


class DisplayRenderer:
    """Cuts the newest accumulation from a ring and paints it (one thread uses it)."""

    def __init__(self, ring: Any, geometry: Any, settings: DisplaySettings | None = None) -> None:
        from ezsr_live.kernels.colour_schemes import SchemeRenderer

        self.ring = ring
        self.settings = settings or DisplaySettings()
        self._painter = SchemeRenderer(geometry)
        self._buffers = [self._painter.new_frame() for _ in range(FRAME_BUFFERS)]
        self._seq = 0
        # the accumulation's events are copied into this, grown as needed, never per frame
        self._events = np.zeros(0, EVENT_DTYPE)
        self.after: int | None = None  # stream index after the last frame's newest event
        self.frames_rendered = 0
        self.render_ms_total = 0.0

    @property
    def stats(self):
        return self._painter.stats

    def render_newest(self, *, force: bool = False) -> DisplayFrame | None:
        """The newest accumulation painted, or None if no event arrived since the last
        frame (``force``: paint again anyway, e.g. after a setting changed)."""
        s = self.settings
        start = time.perf_counter()
        window = self.ring.newest(s.accumulation, after=None if force else self.after, out=self._events)
        if window is None:
            return None
        if len(window) > len(self._events):  # did not fit: a larger buffer for the next frames
            self._events = np.zeros(len(window) + len(window) // 2, EVENT_DTYPE)
        image = self._buffers[self._seq % FRAME_BUFFERS]
        self._painter.render(window.events, s.scheme, image, decay_us=s.decay_ms * 1000.0,
                             saturation=s.saturation, t_ref=int(window.t_end_us) - 1)
        render_ms = (time.perf_counter() - start) * 1e3
        self._seq += 1
        self.after = window.stop_event
        self.frames_rendered += 1
        self.render_ms_total += render_ms
        return DisplayFrame(image, self._seq, len(window), int(window.t_end_us), render_ms, s.scheme)
