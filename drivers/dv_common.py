"""Conversion from dv-processing's event records to the project's packet type."""
from __future__ import annotations

from typing import Any

import numpy as np

from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry


def dv_records_to_packet(records: np.ndarray, geometry: Geometry) -> tuple[EventPacket, int]:
    """dv's (timestamp, x, y, polarity) records (``EventStore.numpy()``) as our packet,
    vectorised, dropping events outside the sensor; returns the packet and the number
    dropped (dv's int16 coordinates may be negative on a misbehaving peer)."""
    x = records["x"].astype(np.int64)
    y = records["y"].astype(np.int64)
    keep = (x >= 0) & (x < geometry.width) & (y >= 0) & (y < geometry.height)
    kept = records if keep.all() else records[keep]
    out = np.empty(len(kept), dtype=EVENT_DTYPE)
    out["t"] = kept["timestamp"]
    out["x"] = kept["x"]
    out["y"] = kept["y"]
    out["p"] = kept["polarity"] != 0
    return out, len(records) - len(kept)


def eventstore_to_packet(store: Any, geometry: Geometry) -> tuple[EventPacket, int]:
    """A ``dv.EventStore`` as our packet (see :func:`dv_records_to_packet`)."""
    return dv_records_to_packet(store.numpy(), geometry)
