"""Small helpers shared by the kernel wrappers: column access, geometry, drop counters."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ezsr_live.events import EventPacket, Geometry, as_event_packet

GeometryLike = Union[Geometry, Sequence[int]]

#: CLIP's image normalisation (OpenAI dataset mean and std), used by EZSR's transforms.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass
class KernelStats:
    """Counters a caller may pass to a kernel wrapper; wrappers add to them."""

    events_in: int = 0
    dropped: int = 0  # events with a coordinate outside the sensor (or the grid), ignored


def width_height(geometry: GeometryLike) -> tuple[int, int]:
    """(width, height) of a :class:`Geometry` or a ``(width, height)`` pair."""
    if isinstance(geometry, Geometry):
        return int(geometry.width), int(geometry.height)
    width, height = (int(v) for v in geometry)
    Geometry(width, height)  # validates the range
    return width, height


def event_columns(events: EventPacket) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The t, x, y, p columns of a packet: views (no copy) of an :data:`EVENT_DTYPE`
    packet, otherwise of its conversion by field name (:func:`as_event_packet`; a
    structured ``astype`` would assign by position and mix the fields up)."""
    events = as_event_packet(events)
    return events["t"], events["x"], events["y"], events["p"]


def record_stats(stats: KernelStats | None, events_in: int, dropped: int) -> None:
    if stats is not None:
        stats.events_in += int(events_in)
        stats.dropped += int(dropped)
