"""What a live event source is, as the runtime and the window use it.

Every source (``ezsr_live.drivers.sources.EventSource`` and its subclasses, or anything
third-party) is an iterable of event packets over a known sensor geometry; what some
sources can do besides (stop from another thread, describe themselves, seek, change
speed, warm up their decoders ahead of their thread) is a separate capability,
checked with ``isinstance`` against the runtime-checkable protocols below rather than
probed attribute by attribute.
"""
from __future__ import annotations

from typing import Any, Iterator, Protocol, runtime_checkable

from ezsr_live.events import EventPacket, Geometry, SourceInfo


@runtime_checkable
class EventSourceLike(Protocol):
    """The least a source is: an iterable of packets over a known sensor. A user's own
    generator-like class qualifies; the capabilities below are optional."""

    @property
    def geometry(self) -> Geometry: ...

    def __iter__(self) -> Iterator[EventPacket]: ...


@runtime_checkable
class Stoppable(Protocol):
    """Ends its iteration soon when :meth:`stop` is called from any thread."""

    def stop(self) -> None: ...


@runtime_checkable
class Described(Protocol):
    """Says what it is (:class:`~ezsr_live.events.SourceInfo`) and how it is doing
    (``status``: "open", "running", "ended", ...)."""

    info: SourceInfo
    status: str


@runtime_checkable
class WarmsUp(Protocol):
    """Runs its decoding kernels once on the calling thread before its own thread starts;
    returns a few decoded events, or None where there is nothing to decode ahead."""

    def warm_up(self) -> EventPacket | None: ...


@runtime_checkable
class CountsOutOfBounds(Protocol):
    """Counts the events it dropped because they fell outside the sensor."""

    out_of_bounds: int


@runtime_checkable
class SpeedControl(Protocol):
    """A paced replay whose speed can change while it runs (None: as fast as possible)."""

    speed: float | None

    def set_speed(self, speed: float | None) -> None: ...


@runtime_checkable
class Seekable(Protocol):
    """A replay that can jump within the recording; tells where it is."""

    position_us: int
    span_us: int

    def seek(self, t_offset_us: int) -> None: ...


@runtime_checkable
class MeasuresSpan(Protocol):
    """Can learn the recording's whole span ahead (in a background thread of its own)."""

    def measure_span(self) -> Any: ...


@runtime_checkable
class Pausable(Protocol):
    """A replay whose own clock can be held: :meth:`pause` stops releasing events,
    :meth:`step` releases the next window's worth and holds again; ``holding`` is true
    once a step's events are all out, ``holds`` counts the holds so far."""

    @property
    def paused(self) -> bool: ...

    @property
    def holding(self) -> bool: ...

    holds: int

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step(self, *, n_events: int | None = None, duration_us: int | None = None) -> None: ...


@runtime_checkable
class HoldsAtEnd(Protocol):
    """Can wait at the end of the recording (``at_end``) for a seek instead of ending,
    when ``hold_at_end`` is set (the window sets it)."""

    hold_at_end: bool
    at_end: bool
