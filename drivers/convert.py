"""Stream any readable recording into any writable format, atomically."""
from __future__ import annotations

import os
from typing import Any

from ezsr_live.errors import FormatError, StorageError
from ezsr_live.events import Geometry
from ezsr_live.fileio import atomic_path

from .registry import check_writable, open_writer, open_reader
from .reorder import DEFAULT_REORDER_WINDOW_US


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    geometry: Geometry | None = None,
    reorder_window_us: int = DEFAULT_REORDER_WINDOW_US,
    **writer_options: Any,
) -> dict[str, int]:
    """Convert ``src`` into ``dst``; the output appears only when complete (atomic rename).

    A format that needs monotonic time is reordered within ``reorder_window_us`` (see
    :func:`~ezsr_live.drivers.open_writer`). Returns counters: events written, events
    moved by reordering, late events re-timed.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if os.path.exists(dst) and os.path.exists(src) and os.path.samefile(src, dst):
        raise FormatError(dst, "output is the input file")
    check_writable(dst)  # before reading: a wrong output is refused at once, under its own name
    reader = open_reader(src, geometry=geometry)
    try:
        with atomic_path(dst) as tmp:
            writer = open_writer(tmp, reader.geometry, info=reader.info, reorder_window_us=reorder_window_us,
                                 **writer_options)
            try:
                with reader:
                    for chunk in reader.iter_chunks():
                        if len(chunk.events):
                            writer.write(chunk.events)
                        if len(chunk.triggers):
                            writer.write_triggers(chunk.triggers)
            except BaseException:
                writer.abort()  # the original error matters, not finishing the file
                raise
            writer.close()
    except StorageError as exc:
        # the writer wrote a temporary file (now removed): name the file the user asked for
        raise StorageError(dst, exc.problem.replace(os.fspath(tmp), dst)) from None
    return {
        "events_written": writer.n_written,
        "reordered_events": writer.moved_events,
        "late_events": writer.late_events,
    }
