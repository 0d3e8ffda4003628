"""Voxel grid: signed event counts spread over time bins with bilinear (linear-in-time) weights.

The window's span [t_start, t_end] maps onto ``n_bins`` bin centres 0..n_bins-1:
``tn = (n_bins - 1) * (t - t_start) / (t_end - t_start)``. An event of polarity
``s`` (+1 ON, -1 OFF) adds ``s * (1 - (tn - floor(tn)))`` to bin ``floor(tn)`` and
``s * (tn - floor(tn))`` to the next, so every event contributes exactly ``s`` in total.
This is the usual definition (Zhu et al., "Unsupervised event-based learning of optical
flow", 2019). Events outside [t_start, t_end] are ignored; a zero-length span puts
everything in bin 0.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

from ._common import GeometryLike, KernelStats, event_columns, record_stats, width_height

__all__ = ["voxel_grid"]


@njit(nogil=True, cache=True)
def _voxel_grid_kernel(t, x, y, p, width, height, n_bins, t_start, t_end, out):
    plane = width * height
    span = t_end - t_start
    dropped = 0
    for i in range(x.size):
        xv = np.int64(x[i])
        yv = np.int64(y[i])
        if xv >= width or yv >= height:
            dropped += 1
            continue
        ti = t[i]
        if ti < t_start or ti > t_end:
            continue
        # float64 ratio, not an int64 product that garbage timestamps could overflow;
        # t_end still lands exactly on the last bin (span / span == 1.0)
        tn = (np.float64(ti - t_start) / span) * (n_bins - 1) if span > 0 else 0.0
        left = min(max(np.int64(tn), 0), n_bins - 1)
        frac = tn - left
        polarity = 1.0 if p[i] != 0 else -1.0
        idx = yv * width + xv
        out[left * plane + idx] += np.float32(polarity * (1.0 - frac))
        if frac > 0.0 and left + 1 < n_bins:
            out[(left + 1) * plane + idx] += np.float32(polarity * frac)
    return dropped


def voxel_grid(
    events: EventPacket,
    geometry: GeometryLike,
    n_bins: int,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    stats: KernelStats | None = None,
) -> np.ndarray:
    """Voxel grid of one window: float32 (n_bins, H, W).

    ``t_start``/``t_end`` default to the window's oldest and newest timestamps.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    width, height = width_height(geometry)
    t, x, y, p = event_columns(events)
    if t_start is None:
        t_start = int(t.min()) if t.size else 0
    if t_end is None:
        t_end = int(t.max()) if t.size else t_start
    if t_end < t_start:
        raise ValueError(f"t_end ({t_end}) is before t_start ({t_start})")
    out = np.zeros((n_bins, height, width), dtype=np.float32)
    dropped = _voxel_grid_kernel(
        t, x, y, p, width, height, int(n_bins), np.int64(t_start), np.int64(t_end), out.reshape(-1)
    )
    record_stats(stats, x.size, dropped)
    return out
