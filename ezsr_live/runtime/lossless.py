"""The lossless hand-over of a pipeline: every consecutive window, the source held back.

A latest-wins pipeline cuts the newest window from its ring whenever the worker is
free. A lossless one (a replay recognised window by window, e.g. at ``--speed max``)
cuts every window, exactly as :func:`~ezsr_live.windows.iter_windows` cuts a file
offline, from a :class:`LosslessFeed`: the source thread admits its packets in pieces
of about one window, waiting while the feed holds :data:`FEED_WINDOWS` windows, so
the back-pressure reaches the source within a few windows and memory stays bounded.
Results then go through a bounded :class:`~ezsr_live.runtime.handover.ResultQueue`.
"""
from __future__ import annotations

from typing import Callable, Iterator

from ezsr_live.events import EventPacket
from ezsr_live.runtime.handover import PacketFeed
from ezsr_live.windows import Window, WindowSpec, iter_windows

#: windows the feed holds ahead of the worker (at most FEED_MAX_EVENTS, 27 MB)
FEED_WINDOWS = 2
FEED_MAX_EVENTS = 1 << 21
#: a time window's events are unknown until one is cut: the feed starts at this many a window
FIRST_WINDOW_EVENTS = 1 << 14
#: results the consumer may leave unread before the worker waits
RESULTS = 64


def feed_capacity(window_events: int) -> int:
    return max(1, min(FEED_MAX_EVENTS, FEED_WINDOWS * int(window_events)))


class LosslessFeed:
    """The bounded feed from one source thread to one worker, counted in events."""

    def __init__(self, window_events: int | None, stopped: Callable[[], bool]) -> None:
        self.feed = PacketFeed(feed_capacity(window_events or FIRST_WINDOW_EVENTS), stopped)
        self._stopped = stopped
        #: events the worker has taken (stream index of the next one it takes)
        self.taken = 0

    # source side
    def admit(self, packet: EventPacket, arrived: Callable[[EventPacket], None]) -> bool:
        """Put ``packet`` in, a piece of about a window at a time; ``arrived(piece)`` as each
        is taken in (when the worker can first see it). False once stopped."""
        step = max(1, self.feed.max_events // FEED_WINDOWS)
        for start in range(0, len(packet), step):
            piece = packet[start : start + step]
            if not self.feed.put(piece):
                return False
            arrived(piece)
        return True

    def close(self) -> None:
        self.feed.close()

    # worker side
    def packets(self, between: Callable[[], None]) -> Iterator[EventPacket]:
        """The packets until the source ends or the pipeline stops; ``between()`` runs
        before each (the worker's edits: they never wait for a window to complete)."""
        while not self._stopped():
            between()
            packet = self.feed.get(timeout=0.05)
            if packet is not None:
                self.taken += len(packet)
                yield packet
            elif self.feed.drained:
                return

    def windows(self, spec: Callable[[], WindowSpec], between: Callable[[], None]) -> Iterator[tuple[Window, int]]:
        """Every consecutive window of the stream, with the stream index just after its
        last event; when ``spec()`` changes, the cut starts again at the next packet (the
        window then being filled is not recognised). Ends with the source; a partial last
        window is not recognised, as offline."""
        packets = self.packets(between)
        while not self._stopped():
            current, base = spec(), self.taken
            for window in iter_windows(packets, current):
                yield window, base + window.stop_event
                # hold about FEED_WINDOWS windows of the size just cut (time windows vary)
                self.feed.max_events = feed_capacity(len(window))
                if spec() != current:
                    break
            else:
                return
