"""A region of interest on the sensor: the events inside it, as a sensor of its own size.

Recognition restricted to a box is the EZSR frame of the events inside the box, with
their coordinates relative to its corner: the frame of the box is then built, clipped,
normalised and resized to the encoder's input exactly as a whole sensor's would be.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ezsr_live.events import EVENT_DTYPE, EventPacket, Roi, as_event_packet

__all__ = ["Roi", "crop_events"]


@njit(nogil=True, cache=True)
def _crop(t, x, y, p, x0, y0, w, h, out_t, out_x, out_y, out_p):
    n = 0
    for i in range(t.shape[0]):
        xi = np.int64(x[i]) - x0
        yi = np.int64(y[i]) - y0
        if xi < 0 or yi < 0 or xi >= w or yi >= h:
            continue
        out_t[n] = t[i]
        out_x[n] = xi
        out_y[n] = yi
        out_p[n] = p[i]
        n += 1
    return n


def crop_events(events: EventPacket, roi: Roi) -> np.ndarray:
    """The events inside ``roi``, in time order, coordinates relative to its corner
    (an :data:`EVENT_DTYPE` array; one pass, GIL released)."""
    events = as_event_packet(events)
    out = np.empty(len(events), EVENT_DTYPE)
    n = _crop(events["t"], events["x"], events["y"], events["p"], np.int64(roi.x), np.int64(roi.y),
              np.int64(roi.width), np.int64(roi.height), out["t"], out["x"], out["y"], out["p"])
    return out[:n]
