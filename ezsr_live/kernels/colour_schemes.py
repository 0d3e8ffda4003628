"""Colour schemes of the live view: events → 32-bit pixels in one Numba pass.

A scheme paints a window of events into a caller's reused ``(H, W) uint32`` buffer of
``0xAARRGGBB`` pixels: Qt's native ``QImage.Format_RGB32`` (bytes B, G, R, A in memory
on little-endian machines), which Qt's raster engine blits without a conversion. The
buffer is filled with the background, then every event writes its pixel, so one pass
over the events makes the whole frame; nothing frame-sized is allocated per call.

* ``polarity``: ON and OFF colours; a pixel shows its newest event's polarity (by
  stream order), as Metavision's and DV's event displays do.
* ``time_surface``: the newest event's polarity colour, faded by
  ``exp(-(t_ref - t) / decay)`` toward the background: the decaying time surface of
  :mod:`.time_surface` (its larger plane per pixel) in colour.
* ``event_count``: grey levels, from the background for no event to white for
  ``saturation`` events or more at a pixel.

Each scheme also describes its legend (:meth:`ColourScheme.legend`), so that the
window explains its colours from the same constants the kernels use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

from ._common import GeometryLike, KernelStats, event_columns, record_stats, width_height

__all__ = ["BACKGROUND", "OFF_COLOUR", "ON_COLOUR", "SCHEMES", "ColourScheme", "LegendEntry",
           "SchemeRenderer", "argb_to_rgb", "render_scheme"]

RGB = tuple[int, int, int]

BACKGROUND: RGB = (20, 20, 24)
ON_COLOUR: RGB = (80, 170, 255)
OFF_COLOUR: RGB = (255, 90, 60)
WHITE: RGB = (255, 255, 255)
#: entries of the time surface's fade table, spanning ages 0 .. _FADE_SPAN decays:
#: nearest-entry lookup errs by under 0.2 grey levels, far below a uint8 step
_FADE_STEPS = 4096
#: beyond this many decays a pixel is within half a level of the background
_FADE_SPAN = math.log(512.0)


def pack(rgb: RGB | np.ndarray) -> int:
    """One opaque 0xAARRGGBB pixel."""
    r, g, b = (int(v) for v in rgb)
    return 0xFF000000 | (r << 16) | (g << 8) | b


def argb_to_rgb(frame: np.ndarray) -> np.ndarray:
    """(H, W) uint32 0xAARRGGBB → (H, W, 3) uint8 RGB (tests, screenshots)."""
    frame = np.asarray(frame, dtype=np.uint32)
    return np.stack([(frame >> 16) & 0xFF, (frame >> 8) & 0xFF, frame & 0xFF], axis=-1).astype(np.uint8)


def _blend_table(colour: RGB, levels: np.ndarray) -> np.ndarray:
    """uint32 pixels ``background + level * (colour - background)`` for each level in [0, 1]."""
    bg, c = np.asarray(BACKGROUND, np.float64), np.asarray(colour, np.float64)
    rgb = np.floor(bg + levels[:, None] * (c - bg) + 0.5).clip(0, 255).astype(np.uint32)
    return (np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


# ------------------------------------------------------------------ kernels
@njit(nogil=True, cache=True)
def _fill(out, value):
    for i in range(out.size):
        out[i] = value


@njit(nogil=True, cache=True)
def _polarity_kernel(x, y, p, width, height, background, on, off, out):
    _fill(out, background)
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        out[yv * width + xv] = off if p[i] == 0 else on
    return dropped


@njit(nogil=True, cache=True)
def _time_surface_kernel(t, x, y, p, width, height, t_ref, steps_per_us, table_on, table_off, background, out):
    _fill(out, background)
    last = table_on.size - 1
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        age = t_ref - t[i]
        k = 0
        if age > 0:
            step = age * steps_per_us + 0.5
            k = last if step >= last else int(step)
        out[yv * width + xv] = table_off[k] if p[i] == 0 else table_on[k]
    return dropped


@njit(nogil=True, cache=True)
def _count_kernel(x, y, width, height, saturation, table, counts, out):
    _fill(out, table[0])
    for i in range(counts.size):
        counts[i] = 0
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        idx = yv * width + xv
        c = counts[idx]
        if c < saturation:
            c += 1
            counts[idx] = c
            out[idx] = table[c]
    return dropped


# ------------------------------------------------------------------ schemes
@dataclass(frozen=True)
class LegendEntry:
    """One line of a legend: a swatch (one colour) or a ramp (colours from left to
    right), with its text and, for a ramp, the texts at its two ends."""

    text: str
    colours: tuple[RGB, ...]
    ends: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class ColourScheme:
    """A named way to colour a window; ``legend(decay_ms, saturation)`` explains it."""

    name: str
    title: str
    legend: Callable[[float, int], tuple[LegendEntry, ...]]


def _rgb_rows(pixels: np.ndarray) -> tuple[RGB, ...]:
    rows = argb_to_rgb(pixels[None])[0]
    return tuple((int(r), int(g), int(b)) for r, g, b in rows)


def _ramp(colour: RGB, n: int = 8) -> tuple[RGB, ...]:
    return _rgb_rows(_blend_table(colour, np.exp(-np.linspace(0.0, 3.0, n))))


def _polarity_legend(_decay_ms: float, _saturation: int) -> tuple[LegendEntry, ...]:
    return (LegendEntry("ON (brighter)", (ON_COLOUR,)), LegendEntry("OFF (darker)", (OFF_COLOUR,)),
            LegendEntry("no event", (BACKGROUND,)))


def _time_surface_legend(decay_ms: float, _saturation: int) -> tuple[LegendEntry, ...]:
    ends = ("now", f"{3 * decay_ms:g} ms ago")
    return (LegendEntry(f"ON, fading (τ = {decay_ms:g} ms)", _ramp(ON_COLOUR), ends),
            LegendEntry(f"OFF, fading (τ = {decay_ms:g} ms)", _ramp(OFF_COLOUR), ends))


def _count_legend(_decay_ms: float, saturation: int) -> tuple[LegendEntry, ...]:
    ramp = _rgb_rows(_blend_table(WHITE, np.linspace(0.0, 1.0, 8)))
    return (LegendEntry("events at a pixel, either polarity", ramp, ("0", f"≥ {saturation}")),)


SCHEMES: dict[str, ColourScheme] = {
    "polarity": ColourScheme("polarity", "ON/OFF polarity", _polarity_legend),
    "time_surface": ColourScheme("time_surface", "time surface (decaying)", _time_surface_legend),
    "event_count": ColourScheme("event_count", "event count (grey)", _count_legend),
}


class SchemeRenderer:
    """Paints windows of one sensor's events with any scheme; keeps the scratch and the
    fade tables between calls. Not thread-safe: one renderer per thread."""

    def __init__(self, geometry: GeometryLike) -> None:
        self.width, self.height = width_height(geometry)
        self._counts = np.zeros(self.width * self.height, np.uint8)
        self._fade: tuple[float, np.ndarray, np.ndarray] | None = None
        self._grey: tuple[int, np.ndarray] | None = None
        self.stats = KernelStats()

    def new_frame(self) -> np.ndarray:
        """A frame buffer for :meth:`render` (allocate a few once, then reuse them)."""
        return np.zeros((self.height, self.width), np.uint32)

    def _fade_tables(self, decay_us: float) -> tuple[np.ndarray, np.ndarray]:
        if self._fade is None or self._fade[0] != decay_us:
            levels = np.exp(-np.arange(_FADE_STEPS) * (_FADE_SPAN / (_FADE_STEPS - 1)))
            levels[-1] = 0.0  # the oldest entry is the background itself
            self._fade = (decay_us, _blend_table(ON_COLOUR, levels), _blend_table(OFF_COLOUR, levels))
        return self._fade[1], self._fade[2]

    def _grey_table(self, saturation: int) -> np.ndarray:
        if self._grey is None or self._grey[0] != saturation:
            self._grey = (saturation, _blend_table(WHITE, np.arange(saturation + 1) / saturation))
        return self._grey[1]

    def render(self, events: EventPacket, scheme: str, out: np.ndarray, *, decay_us: float = 10_000.0,
               saturation: int = 8, t_ref: int | None = None) -> np.ndarray:
        """Paint ``events`` into ``out`` ((H, W) uint32, C-contiguous) and return it.

        ``t_ref`` (time surface) defaults to the window's newest timestamp."""
        if scheme not in SCHEMES:
            raise ValueError(f"unknown colour scheme {scheme!r} (known: {', '.join(SCHEMES)})")
        if out.shape != (self.height, self.width) or out.dtype != np.uint32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be C-contiguous uint32 of shape {(self.height, self.width)}")
        if not decay_us > 0:
            raise ValueError(f"decay_us must be positive, got {decay_us}")
        if not 1 <= int(saturation) <= 255:
            raise ValueError(f"saturation must be within 1..255, got {saturation}")
        t, x, y, p = event_columns(events)
        flat = out.reshape(-1)
        w, h = self.width, self.height
        if scheme == "polarity":
            dropped = _polarity_kernel(x, y, p, w, h, np.uint32(pack(BACKGROUND)), np.uint32(pack(ON_COLOUR)),
                                       np.uint32(pack(OFF_COLOUR)), flat)
        elif scheme == "time_surface":
            if t_ref is None:
                t_ref = int(t.max()) if t.size else 0
            on, off = self._fade_tables(float(decay_us))
            steps_per_us = (_FADE_STEPS - 1) / (_FADE_SPAN * float(decay_us))
            dropped = _time_surface_kernel(t, x, y, p, w, h, np.int64(t_ref), steps_per_us, on, off,
                                           np.uint32(pack(BACKGROUND)), flat)
        else:
            sat = int(saturation)
            dropped = _count_kernel(x, y, w, h, np.uint8(sat), self._grey_table(sat), self._counts, flat)
        record_stats(self.stats, x.size, dropped)
        return out


def render_scheme(events: EventPacket, geometry: GeometryLike, scheme: str = "polarity", *,
                  decay_us: float = 10_000.0, saturation: int = 8, t_ref: int | None = None,
                  out: np.ndarray | None = None, stats: KernelStats | None = None) -> np.ndarray:
    """One window in ``scheme`` as (H, W) uint32 0xAARRGGBB pixels (see the module docstring)."""
    renderer = SchemeRenderer(geometry)
    frame = renderer.render(events, scheme, out if out is not None else renderer.new_frame(),
                            decay_us=decay_us, saturation=saturation, t_ref=t_ref)
    record_stats(stats, renderer.stats.events_in, renderer.stats.dropped)
    return frame
