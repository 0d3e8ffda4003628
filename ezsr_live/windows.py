"""Event windows: what the recogniser looks at.

A window is a run of consecutive events of a stream, chosen either

* **by count** - the last ``n_events`` events (EZSR's models were trained on windows of
  about 15,000 events), or
* **by time** - the events of a span of ``duration_us`` microseconds.

Time is read through the stream's *clock*: the running maximum of the timestamps seen
so far. Real streams are not strictly time-ordered (EVT 3.0 TIME_LOW may step back), so
"the events with t in [a, b)" is not a contiguous run; "the events that arrived while
the clock was in [a, b)" is, and it is the same thing for a sorted stream. Timestamps
are the readers' unwrapped int64 microseconds, so sensor time wraps need no care here.

Two ways to cut windows:

* :class:`ezsr_live.runtime.ring.EventRingBuffer` - live: a producer thread pushes
  packets into a fixed-size ring, a consumer asks for the newest window whenever it is
  ready (latest wins: no queue builds up, the window rate follows the consumer's speed).
* :func:`iter_windows` (here) - offline: a deterministic iterator of consecutive or
  strided windows over a whole recording (a reader, any iterable of packets, or one
  array), exact across packet boundaries, in memory bounded by one window plus one packet.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ezsr_live.events import EVENT_DTYPE, EventPacket, as_event_packet, concat_events, copy_events
from ezsr_live.settings import DEFAULT_WINDOW_EVENTS, DEFAULT_WINDOW_MS

__all__ = ["WindowSpec", "Window", "iter_windows", "DEFAULT_WINDOW_EVENTS", "DEFAULT_WINDOW_MS"]


#: the clock before any event (the running maximum of no timestamps)
NO_TIME = np.iinfo(np.int64).min


@dataclass(frozen=True)
class WindowSpec:
    """How long a window is: exactly one of ``n_events`` or ``duration_us``."""

    n_events: int | None = None
    duration_us: int | None = None

    def __post_init__(self) -> None:
        if (self.n_events is None) == (self.duration_us is None):
            raise ValueError("a window is defined by exactly one of n_events or duration_us")
        if self.n_events is not None and int(self.n_events) < 1:
            raise ValueError(f"n_events must be at least 1, got {self.n_events}")
        if self.duration_us is not None and int(self.duration_us) < 1:
            raise ValueError(f"duration_us must be at least 1, got {self.duration_us}")

    @classmethod
    def by_events(cls, n_events: int = DEFAULT_WINDOW_EVENTS) -> "WindowSpec":
        return cls(n_events=int(n_events))

    @classmethod
    def by_time_ms(cls, milliseconds: float = DEFAULT_WINDOW_MS) -> "WindowSpec":
        return cls(duration_us=int(round(milliseconds * 1000)))

    @property
    def by_count(self) -> bool:
        return self.n_events is not None

    def __str__(self) -> str:
        if self.n_events is not None:
            return f"{self.n_events} events"
        return f"{self.span_us / 1000:g} ms"

    @property
    def span_us(self) -> int:
        """The length of a time window (µs); only for windows by time."""
        if self.duration_us is None:
            raise ValueError(f"{self} is a window by count, not by time")
        return self.duration_us


@dataclass(frozen=True)
class Window:
    """A window of events (its own copy) and where it lies in the stream.

    ``first_event`` is the stream index (0 = first event ever pushed or read) of
    ``events[0]``; ``stop_event = first_event + len(events)``. ``t_start_us``/``t_end_us``
    bound the window's clock span, half-open: for a time window, the requested span;
    for a count window, from its first event's clock to just after its last.
    ``complete`` is False when the stream (or the ring) did not hold the whole span.
    """

    events: EventPacket
    first_event: int
    t_start_us: int
    t_end_us: int
    complete: bool = True
    index: int = 0  # offline: the window's number k; live: the ring's cut counter

    @property
    def stop_event(self) -> int:
        return self.first_event + len(self.events)

    def __len__(self) -> int:
        return len(self.events)


def _as_packets(source: Iterable[EventPacket] | EventPacket) -> Iterator[EventPacket]:
    if isinstance(source, np.ndarray):
        yield as_event_packet(source, source="iter_windows events")
        return
    for packet in source:
        yield as_event_packet(packet, source="iter_windows packet")


def iter_windows(
    source: Iterable[EventPacket] | EventPacket,
    spec: WindowSpec,
    *,
    stride: int | None = None,
    t_origin_us: int | None = None,
    include_partial: bool = False,
    skip_empty: bool = True,
) -> Iterator[Window]:
    """Deterministic windows over a whole stream: a reader, packets, or one event array.

    Window k starts at ``k * stride`` - in events for count windows, in microseconds
    after ``t_origin_us`` (default: the first event's time) for time windows - and is
    ``spec`` long; ``stride`` defaults to the window length (consecutive windows). A
    time window [s, s + duration) holds the events that arrived while the clock was in
    that span (see the module docstring).

    Windows the stream ends inside are yielded only with ``include_partial`` (with
    ``complete=False``). Time windows without any event are skipped unless
    ``skip_empty`` is False. The result does not depend on how the stream is packetised.
    """
    if spec.n_events is not None:
        step = spec.n_events if stride is None else int(stride)
        if step < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        yield from _iter_count_windows(_as_packets(source), spec.n_events, step, include_partial)
    else:
        step = spec.span_us if stride is None else int(stride)
        if step < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        yield from _iter_time_windows(
            _as_packets(source), spec.span_us, step, t_origin_us, include_partial, skip_empty
        )


class _PendingEvents:
    """The not yet consumed tail of a stream, with the stream clock at each event."""

    def __init__(self) -> None:
        self.events = np.zeros(0, dtype=EVENT_DTYPE)
        self.clocks = np.zeros(0, dtype=np.int64)
        self.first = 0  # stream index of events[0]
        self.clock = NO_TIME  # the clock after the last event appended

    def __len__(self) -> int:
        return len(self.events)

    def append(self, packet: EventPacket) -> None:  # packets come through _as_packets
        clocks = np.maximum.accumulate(packet["t"])
        np.maximum(clocks, self.clock, out=clocks)
        self.clock = int(clocks[-1])
        self.events = concat_events([self.events, packet])
        self.clocks = np.concatenate([self.clocks, clocks])

    def drop(self, count: int) -> None:
        """Forget the first ``count`` pending events."""
        if count > 0:
            self.events = self.events[count:]
            self.clocks = self.clocks[count:]
            self.first += count

    def window(self, lo: int, hi: int, t_start: int, t_end: int, complete: bool, k: int) -> Window:
        return Window(copy_events(self.events[lo:hi]), self.first + lo, int(t_start), int(t_end), complete, k)


def _iter_count_windows(
    packets: Iterator[EventPacket], length: int, stride: int, include_partial: bool
) -> Iterator[Window]:
    pending = _PendingEvents()
    k = 0
    for packet in packets:
        if len(packet) == 0:
            continue
        pending.append(packet)
        while True:
            lo = k * stride - pending.first
            hi = lo + length
            if hi > len(pending):
                break
            yield pending.window(lo, hi, pending.clocks[lo], pending.clocks[hi - 1] + 1, True, k)
            k += 1
        # keep only what the next window needs
        pending.drop(min(k * stride - pending.first, len(pending)))
    if include_partial:
        while k * stride - pending.first < len(pending):
            lo = k * stride - pending.first
            yield pending.window(lo, len(pending), pending.clocks[lo], pending.clock + 1, False, k)
            k += 1


def _iter_time_windows(
    packets: Iterator[EventPacket],
    duration: int,
    stride: int,
    origin: int | None,
    include_partial: bool,
    skip_empty: bool,
) -> Iterator[Window]:
    pending = _PendingEvents()
    k = 0
    for packet in packets:
        if len(packet) == 0:
            continue
        pending.append(packet)
        if origin is None:
            origin = int(pending.clocks[0])
        clocks = pending.clocks
        while True:
            start = origin + k * stride
            end = start + duration
            hi = int(np.searchsorted(clocks, end, side="left"))
            if hi == len(clocks):
                break  # the stream has not reached the window's end yet
            lo = int(np.searchsorted(clocks, start, side="left"))
            if lo < hi or not skip_empty:
                yield pending.window(lo, hi, start, end, True, k)
                k += 1
            else:
                k = _next_window_with(int(clocks[lo]), origin, duration, stride, k)
        pending.drop(int(np.searchsorted(clocks, origin + k * stride, side="left")))
    if include_partial and origin is not None:
        while True:
            start = origin + k * stride
            lo = int(np.searchsorted(pending.clocks, start, side="left"))
            if lo == len(pending):
                break
            yield pending.window(lo, len(pending), start, start + duration, False, k)
            k += 1


def _next_window_with(clock: int, origin: int, duration: int, stride: int, k: int) -> int:
    """The first window after k whose span reaches ``clock`` (skips runs of empty windows)."""
    # smallest k' with origin + k' * stride + duration > clock
    return max(k + 1, (clock - origin - duration) // stride + 1)
