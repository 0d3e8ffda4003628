"""Statistics of a whole recording, computed while streaming (constant memory)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ezsr_live.events import EventPacket, as_event_packet


@dataclass
class RecordingSummary:
    """Statistics of CD events in file order (t_first/t_last are the first and last
    events as stored, which for RAW files need not be the extremes)."""

    n_events: int = 0
    t_first: int | None = None
    t_last: int | None = None
    t_min: int | None = None
    t_max: int | None = None
    x_max: int | None = None
    y_max: int | None = None
    n_on: int = 0
    sum_x: int = 0
    sum_y: int = 0
    sum_dt: int = 0  # sum of (t - t_first)
    n_triggers: int = 0
    t_first_trigger: int | None = None  # first and last external trigger, in file order
    t_last_trigger: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_us(self) -> int:
        return 0 if self.t_first is None else int(self.t_last - self.t_first)

    def add(self, events: EventPacket) -> None:
        """Fold one packet in; exact integer arithmetic whatever the stream length."""
        events = as_event_packet(events)
        n = len(events)
        if n == 0:
            return
        t = events["t"]
        if self.t_first is None:
            self.t_first = int(t[0])
            self.t_min = self.t_max = int(t[0])
            self.x_max = self.y_max = 0
        self.t_last = int(t[-1])
        self.t_min = min(self.t_min, int(t.min()))
        self.t_max = max(self.t_max, int(t.max()))
        self.x_max = max(self.x_max, int(events["x"].max()))
        self.y_max = max(self.y_max, int(events["y"].max()))
        self.n_events += n
        self.n_on += int(np.count_nonzero(events["p"]))
        # per-packet sums fit in int64 (n <= a few million, values < 2^16 or dt < 2^40);
        # the running totals are Python ints, so they never overflow
        self.sum_x += int(events["x"].sum(dtype=np.int64))
        self.sum_y += int(events["y"].sum(dtype=np.int64))
        self.sum_dt += int((t - self.t_first).sum(dtype=np.int64))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d.update(self.extra)
        return d


def summarize_reader(reader: Any) -> RecordingSummary:
    """Stream a whole reader (an :class:`~ezsr_live.drivers.EventReader`) once."""
    summary = RecordingSummary()
    for chunk in reader.iter_chunks():
        summary.add(chunk.events)
        if len(chunk.triggers):
            if summary.t_first_trigger is None:
                summary.t_first_trigger = int(chunk.triggers["t"][0])
            summary.t_last_trigger = int(chunk.triggers["t"][-1])
        summary.n_triggers += len(chunk.triggers)
    return summary
