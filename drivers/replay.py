"""Replay of a recording, paced to the recording's own clock.

Pacing follows *event time*, not file order: a packet is cut into slices of about one
millisecond of wall time by the running maximum of its timestamps (RAW files step back
in time by a few µs now and then), and each slice is released when the wall clock
reaches its sensor time divided by the speed. The schedule is absolute (computed from
the replay's start, never from the previous sleep), so it cannot drift however long
the file; the thread sleeps once per slice, never per event.

Timestamps keep the recording's own clock (an .aedat4 file keeps its Unix µs).
``start_us``/``duration_us`` are relative to the first event of the file. With
``loop``, every pass after the first is shifted forward by the recording's span (plus
one slice) so that time keeps increasing for consumers.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterator

import numpy as np
from numba import njit

from ezsr_live.errors import SourceError
from ezsr_live.events import DEFAULT_CHUNK_EVENTS, EVENT_DTYPE, EventPacket, Geometry

from .registry import open_reader
from .sources import EventSource, register_scheme

#: wall time between two releases at any speed
SLICE_WALL_S = 0.001


class ReplaySource(EventSource):
    def __init__(
        self,
        path: str | os.PathLike,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        start_us: int = 0,
        duration_us: int | None = None,
        geometry: Geometry | None = None,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
        clock: Callable[[], float] = time.perf_counter,
        wait: Callable[[float], bool] | None = None,
        **_ignored: object,
    ) -> None:
        super().__init__()
        if speed is not None and not speed > 0:
            raise SourceError(f"replay speed must be > 0 or 'max', got {speed}")
        if start_us < 0 or (duration_us is not None and duration_us <= 0):
            raise SourceError("start_us must be >= 0 and duration_us > 0")
        self.path = os.fspath(path)
        self.speed = speed  # None = as fast as possible
        self.loop = loop
        self.start_us = int(start_us)
        self.duration_us = None if duration_us is None else int(duration_us)
        # clock and wait are injectable so that tests can check the schedule exactly;
        # wait(seconds) returns True when the replay was stopped meanwhile
        self._clock = clock
        self._wait = wait or self._stop_event.wait
        self.reader = open_reader(self.path, geometry=geometry, chunk_events=chunk_events)
        self.info = self.reader.info
        self.passes = 0

    # ------------------------------------------------------------------ helpers
    def _sleep_until(self, due: float) -> bool:
        """Wait for wall time ``due``; False if stopped meanwhile."""
        delay = due - self._clock()
        if delay > 0 and self._wait(delay):
            return False
        return not self._stop_event.is_set()

    def _filtered_pass(self) -> Iterator[EventPacket]:
        """One pass over the file, restricted to [start, start + duration) of event time."""
        origin: int | None = None
        lo = hi = 0
        for packet in self.reader:
            if origin is None:
                origin = int(packet["t"][0])
                lo = origin + self.start_us
                hi = lo + self.duration_us if self.duration_us is not None else None
            if self.start_us or hi is not None:
                t = packet["t"]
                keep = t >= lo
                if hi is not None:
                    keep &= t < hi
                    if int(t.min()) >= hi:
                        break
                packet = packet[keep]
            if len(packet):
                yield packet
            if self._stop_event.is_set():
                return

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[EventPacket]:
        self.status = "running"
        shift = 0  # added to timestamps of later loop passes
        t_base: int | None = None  # sensor time that maps to wall0
        wall0 = 0.0
        running_max = 0  # of event time so far; later loop passes are shifted past it
        while True:
            pass_min: int | None = None
            pass_max: int | None = None
            for packet in self._filtered_pass():
                if shift:
                    # copy as bytes: numpy copies packed records field by field, 10x slower
                    packet = np.ascontiguousarray(packet).view(np.uint8).copy().view(EVENT_DTYPE)
                    packet["t"] += shift
                t = packet["t"]
                if t_base is None:
                    t_base, wall0 = int(t[0]), self._clock()
                    running_max = t_base
                slice_us = max(1, int(SLICE_WALL_S * 1e6 * self.speed)) if self.speed is not None else 1 << 62
                ends, ends_t, pmin, pmax = _pacing_slices(t, running_max, t_base, slice_us)
                pass_min = pmin if pass_min is None else min(pass_min, pmin)
                pass_max = pmax if pass_max is None else max(pass_max, pmax)
                running_max = max(running_max, pmax)
                if self.speed is None:
                    yield packet
                    continue
                start = 0
                for end, end_t in zip(ends.tolist(), ends_t.tolist()):
                    due = wall0 + (end_t - t_base) / (self.speed * 1e6)
                    if not self._sleep_until(due):
                        self.status = "stopped"
                        return
                    yield packet[start:end]
                    start = end
                if self._stop_event.is_set():
                    break
            self.passes += 1
            if self._stop_event.is_set():
                self.status = "stopped"
                return
            if pass_min is None:
                self.status = "ended: no events in the selected range"
                return
            if not self.loop:
                self.status = "ended: end of recording"
                return
            span = pass_max - pass_min + 1 + int(SLICE_WALL_S * 1e6 * (self.speed or 1.0))
            shift += span


@njit(nogil=True, cache=True)
def _pacing_slices(t, running_max, t_base, slice_us):
    """Cut a packet where the running maximum of its timestamps (carried in from the
    previous packet) enters a new ``slice_us``-long slot after ``t_base``. Returns the
    end index of each slice, the running maximum at that end (when the slice is due),
    and the packet's min and max timestamps: one pass instead of numpy's seven."""
    n = t.size
    ends = np.empty(n, np.int64)
    ends_t = np.empty(n, np.int64)
    k = 0
    tmin = t[0]
    tmax = t[0]
    cur = running_max
    slot = (cur - t_base) // slice_us
    for i in range(n):
        ti = t[i]
        if ti < tmin:
            tmin = ti
        if ti > tmax:
            tmax = ti
        if ti > cur:
            s = (ti - t_base) // slice_us
            if s != slot and i > 0:
                ends[k] = i
                ends_t[k] = cur
                k += 1
            slot = s
            cur = ti
    ends[k] = n
    ends_t[k] = cur
    return ends[: k + 1], ends_t[: k + 1], tmin, tmax


@register_scheme("file")
def _open_replay(spec: str, **options: object) -> ReplaySource:
    path = spec[len("file://"):] if spec.lower().startswith("file://") else spec
    return ReplaySource(path, **options)
