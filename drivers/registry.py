"""Registries of file readers and writers, keyed by file extension.

A new format is one module that decorates its classes with :func:`register_reader` /
:func:`register_writer`, plus one line in ``_FORMAT_MODULES``.
"""
from __future__ import annotations

import importlib
import os
from typing import Any, Callable, TypeVar

from ezsr_live.errors import FormatError, StorageError
from ezsr_live.events import DEFAULT_CHUNK_EVENTS, Geometry
from ezsr_live.fileio import describe_failed_write

from .base import EventReader, EventWriter
from .guarded import GuardedWriter
from .isolated import IsolatedWriter
from .reorder import DEFAULT_REORDER_WINDOW_US, ReorderingWriter

# modules that register formats; imported on first use, not at package import, so
# that `import ezsr_live.drivers` stays cheap (dv-processing loads only when needed)
_FORMAT_MODULES = (
    "ezsr_live.drivers.raw",
    "ezsr_live.drivers.aedat4",
    "ezsr_live.drivers.dat",
    "ezsr_live.drivers.npz",
    "ezsr_live.drivers.atis_bin",
    "ezsr_live.drivers.aedat2",
    "ezsr_live.drivers.hdf5",
)

_READERS: dict[str, type[EventReader]] = {}
_WRITERS: dict[str, type[EventWriter]] = {}
_loaded = False

R = TypeVar("R", bound=type[EventReader])
W = TypeVar("W", bound=type[EventWriter])


def register_reader(*extensions: str) -> Callable[[R], R]:
    def deco(cls: R) -> R:
        for ext in extensions:
            _READERS[ext.lower()] = cls
        return cls

    return deco


def register_writer(*extensions: str) -> Callable[[W], W]:
    def deco(cls: W) -> W:
        for ext in extensions:
            _WRITERS[ext.lower()] = cls
        return cls

    return deco


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in _FORMAT_MODULES:
            importlib.import_module(name)
        _loaded = True


def _extension(path: str) -> str:
    name = os.path.basename(path).lower()
    # longest registered suffix wins (".aedat4" before ".aedat")
    for ext in sorted(set(_READERS) | set(_WRITERS), key=len, reverse=True):
        if name.endswith(ext):
            return ext
    return os.path.splitext(name)[1]


def reader_extensions() -> list[str]:
    _load()
    return sorted(_READERS)


def writer_extensions() -> list[str]:
    _load()
    return sorted(_WRITERS)


def recording_extensions() -> list[str]:
    """The writable extensions a live recording may use: the crash-safe formats."""
    _load()
    return sorted(ext for ext, cls in _WRITERS.items() if cls.crash_safe)


def open_reader(
    path: str | os.PathLike,
    *,
    geometry: Geometry | None = None,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
) -> EventReader:
    """Open a recording for streaming reads, choosing the reader by extension.

    Raises :class:`FormatError` naming the file for an unknown extension, a missing or
    empty file, or a header the reader cannot accept.
    """
    _load()
    path = os.fspath(path)
    ext = _extension(path)
    cls = _READERS.get(ext)
    if cls is None:
        raise FormatError(path, f"unknown recording extension {ext!r}; readable: {', '.join(sorted(_READERS))}")
    if not os.path.exists(path):
        raise FormatError(path, "no such file")
    if os.path.isdir(path):
        raise FormatError(path, "is a directory, not a recording")
    if os.path.getsize(path) == 0:
        raise FormatError(path, "empty file", 0)
    return cls(path, geometry=geometry, chunk_events=chunk_events)


def check_writable(path: str | os.PathLike, *, recording: bool = False) -> type[EventWriter]:
    """The writer class for ``path``, or :class:`FormatError` naming it: an extension
    nobody writes, a folder that does not exist, or (``recording``) a format a crash
    would lose. :func:`open_writer` checks this too; a command that reads before it
    writes calls it first, so that a wrong output is refused before the input is read."""
    _load()
    path = os.fspath(path)
    ext = _extension(path)
    cls = _WRITERS.get(ext)
    if cls is None:
        raise FormatError(path, f"cannot write {ext!r} files; writable: {', '.join(sorted(_WRITERS))}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FormatError(path, f"cannot create it: the folder {folder} does not exist")
    if recording and not cls.crash_safe:
        safe = ", ".join(recording_extensions())
        raise FormatError(path, f"{ext} cannot record a live source: the file is readable only once "
                          f"complete, so a crash would lose all of it; record to {safe} and "
                          f"convert afterwards (ezsr convert)")
    return cls


def open_writer(
    path: str | os.PathLike,
    geometry: Geometry,
    *,
    reorder_window_us: int = DEFAULT_REORDER_WINDOW_US,
    recording: bool = False,
    **kwargs: Any,
) -> GuardedWriter:
    """Create a recording, choosing the writer by extension.

    A format that declares ``requires_monotonic`` (.aedat4) gets the stream through a
    :class:`~ezsr_live.drivers.reorder.ReorderingWriter`: sorted stably within
    ``reorder_window_us`` of sensor time, later events re-timed and counted. Every
    writer comes wrapped in a :class:`~ezsr_live.drivers.guarded.GuardedWriter`: a
    failed write (full disk, ...) is one :class:`StorageError` and leaves no file.

    ``recording=True`` is for live recordings, which a crash can cut: only crash-safe
    formats are accepted, and a file cut by a full disk is kept (it reads back).
    """
    path = os.fspath(path)
    cls = check_writable(path, recording=recording)
    try:
        writer: EventWriter = IsolatedWriter(cls, path, geometry, **kwargs) if cls.isolated else cls(path, geometry, **kwargs)
    except OSError as exc:
        raise StorageError(path, describe_failed_write(path, exc)) from None
    if cls.requires_monotonic:
        writer = ReorderingWriter(writer, reorder_window_us)
    return GuardedWriter(writer, keep_partial=recording)
