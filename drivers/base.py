"""Base classes of file readers and writers.

A reader turns one recording into a stream of event packets (see
:mod:`ezsr_live.events`) in bounded-size chunks, so that a multi-GB file replays in
constant memory. Iterating a reader again starts again from the beginning (replay
``--loop`` relies on this). A writer takes packets in and produces a file that the
matching reader returns identically.
"""
from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

import numpy as np

from ezsr_live.events import (
    DEFAULT_CHUNK_EVENTS,
    EVENT_DTYPE,
    TRIGGER_DTYPE,
    EventPacket,
    Geometry,
    SourceInfo,
    whole_file_buffer,
)


@dataclass
class Chunk:
    """One step of a reader: CD events and the external triggers decoded with them."""

    events: EventPacket
    triggers: np.ndarray = field(default_factory=lambda: np.zeros(0, TRIGGER_DTYPE))


@dataclass
class ReaderStats:
    """Counters a reader keeps while decoding (reset at each new iteration)."""

    out_of_bounds: int = 0  # CD events whose coordinates fall outside the geometry, dropped
    unknown_words: int = 0  # RAW words of an unknown or unsupported type, skipped
    before_first_time_high: int = 0  # RAW CD events before the first TIME_HIGH, dropped


class EventReader(abc.ABC):
    """A recording opened for streaming reads.

    Subclasses implement :meth:`_open`, which sets :attr:`info` (validating the header
    there, so that a bad file fails at open time with a
    :class:`~ezsr_live.errors.FormatError`), and :meth:`iter_chunks`.
    """

    #: short format name, e.g. "evt3"; also the value of ``info.format``
    format: ClassVar[str] = ""
    #: the counters this reader keeps (a format may add its own)
    stats_type: ClassVar[type[ReaderStats]] = ReaderStats

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        geometry: Geometry | None = None,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
    ) -> None:
        self.path = os.fspath(path)
        self.requested_geometry = geometry
        self.chunk_events = int(chunk_events)
        if self.chunk_events < 1:
            raise ValueError(f"chunk_events must be at least 1, got {chunk_events}")
        self.stats = self.stats_type()
        self.info: SourceInfo  # set by _open
        self._open()

    @abc.abstractmethod
    def _open(self) -> None:
        """Read and check the header; set :attr:`info` (``requested_geometry`` wins)."""

    @property
    def geometry(self) -> Geometry:
        return self.info.geometry

    @abc.abstractmethod
    def iter_chunks(self) -> Iterator[Chunk]:
        """Yield chunks from the start of the file, each with at most ``chunk_events``
        CD events (and any number of triggers, which are rare)."""

    def __iter__(self) -> Iterator[EventPacket]:
        for chunk in self.iter_chunks():
            if len(chunk.events):
                yield chunk.events

    def estimated_events(self) -> int | None:
        """About how many CD events the file holds (from its size), if the format can
        tell cheaply; :meth:`read_all` sizes its buffer from it."""
        return None

    def read_all(self) -> EventPacket:
        """Every CD event of the file in one packet.

        Chunks are copied as bytes into one buffer sized from :meth:`estimated_events`
        and resized in place (``realloc``: the kernel remaps pages, nothing is copied)
        when short and at the end. Pages of the estimate that no event reaches are never
        touched, so resident memory peaks at the result plus one chunk; no list of
        chunks is kept, and no field-by-field concatenation of the packed dtype runs
        (5x slower than memcpy)."""
        out = whole_file_buffer(max(int(self.estimated_events() or 0), 1 << 16))
        n = 0
        for packet in self:
            m = len(packet)
            if n + m > len(out):
                out.resize(max(n + m, len(out) + len(out) // 2), refcheck=False)  # no view of it exists
            _copy_bytes(out, n, packet)
            n += m
        out.resize(n, refcheck=False)
        return out

    def close(self) -> None:
        """Release file handles (readers open files per iteration, so this is often a no-op)."""

    def __enter__(self) -> "EventReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _copy_bytes(out: EventPacket, at: int, packet: EventPacket) -> None:
    """``out[at:at + len(packet)] = packet`` as one memcpy of the packed records."""
    if packet.dtype == EVENT_DTYPE and packet.flags.c_contiguous:
        out[at:at + len(packet)].view(np.uint8)[:] = packet.view(np.uint8)
    else:
        out[at:at + len(packet)] = packet


class EventWriter(abc.ABC):
    """A recording opened for writing; use as a context manager."""

    format: ClassVar[str] = ""
    #: the format stores events only in non-decreasing time: :func:`~ezsr_live.drivers.open_writer`
    #: then wraps the writer in a :class:`~ezsr_live.drivers.reorder.ReorderingWriter`
    requires_monotonic: ClassVar[bool] = False
    #: a file this writer leaves when its process dies (or the disk fills) reads back up
    #: to its last flush: its reader accepts the cut tail with a warning. Only such
    #: formats record live (``open_writer(..., recording=True)``).
    crash_safe: ClassVar[bool] = False
    #: the format's library can take the process down when a write fails (dv-processing
    #: aborts, HDF5 crashes after a full disk): ``open_writer`` runs it in a child process
    isolated: ClassVar[bool] = False

    def __init__(self, path: str | os.PathLike, geometry: Geometry, *, info: SourceInfo | None = None) -> None:
        self.path = os.fspath(path)
        self.geometry = geometry
        self.source_info = info
        self.n_written = 0

    @abc.abstractmethod
    def write(self, events: EventPacket) -> None:
        """Append CD events (in the order given)."""

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append trigger events; formats without triggers ignore them."""

    def flush(self) -> None:
        """Hand what is buffered to the operating system, so that a crash of this
        process loses nothing written so far (called at bounded intervals)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and close; the file is complete only after this."""

    def abort(self) -> None:
        """Give up after a failure: release what the writer holds without finishing the
        file (the caller removes or keeps what is there). Never raises."""
        try:
            self.close()
        except Exception:  # noqa: BLE001 - the failure that led here is the one to report
            pass

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
