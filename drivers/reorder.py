"""Stable time-ordering of an event stream within a bounded window.

Real RAW streams are not strictly time-ordered (EVT 3.0 TIME_LOW can step back by a
few µs), while some sinks (dv-processing's .aedat4 writer) need monotonic time. The
reorderer holds back only the events of the last ``window_us`` microseconds of sensor
time, so memory stays bounded whatever the stream length. As long as no event is
older than the window, its output equals a stable sort of the whole stream by ``t``;
an event that arrives later than that is re-timed to the newest emitted timestamp and
counted in :attr:`BoundedReorder.late_events`.

:class:`ReorderingWriter` puts a reorderer in front of a writer whose format declares
``requires_monotonic``; :func:`~ezsr_live.drivers.open_writer` does that by itself, so
``ezsr convert``, ``ezsr record`` and ``--record`` all write such formats from any input.
"""
from __future__ import annotations

import numpy as np

from ezsr_live.events import EventPacket, as_event_packet, concat_events, empty_events

from .base import EventWriter

#: how much sensor time a reorderer holds back by default (µs)
DEFAULT_REORDER_WINDOW_US = 50_000


class BoundedReorder:
    def __init__(self, window_us: int = DEFAULT_REORDER_WINDOW_US) -> None:
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
        buf = concat_events([self._pending, events]) if len(self._pending) else events
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


class ReorderingWriter(EventWriter):
    """A writer for a format that needs monotonic time, fed through a
    :class:`BoundedReorder`; the counters say what the reordering did."""

    def __init__(self, inner: EventWriter, window_us: int = DEFAULT_REORDER_WINDOW_US) -> None:
        # not EventWriter.__init__: path, geometry and counts are the inner writer's
        self.inner = inner
        self.path = inner.path
        self.geometry = inner.geometry
        self.source_info = inner.source_info
        self.format = inner.format  # type: ignore[misc]
        self.reorder = BoundedReorder(window_us)
        self._closed = False

    @property
    def n_written(self) -> int:  # type: ignore[override]  # a read-only view of the inner writer's count
        return self.inner.n_written

    @property
    def moved_events(self) -> int:
        """Events that were out of order on input."""
        return self.reorder.moved_events

    @property
    def late_events(self) -> int:
        """Events later than the window, re-timed to keep time monotonic."""
        return self.reorder.late_events

    def write(self, events: EventPacket) -> None:
        out = self.reorder.push(events)
        if len(out):
            self.inner.write(out)

    def write_triggers(self, triggers: np.ndarray) -> None:
        self.inner.write_triggers(triggers)

    def flush(self) -> None:
        # the events held back for reordering stay held: at most the window is lost
        self.inner.flush()

    def abort(self) -> None:
        self._closed = True
        self.inner.abort()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            rest = self.reorder.flush()
            if len(rest):
                self.inner.write(rest)
        finally:
            self.inner.close()
