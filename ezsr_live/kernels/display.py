"""ON/OFF coloured display frames (uint8 RGB) at sensor resolution, for the GUI.

Each pixel gathers an ON weight and an OFF weight: one per event, or, with exponential
decay, ``exp(-(t_ref - t) / decay_us)`` so that older events fade. The colour is the
weighted mix of the ON and OFF colours, blended over the background by
``min(1, (w_on + w_off) / saturation)``: a pixel with ``saturation`` events or more shows
the pure mix, a quiet pixel stays background.

:func:`display_frame` renders one window; :class:`DisplayAccumulator` keeps decaying
weights across packets for a continuously updated view.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

from ._common import GeometryLike, KernelStats, event_columns, record_stats, width_height

__all__ = ["DisplayColors", "DisplayAccumulator", "display_frame"]

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class DisplayColors:
    """Colours of a display frame, as (r, g, b) in 0..255."""

    background: RGB = (20, 20, 24)
    on: RGB = (80, 170, 255)
    off: RGB = (255, 90, 60)

    def as_array(self) -> np.ndarray:
        """(3, 3) float32: rows background, ON, OFF."""
        colours = np.asarray([self.background, self.on, self.off], dtype=np.float32)
        if colours.min() < 0 or colours.max() > 255:
            raise ValueError(f"colours must be within 0..255, got {self}")
        return colours


@njit(nogil=True, cache=True)
def _add_weights(t, x, y, p, width, height, t_ref, inv_decay, use_decay, weights):
    """Add each event's weight to ``weights`` (2, H*W): plane 0 ON, plane 1 OFF."""
    plane = width * height
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        w = np.float32(1.0)
        if use_decay:
            age = t_ref - t[i]
            if age > 0:
                w = np.float32(np.exp(-age * inv_decay))
        idx = yv * width + xv
        if p[i] == 0:
            idx += plane
        weights[idx] += w
    return dropped


@njit(nogil=True, cache=True)
def _render(weights, plane, saturation, colours, out):
    """Colour each pixel of ``out`` (H*W, 3) uint8 from its ON/OFF weights."""
    for idx in range(plane):
        w_on = weights[idx]
        w_off = weights[plane + idx]
        total = w_on + w_off
        alpha = min(np.float32(1.0), total / saturation)
        for c in range(3):
            bg = colours[0, c]
            value = bg
            if total > 0:
                mix = (w_on * colours[1, c] + w_off * colours[2, c]) / total
                value = bg + alpha * (mix - bg)
            out[idx, c] = np.uint8(min(np.float32(255.0), max(np.float32(0.0), value)) + np.float32(0.5))


@njit(nogil=True, cache=True)
def _scale(weights, factor):
    for i in range(weights.size):
        weights[i] *= factor


def _check_render_args(saturation: float, decay_us: float | None) -> None:
    if not saturation > 0:
        raise ValueError(f"saturation must be positive, got {saturation}")
    if decay_us is not None and not decay_us > 0:
        raise ValueError(f"decay_us must be positive or None, got {decay_us}")


def _output_image(out: np.ndarray | None, width: int, height: int) -> np.ndarray:
    if out is None:
        return np.empty((height, width, 3), dtype=np.uint8)
    if out.shape != (height, width, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous uint8 of shape {(height, width, 3)}")
    return out


def display_frame(
    events: EventPacket,
    geometry: GeometryLike,
    *,
    decay_us: float | None = None,
    t_ref: int | None = None,
    colors: DisplayColors = DisplayColors(),
    saturation: float = 1.0,
    out: np.ndarray | None = None,
    stats: KernelStats | None = None,
) -> np.ndarray:
    """One window as an RGB image (H, W, 3) uint8.

    With ``decay_us`` each event weighs ``exp(-(t_ref - t) / decay_us)``, where
    ``t_ref`` defaults to the newest timestamp of the window.
    """
    _check_render_args(saturation, decay_us)
    width, height = width_height(geometry)
    t, x, y, p = event_columns(events)
    if t_ref is None:
        t_ref = int(t.max()) if t.size else 0
    weights = np.zeros(2 * width * height, dtype=np.float32)
    inv_decay = 1.0 / decay_us if decay_us is not None else 0.0
    dropped = _add_weights(t, x, y, p, width, height, np.int64(t_ref), inv_decay, decay_us is not None, weights)
    record_stats(stats, x.size, dropped)
    out = _output_image(out, width, height)
    _render(weights, width * height, np.float32(saturation), colors.as_array(), out.reshape(-1, 3))
    return out


class DisplayAccumulator:
    """Decaying ON/OFF weights across packets; :meth:`render` gives the current image.

    Without ``decay_us`` the weights simply add up until :meth:`clear`. With it, the
    whole state fades as the newest timestamp advances, so the frame always shows the
    last few ``decay_us`` of activity. Not thread-safe: use it from one thread.
    """

    def __init__(
        self,
        geometry: GeometryLike,
        *,
        decay_us: float | None = None,
        colors: DisplayColors = DisplayColors(),
        saturation: float = 1.0,
    ) -> None:
        _check_render_args(saturation, decay_us)
        self.width, self.height = width_height(geometry)
        self.decay_us = decay_us
        self.colors = colors
        self.saturation = float(saturation)
        self._colours = colors.as_array()
        self._weights = np.zeros(2 * self.width * self.height, dtype=np.float32)
        self.t_ref: int | None = None  # newest timestamp added so far
        self.stats = KernelStats()

    def add(self, events: EventPacket) -> None:
        """Accumulate a packet (any size, including empty)."""
        t, x, y, p = event_columns(events)
        if t.size == 0:
            return
        newest = int(t.max())
        if self.decay_us is not None:
            if self.t_ref is not None and newest > self.t_ref:
                _scale(self._weights, np.float32(np.exp(-(newest - self.t_ref) / self.decay_us)))
            self.t_ref = newest if self.t_ref is None else max(self.t_ref, newest)
            inv_decay = 1.0 / self.decay_us
        else:
            self.t_ref = newest if self.t_ref is None else max(self.t_ref, newest)
            inv_decay = 0.0
        dropped = _add_weights(
            t, x, y, p, self.width, self.height, np.int64(self.t_ref), inv_decay, self.decay_us is not None, self._weights
        )
        record_stats(self.stats, t.size, dropped)

    def render(self, out: np.ndarray | None = None) -> np.ndarray:
        """The current image, (H, W, 3) uint8."""
        out = _output_image(out, self.width, self.height)
        _render(self._weights, self.width * self.height, np.float32(self.saturation), self._colours, out.reshape(-1, 3))
        return out

    def clear(self) -> None:
        """Forget every event added so far."""
        self._weights[:] = 0
        self.t_ref = None
