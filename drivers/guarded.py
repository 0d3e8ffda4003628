"""What every writer gets from :func:`~ezsr_live.drivers.open_writer`: failed writes
as one line, no partial file left behind, and flushes at bounded intervals.

A write that fails in the operating system (a full disk, a quota, a file-size limit,
an I/O error) surfaces as an :class:`OSError` from whichever layer hit it: a Python
file, h5py, zipfile, or the dv-processing child of the .aedat4 writer, which reports
its errno on exit. :class:`GuardedWriter` catches it at the one place every writer
passes, releases the writer (:meth:`EventWriter.abort`), removes the file unless the
caller keeps cut recordings, and raises a :class:`~ezsr_live.errors.StorageError`:
``OUT: no space left on device (0 B free in /data)``.

It also calls :meth:`EventWriter.flush` whenever :data:`FLUSH_INTERVAL_S` of wall
time or of event time, or :data:`FLUSH_EVENTS` events, have passed since the last
flush, so that a crash loses at most that much of what a crash-safe format recorded.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from ezsr_live.errors import StorageError
from ezsr_live.events import EventPacket
from ezsr_live.fileio import describe_failed_write

from .base import EventWriter
from .reorder import ReorderingWriter

#: flush at least this often, in wall-clock seconds and in seconds of event time
FLUSH_INTERVAL_S = 1.0
#: ... and after this many events (52 MB of packets)
FLUSH_EVENTS = 4 << 20


class GuardedWriter(EventWriter):
    """Wraps the writer :func:`~ezsr_live.drivers.open_writer` built (see the module
    docstring). ``keep_partial``: after a failure, keep what was written (live
    recordings of crash-safe formats) instead of removing it."""

    def __init__(self, inner: EventWriter, *, keep_partial: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # not EventWriter.__init__: path, geometry and counts are the inner writer's
        self.inner = inner
        self.path = inner.path
        self.geometry = inner.geometry
        self.source_info = inner.source_info
        self.format = inner.format  # type: ignore[misc]  # the inner writer's, per instance
        self.keep_partial = keep_partial
        self._clock = clock
        self._flushed_at = clock()
        self._flushed_t: int | None = None
        self._unflushed = 0
        self._done = False

    @property
    def n_written(self) -> int:  # type: ignore[override]  # a read-only view of the inner writer's count
        return self.inner.n_written

    @property
    def moved_events(self) -> int:
        """Events that were out of order on input (for formats that reorder)."""
        return self.inner.moved_events if isinstance(self.inner, ReorderingWriter) else 0

    @property
    def late_events(self) -> int:
        """Events later than the reordering window, re-timed."""
        return self.inner.late_events if isinstance(self.inner, ReorderingWriter) else 0

    def _guarded(self, step: Callable[[], None]) -> None:
        if self._done:
            raise StorageError(self.path, "write after the file was closed or failed")
        try:
            step()
        except OSError as exc:
            self._done = True
            self.inner.abort()
            problem = describe_failed_write(self.path, exc)
            if self.keep_partial and os.path.isfile(self.path):
                problem += "; the recording is kept up to there, cut short (it reads back, with a warning)"
            else:
                self._remove()
            raise StorageError(self.path, problem) from None

    def _remove(self) -> None:
        try:
            if os.path.isfile(self.path) or os.path.islink(self.path):
                os.unlink(self.path)
        except OSError:
            pass

    def write(self, events: EventPacket) -> None:
        self._guarded(lambda: self.inner.write(events))
        n = len(events)
        if not n:
            return
        self._unflushed += n
        t_last = int(np.asarray(events["t"])[-1])
        if self._flushed_t is None:
            self._flushed_t = t_last
        now = self._clock()
        if (now - self._flushed_at >= FLUSH_INTERVAL_S or self._unflushed >= FLUSH_EVENTS
                or t_last - self._flushed_t >= FLUSH_INTERVAL_S * 1e6):
            self.flush()
            self._flushed_at, self._flushed_t, self._unflushed = now, t_last, 0

    def write_triggers(self, triggers: np.ndarray) -> None:
        self._guarded(lambda: self.inner.write_triggers(triggers))

    def flush(self) -> None:
        self._guarded(self.inner.flush)

    def close(self) -> None:
        if self._done:
            return
        self._guarded(self.inner.close)
        self._done = True

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self.inner.abort()
            if not self.keep_partial:
                self._remove()
