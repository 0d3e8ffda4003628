"""Exponentially decaying time surface, one plane per polarity.

``S[c, y, x] = exp(-(t_ref - t_last) / tau_us)`` where ``t_last`` is the latest timestamp
of polarity c at (x, y) (the maximum, since packets are not always time-sorted), and 0
where the window has no such event. ``t_ref`` defaults to the newest timestamp of the
window; events after an explicit ``t_ref`` count as age 0.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

from ._common import GeometryLike, KernelStats, event_columns, record_stats, width_height

__all__ = ["time_surface"]

_NEVER = np.iinfo(np.int64).min


@njit(nogil=True, cache=True)
def _time_surface_kernel(t, x, y, p, width, height, t_ref, inv_tau, out):
    plane = width * height
    latest = np.full(2 * plane, _NEVER, dtype=np.int64)
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        idx = yv * width + xv
        if p[i] == 0:
            idx += plane
        if t[i] > latest[idx]:
            latest[idx] = t[i]
    for idx in range(2 * plane):
        if latest[idx] == _NEVER:
            out[idx] = 0.0
        else:
            age = max(t_ref - latest[idx], 0)
            out[idx] = np.exp(-age * inv_tau)
    return dropped


def time_surface(
    events: EventPacket,
    geometry: GeometryLike,
    *,
    tau_us: float,
    t_ref: int | None = None,
    stats: KernelStats | None = None,
) -> np.ndarray:
    """Time surface of one window: float32 (2, H, W), plane 0 = ON, values in [0, 1]."""
    if not tau_us > 0:
        raise ValueError(f"tau_us must be positive, got {tau_us}")
    width, height = width_height(geometry)
    t, x, y, p = event_columns(events)
    if t_ref is None:
        t_ref = int(t.max()) if t.size else 0
    out = np.empty((2, height, width), dtype=np.float32)
    dropped = _time_surface_kernel(t, x, y, p, width, height, np.int64(t_ref), 1.0 / tau_us, out.reshape(-1))
    record_stats(stats, x.size, dropped)
    return out
