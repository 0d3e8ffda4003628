"""The live window source: the latest events of one stream in a ring of fixed capacity.

A producer thread pushes packets; consumers ask for the newest window (by count or by
time, see :mod:`ezsr_live.windows` for what a window is) whenever they are ready. The
Numba helpers below keep a small clock index, so that a time window is found by a
binary search over blocks and a short scan.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
from numba import njit

from ezsr_live.events import EVENT_DTYPE, EventPacket, as_event_packet, event_bytes
from ezsr_live.windows import NO_TIME, Window, WindowSpec

__all__ = ["EventRingBuffer"]

log = logging.getLogger(__name__)

#: events per block of the ring's clock index (a binary search over blocks, then a scan)
_BLOCK = 4096


@njit(nogil=True, cache=True)
def _max_or(t, lo, hi, initial):
    m = initial
    for i in range(lo, hi):
        if t[i] > m:
            m = t[i]
    return m


@njit(nogil=True, cache=True)
def _record_block_clocks(t, first_index, clock, block_clock, block):
    """Advance the clock over ``t`` (events first_index, first_index+1, ...) and store the
    clock at the end of every block touched (partial last block included)."""
    n_slots = block_clock.size
    i = 0
    while i < t.size:
        absolute = first_index + i
        b = absolute // block
        end = min(t.size, (b + 1) * block - first_index)
        for j in range(i, end):
            if t[j] > clock:
                clock = t[j]
        block_clock[b % n_slots] = clock
        i = end
    return clock


@njit(nogil=True, cache=True)
def _first_at_clock(t_ring, block_clock, block, oldest, total, clock_before_oldest, threshold):
    """Smallest stream index a in [oldest, total) whose clock is >= threshold (total if none).

    The clock of a is max(t of every event up to a, including evicted ones); block_clock
    holds it at the end of each block, so blocks are binary-searched, then one is scanned.
    """
    if total == oldest:
        return total
    if clock_before_oldest >= threshold:
        return oldest
    capacity = t_ring.size
    n_slots = block_clock.size
    lo_block = oldest // block
    hi_block = (total - 1) // block
    if block_clock[hi_block % n_slots] < threshold:
        return total
    while lo_block < hi_block:
        mid = (lo_block + hi_block) // 2
        if block_clock[mid % n_slots] >= threshold:
            hi_block = mid
        else:
            lo_block = mid + 1
    start = lo_block * block
    if start <= oldest:
        start = oldest
        clock = clock_before_oldest
    else:
        clock = block_clock[(lo_block - 1) % n_slots]
    for a in range(start, total):
        v = t_ring[a % capacity]
        if v > clock:
            clock = v
        if clock >= threshold:
            return a
    return total


class EventRingBuffer:
    """The latest events of one source, in a ring of fixed capacity (the memory cap).

    Thread-safe for one producer (:meth:`push`) and any consumers (:meth:`newest`,
    :meth:`wait_for_events`): a lock is held only while events are copied in or out, and
    large pushes are copied in slices so that a consumer never waits long. Memory:
    ``capacity`` x 13 bytes plus a small clock index.

    If a packet starts more than ``restart_gap_us`` before the stream's clock (a replay
    loop starting over, a camera reset), the ring clears itself first, so that the time
    windows follow the new timeline instead of waiting for the old clock to be reached.
    """

    _PUSH_SLICE = 1 << 16

    def __init__(self, capacity_events: int, *, restart_gap_us: int | None = 1_000_000) -> None:
        if capacity_events < 1:
            raise ValueError(f"capacity_events must be at least 1, got {capacity_events}")
        # a whole number of clock blocks keeps every block in one place of the ring
        self.capacity = -(-int(capacity_events) // _BLOCK) * _BLOCK
        self.restart_gap_us = restart_gap_us
        self._events = np.zeros(self.capacity, dtype=EVENT_DTYPE)
        self._t = self._events["t"]
        self._bytes = self._events.view(np.uint8)
        # commit the memory now (one write per page) rather than page-faulting on the
        # producer's hot path
        self._bytes[::4096] = 0
        # the clock at the end of each block; spare slots keep the block before the oldest
        # retained one available
        self._block_clock = np.full(self.capacity // _BLOCK + 3, NO_TIME, dtype=np.int64)
        self._lock = threading.Lock()
        self._pushed = threading.Condition(self._lock)
        self._total = 0  # events ever pushed since the last clear
        self._clock = NO_TIME  # running max of every timestamp pushed
        self._clock_before_oldest = NO_TIME  # the clock just before the oldest retained event
        self._cuts = 0
        self._generation = 0  # bumped by clear(), so consumers can notice a restart

    # ------------------------------------------------------------------ state
    @property
    def nbytes(self) -> int:
        return self._events.nbytes + self._block_clock.nbytes

    @property
    def total_pushed(self) -> int:
        """Events pushed since the last clear (the next event's stream index)."""
        return self._total

    @property
    def generation(self) -> int:
        """Number of clears so far; stream indices restart at 0 with each."""
        return self._generation

    def __len__(self) -> int:
        return min(self._total, self.capacity)

    def clear(self) -> None:
        with self._lock:
            self._clear_locked()

    def _clear_locked(self) -> None:
        self._total = 0
        self._clock = NO_TIME
        self._clock_before_oldest = NO_TIME
        self._block_clock[:] = NO_TIME
        self._generation += 1

    # ------------------------------------------------------------------ producer
    def push(self, events: EventPacket) -> None:
        """Append a packet (copied). Events beyond the capacity evict the oldest.
        Arrays of another dtype are converted by field name (:func:`as_event_packet`)."""
        events = as_event_packet(events, source="events pushed into the ring buffer")
        n = len(events)
        if n == 0:
            return
        if self.restart_gap_us is not None and self._clock != NO_TIME:
            if int(events["t"][0]) < self._clock - self.restart_gap_us:
                log.info("event time went back by %d us: ring buffer restarts", self._clock - int(events["t"][0]))
                self.clear()
        if n > self.capacity:
            # only the newest `capacity` events can stay; the others still advance the clock
            with self._lock:
                skipped = events[: n - self.capacity]
                self._total += len(skipped)
                self._clock = max(self._clock, int(skipped["t"].max()))
                self._clock_before_oldest = self._clock
                self._push_locked(events[n - self.capacity :])
            return
        step = min(self._PUSH_SLICE, self.capacity)
        for start in range(0, n, step):
            with self._lock:
                self._push_locked(events[start : start + step])

    def _push_locked(self, events: EventPacket) -> None:
        """Copy in at most `capacity` events (lock held)."""
        n = len(events)
        total = self._total
        oldest_before = max(0, total - self.capacity)
        oldest_after = max(0, total + n - self.capacity)
        if oldest_after > oldest_before:
            # the evicted events sit in the slots about to be overwritten
            self._clock_before_oldest = max(
                self._clock_before_oldest, self._max_over(oldest_before, oldest_after)
            )
        head = total % self.capacity
        first_part = min(n, self.capacity - head)
        size = EVENT_DTYPE.itemsize
        source = event_bytes(events)
        self._bytes[head * size : (head + first_part) * size] = source[: first_part * size]
        if first_part < n:
            self._bytes[: (n - first_part) * size] = source[first_part * size :]
        self._clock = int(_record_block_clocks(events["t"], total, self._clock, self._block_clock, _BLOCK))
        self._total = total + n
        self._pushed.notify_all()

    def _max_over(self, first: int, stop: int) -> int:
        """Largest timestamp of stream events [first, stop), all retained (lock held)."""
        if stop <= first:
            return NO_TIME
        lo = first % self.capacity
        hi = lo + (stop - first)
        clock = _max_or(self._t, lo, min(hi, self.capacity), NO_TIME)
        if hi > self.capacity:
            clock = _max_or(self._t, 0, hi - self.capacity, clock)
        return int(clock)

    def _clock_at(self, index: int, oldest: int) -> int:
        """The stream clock at retained event ``index`` (lock held)."""
        block = index // _BLOCK
        start = block * _BLOCK
        if start <= oldest:
            start, clock = oldest, self._clock_before_oldest
        else:
            clock = int(self._block_clock[(block - 1) % self._block_clock.size])
        return max(clock, self._max_over(start, index + 1))

    # ------------------------------------------------------------------ consumer
    def wait_for_events(self, after: int, timeout: float | None = None) -> bool:
        """Block until more than ``after`` events were pushed (or a clear); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._pushed:
            generation = self._generation
            while self._total <= after and self._generation == generation:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._pushed.wait(remaining)
            return True

    def newest(self, spec: WindowSpec, *, after: int | None = None, out: np.ndarray | None = None) -> Window | None:
        """The newest window, copied out; None when the ring is empty or, if ``after`` is
        given, when no event arrived since stream index ``after`` (a consumer passes the
        ``stop_event`` of its previous window, so an unchanged window is not recomputed;
        after a :meth:`clear` indices restart, and any ``after`` beyond them counts as new).

        With ``out`` (an :data:`EVENT_DTYPE` array) the events are copied into it when
        they fit, and the window's events are a view of it: a consumer that cuts many
        windows (the view, 60+ a second) reuses one buffer instead of allocating each."""
        with self._lock:
            total = self._total
            if total == 0 or (after is not None and total == after):
                return None
            oldest = max(0, total - self.capacity)
            t_end = self._clock + 1
            if spec.n_events is not None:
                first = max(oldest, total - spec.n_events)
                complete = total - first == spec.n_events
                t_start = self._clock_at(first, oldest)
            else:
                t_start = t_end - spec.span_us
                first = int(
                    _first_at_clock(
                        self._t, self._block_clock, _BLOCK, oldest, total, self._clock_before_oldest, t_start
                    )
                )
                # complete when an earlier event shows the clock was still before the span
                complete = first > oldest or NO_TIME < self._clock_before_oldest < t_start
            events = self._copy_out(first, total, out)
            self._cuts += 1
            return Window(events, first, int(t_start), int(t_end), bool(complete), self._cuts)

    def _copy_out(self, first: int, stop: int, into: np.ndarray | None = None) -> EventPacket:
        """Copy of stream events [first, stop), all retained (lock held), into ``into``
        if given, of this dtype and large enough."""
        n = stop - first
        size = EVENT_DTYPE.itemsize
        if into is not None and into.dtype == EVENT_DTYPE and into.flags.c_contiguous and len(into) >= n:
            out = into[:n].view(np.uint8)
        else:
            out = np.empty(n * size, dtype=np.uint8)
        lo = first % self.capacity
        first_part = min(n, self.capacity - lo)
        out[: first_part * size] = self._bytes[lo * size : (lo + first_part) * size]
        if first_part < n:
            out[first_part * size :] = self._bytes[: (n - first_part) * size]
        return out.view(EVENT_DTYPE)


