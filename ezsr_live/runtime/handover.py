"""Hand-overs between threads that never queue without bound.

:class:`PacketBuffer` sits between a source thread and its consumer: when the consumer
falls behind, the *oldest* packets are dropped (live data is worth more than stale
data) and the drops are counted. :class:`SourceThread` runs any iterable source in its
own thread and feeds such a buffer. :class:`LatestSlot` hands the newest result to a
consumer (the GUI, the headless printer) and counts what was overwritten unread. The
third hand-over, window → worker, is :class:`~ezsr_live.runtime.ring.EventRingBuffer`.

A lossless replay (every window recognised, none skipped) swaps the two drop-newest
hand-overs for blocking ones: :class:`PacketFeed` holds the source back while the
worker is behind, and :class:`ResultQueue` holds the worker back while the consumer is
behind. Both are bounded, so back-pressure replaces dropping, never memory growth.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable, Iterable, Iterator

from ezsr_live.events import EventPacket
from ezsr_live.sources import Stoppable

log = logging.getLogger(__name__)


class PacketBuffer:
    """Bounded FIFO of event packets, drop-oldest, for one producer and one consumer."""

    def __init__(self, max_events: int = 8 << 20, max_packets: int = 4096) -> None:
        self.max_events = int(max_events)
        self.max_packets = int(max_packets)
        self._queue: collections.deque[EventPacket] = collections.deque()
        self._n_events = 0
        self._cond = threading.Condition()
        self._closed = False
        self.events_dropped = 0
        self.packets_dropped = 0
        self.events_in = 0

    def put(self, packet: EventPacket) -> None:
        with self._cond:
            if self._closed:
                return
            self._queue.append(packet)
            self._n_events += len(packet)
            self.events_in += len(packet)
            # keep at least the newest packet, however large
            while len(self._queue) > 1 and (self._n_events > self.max_events or len(self._queue) > self.max_packets):
                old = self._queue.popleft()
                self._n_events -= len(old)
                self.events_dropped += len(old)
                self.packets_dropped += 1
            self._cond.notify()

    def get(self, timeout: float | None = None) -> EventPacket | None:
        """Oldest buffered packet; None on timeout or once closed and drained."""
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(timeout)
            if not self._queue:
                return None
            packet = self._queue.popleft()
            self._n_events -= len(packet)
            self._cond.notify_all()  # a producer waiting for room (PacketFeed)
            return packet

    def close(self) -> None:
        """No more packets will come; a waiting consumer wakes up (what is buffered stays
        readable)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def drained(self) -> bool:
        with self._cond:
            return self._closed and not self._queue

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def buffered_events(self) -> int:
        return self._n_events


class SourceThread:
    """Runs a source (anything iterable over packets, optionally with ``stop()``) in a
    daemon thread, feeding a :class:`PacketBuffer`; iterate it to consume.

    ``tap`` (e.g. a recorder) sees every packet the source produced, before any drop.
    An exception in the source is kept in :attr:`error` and re-raised to the consumer
    once the buffer is drained, so that failures never turn into silent hangs.
    """

    def __init__(
        self,
        source: Iterable[EventPacket],
        buffer: PacketBuffer | None = None,
        *,
        tap: Callable[[EventPacket], Any] | None = None,
        name: str = "ezsr-source",
    ) -> None:
        self.source = source
        self.buffer = buffer if buffer is not None else PacketBuffer()
        self.tap = tap
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "SourceThread":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for packet in self.source:
                if self._stop.is_set():
                    break
                if self.tap is not None:
                    self.tap(packet)
                self.buffer.put(packet)
        except BaseException as exc:  # surfaced to the consumer, never swallowed
            self.error = exc
            log.debug("source thread failed", exc_info=True)
        finally:
            self.buffer.close()

    def stop(self, timeout: float = 2.0) -> bool:
        """Ask the source to stop and wait for the thread; True if it ended in time."""
        self._stop.set()
        if isinstance(self.source, Stoppable):
            self.source.stop()
        self.buffer.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __iter__(self) -> Iterator[EventPacket]:
        while True:
            packet = self.buffer.get(timeout=0.1)
            if packet is not None:
                yield packet
            elif self.buffer.drained:
                break
        if self.error is not None:
            raise self.error

    def __enter__(self) -> "SourceThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LatestSlot:
    """Holds only the newest item; counts items that were overwritten unread."""

    def __init__(self) -> None:
        self._item: Any = None
        self._cond = threading.Condition()
        self._closed = False
        self.overwritten = 0
        self.published = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.overwritten += 1
            self._item = item
            self.published += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The newest item (removing it), waiting up to ``timeout``; None if none."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def peek(self) -> Any:
        with self._cond:
            return self._item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (for tests and shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


class PacketFeed(PacketBuffer):
    """:class:`PacketBuffer` with back-pressure instead of dropping: :meth:`put` waits
    while more than ``max_events`` are buffered (the newest packet is always accepted into
    an empty feed, however large). ``stopped`` is polled while waiting, so that a stop
    never leaves the producer blocked."""

    def __init__(self, max_events: int, stopped: Callable[[], bool]) -> None:
        super().__init__(max_events=max(1, int(max_events)))
        self._stopped = stopped
        #: seconds the producer spent waiting for the consumer (the back-pressure applied)
        self.wait_s = 0.0

    def put(self, packet: EventPacket) -> bool:  # type: ignore[override]  # says whether it was taken
        """Append ``packet``, waiting while the feed is full; False once stopped or closed."""
        with self._cond:
            t0 = None
            while self._queue and self._n_events + len(packet) > self.max_events:
                if self._closed or self._stopped():
                    return False
                t0 = time.perf_counter() if t0 is None else t0
                self._cond.wait(0.05)
            if t0 is not None:
                self.wait_s += time.perf_counter() - t0
            if self._closed:
                return False
            self._queue.append(packet)
            self._n_events += len(packet)
            self.events_in += len(packet)
            self._cond.notify_all()
            return True


class ResultQueue:
    """Bounded FIFO of results with :class:`LatestSlot`'s interface: nothing is overwritten;
    :meth:`put` waits while ``capacity`` results are unread (polling ``stopped``)."""

    def __init__(self, capacity: int = 64, stopped: Callable[[], bool] = lambda: False) -> None:
        self.capacity = max(1, int(capacity))
        self._stopped = stopped
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self.overwritten = 0  # never: kept for LatestSlot's readers
        self.published = 0

    def put(self, item: Any) -> None:
        with self._cond:
            while len(self._items) >= self.capacity:
                if self._closed or self._stopped():
                    return
                self._cond.wait(0.05)
            self._items.append(item)
            self.published += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Any:
        """The oldest unread item (removing it), waiting up to ``timeout``; None if none."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def peek(self) -> Any:
        with self._cond:
            return self._items[-1] if self._items else None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)
