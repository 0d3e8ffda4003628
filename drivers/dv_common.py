"""Conversions between dv-processing containers and the project's packet type."""
from __future__ import annotations

from typing import Any

import numpy as np

from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry


def eventstore_to_packet(store: Any) -> EventPacket:
    """A ``dv.EventStore`` (or EventPacket) as an EVENT_DTYPE array, vectorised."""
    raw = store.numpy()  # structured: timestamp <i8, x <i2, y <i2, polarity i1
    out = np.empty(len(raw), dtype=EVENT_DTYPE)
    if len(raw):
        out["t"] = raw["timestamp"]
        out["x"] = raw["x"]
        out["y"] = raw["y"]
        out["p"] = raw["polarity"] != 0
    return out


def drop_out_of_bounds(packet: EventPacket, geometry: Geometry) -> tuple[EventPacket, int]:
    """Remove events outside the sensor (a misbehaving peer must not reach the kernels)."""
    inside = (packet["x"] < geometry.width) & (packet["y"] < geometry.height)
    n_bad = len(packet) - int(np.count_nonzero(inside))
    return (packet if n_bad == 0 else packet[inside]), n_bad
