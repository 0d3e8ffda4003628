"""Stable time-ordering of an event stream within a bounded window.

Real RAW streams are not strictly time-ordered (EVT 3.0 TIME_LOW can step back by a
few µs), while some sinks (dv-processing's .aedat4 writer) need monotonic time. The
reorderer holds back only the events of the last ``window_us`` microseconds of sensor
time, so memory stays bounded whatever the stream length. As long as no event is
older than the window, its output equals a stable sort of the whole stream by ``t``;
an event that arrives later than that is re-timed to the newest emitted timestamp and
counted in :attr:`BoundedReorder.late_events`.
"""
from __future__ import annotations

import numpy as np

from ezsr_live.events import EventPacket, as_event_packet, empty_events


class BoundedReorder:
    def __init__(self, window_us: int = 50_000) -> None:
        if window_us < 0:
            raise ValueError("window_us must be >= 0")
        self.window_us = int(window_us)
        self._pending = empty_events(0)
        self._watermark: int | None = None  # newest timestamp emitted so far
        self._t_seen_max: int | None = None
        self.late_events = 0  # re-timed because they came after the window had passed
        self.moved_events = 0  # events that were out of order on input

    def push(self, events: EventPacket) -> EventPacket:
        """Take the next packet in file order; return the events that are now final."""
        events = as_event_packet(events)
        if len(events) == 0:
            return empty_events(0)
        t = events["t"]
        if self._watermark is not None:
            late = t < self._watermark
            n_late = int(np.count_nonzero(late))
            if n_late:
                events = events.copy()
                events["t"][late] = self._watermark
                self.late_events += n_late
                t = events["t"]
        self.moved_events += int(np.count_nonzero(np.diff(t) < 0))
        if len(self._pending) and t[0] < self._pending["t"][-1]:
            self.moved_events += 1
        tmax = int(t.max())
        self._t_seen_max = tmax if self._t_seen_max is None else max(self._t_seen_max, tmax)
        buf = np.concatenate((self._pending, events)) if len(self._pending) else events
        # stable: events with equal timestamps keep their file order
        buf = buf[np.argsort(buf["t"], kind="stable")]
        k = int(np.searchsorted(buf["t"], self._t_seen_max - self.window_us, side="right"))
        out, self._pending = buf[:k], buf[k:]
        if k:
            self._watermark = int(out["t"][-1])
        return out

    def flush(self) -> EventPacket:
        """Everything still held back, in order; call once at the end of the stream."""
        out, self._pending = self._pending, empty_events(0)
        if len(out):
            self._watermark = int(out["t"][-1])
        return out
