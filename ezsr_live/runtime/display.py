"""What the live view shows, apart from what is recognised (Qt-free).

The recognition window (:class:`~ezsr_live.runtime.settings.RuntimeSettings.window`,
e.g. 15,000 events) is what the model sees; the view shows its own *accumulation*
(e.g. the last 10 ms), at its own frame rate, in a colour scheme. Both cut the same
ring buffer, and neither setting changes the other.

:class:`DisplaySettings` holds the view's options, declared with their defaults and
bounds in :class:`ezsr_live.settings.ViewSettings` (the one settings source), so that
the command line, the config file and the window's controls offer the same ranges.
:class:`DisplayRenderer` cuts the newest accumulation from a ring and paints it into
one of a few reused frame buffers (:class:`~ezsr_live.kernels.colour_schemes.SchemeRenderer`).
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ezsr_live.events import EVENT_DTYPE
from ezsr_live.settings import SCHEME_NAMES, ViewSettings, settings_of
from ezsr_live.windows import WindowSpec

__all__ = ["SCHEME_NAMES", "DisplayFrame", "DisplayRenderer", "DisplaySettings"]

#: frame buffers in rotation: one being painted into, one on screen, one spare
FRAME_BUFFERS = 3


@dataclass(frozen=True)
class DisplaySettings(ViewSettings):
    """The live view's options, declared (defaults, bounds, help) in
    :class:`ezsr_live.settings.ViewSettings`; checked on creation by its validators."""

    def __post_init__(self) -> None:
        for s in settings_of(ViewSettings):
            s.check(getattr(self, s.name), s.flag)

    @property
    def accumulation(self) -> WindowSpec:
        """The view's window, as the ring cuts it."""
        if self.accumulation_events is not None:
            return WindowSpec.by_events(self.accumulation_events)
        return WindowSpec.by_time_ms(self.accumulation_ms)

    def replace(self, **changes: Any) -> "DisplaySettings":
        return dataclasses.replace(self, **changes)


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
