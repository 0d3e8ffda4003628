"""The one event packet type used across ezsr-live.

An *event packet* is a 1-D numpy structured array of dtype :data:`EVENT_DTYPE`::

    t : int64   timestamp in microseconds, as the source encodes it (no shifting:
                an .aedat4 file keeps its Unix-epoch µs, a RAW file its sensor clock)
    x : uint16  column, 0 <= x < Geometry.width
    y : uint16  row,    0 <= y < Geometry.height
    p : int8    polarity, 1 = ON (brightness increase), 0 = OFF

The dtype is packed (13 bytes per event, no padding) so that packets can be
memory-mapped and written without conversion. Sources yield packets in
bounded-size chunks (``DEFAULT_CHUNK_EVENTS`` unless configured); a packet is
never guaranteed to be time-sorted, because real RAW streams are not (EVT 3.0
TIME_LOW may step backwards).

External trigger events (Prophesee EXT_TRIGGER words, DV trigger streams) are kept
apart from CD events in arrays of :data:`TRIGGER_DTYPE`.

Kernels are pure functions over these arrays; objects around them stay thin.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")])
TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("id", "u1"), ("p", "i1")])

#: Default number of events per packet yielded by file readers: about 13 MB per
#: packet, which keeps replay memory constant whatever the file size.
DEFAULT_CHUNK_EVENTS = 1 << 20

EventPacket = np.ndarray  # alias used in type hints: a structured array of EVENT_DTYPE


@dataclass(frozen=True)
class Geometry:
    """Sensor size in pixels."""

    width: int
    height: int

    def __post_init__(self) -> None:
        if not (0 < int(self.width) <= 65535 and 0 < int(self.height) <= 65535):
            raise ValueError(f"invalid sensor geometry {self.width}x{self.height}")

    @classmethod
    def parse(cls, text: str) -> "Geometry":
        """Parse ``"WxH"`` (e.g. ``"640x480"``)."""
        try:
            w, h = text.lower().replace("×", "x").split("x")
            return cls(int(w), int(h))
        except (ValueError, AttributeError):
            raise ValueError(f"geometry must look like WIDTHxHEIGHT, got {text!r}") from None

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass
class SourceInfo:
    """What a source knows about itself; filled by readers and camera adapters."""

    name: str  # file path or device/stream URI
    format: str  # e.g. "evt3", "evt2", "aedat4", "dat", "npz", "atis_bin", "aedat2"
    geometry: Geometry
    camera: str | None = None  # camera model when known
    serial: str | None = None
    header: dict[str, Any] = field(default_factory=dict)


def empty_events(n: int = 0) -> EventPacket:
    """A zero-filled packet of ``n`` events."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def make_events(t: Any, x: Any, y: Any, p: Any) -> EventPacket:
    """Build a packet from four equally long array-likes (p: nonzero/True = ON)."""
    t = np.asarray(t)
    out = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    out["t"] = t
    out["x"] = np.asarray(x)
    out["y"] = np.asarray(y)
    out["p"] = np.asarray(p) != 0
    return out


def drop_outside(packet: EventPacket, geometry: Geometry) -> tuple[EventPacket, int]:
    """Remove events outside the sensor (a misbehaving device must not reach the
    kernels); returns the packet and the number of events removed."""
    inside = (packet["x"] < geometry.width) & (packet["y"] < geometry.height)
    n_bad = len(packet) - int(np.count_nonzero(inside))
    return (packet if n_bad == 0 else packet[inside]), n_bad


def concat_events(packets: list[EventPacket]) -> EventPacket:
    """Concatenate packets (an empty list gives an empty packet)."""
    if not packets:
        return empty_events(0)
    return np.concatenate(packets)
