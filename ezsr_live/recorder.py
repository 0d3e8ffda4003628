"""Recording what a live source delivers, with any writer the drivers provide."""
from __future__ import annotations

import logging
import os
import threading

from ezsr_live.events import EventPacket, Geometry, SourceInfo
from ezsr_live.reorder import BoundedReorder

log = logging.getLogger(__name__)


class Recorder:
    """Writes packets to ``path`` (format by extension) as they are seen.

    Writers that need monotonic time (.aedat4) get the stream through a
    :class:`~ezsr_live.reorder.BoundedReorder`, so that a RAW camera's small
    backward time steps do not make the recording fail.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        geometry: Geometry,
        info: SourceInfo | None = None,
        *,
        reorder_window_us: int = 50_000,
    ) -> None:
        from ezsr_live.drivers import open_writer

        self.path = os.fspath(path)
        self._writer = open_writer(self.path, geometry, info=info)
        self._reorder = BoundedReorder(reorder_window_us) if getattr(self._writer, "requires_monotonic", False) else None
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, packet: EventPacket) -> None:
        self.write(packet)

    def write(self, packet: EventPacket) -> None:
        with self._lock:
            if self._closed:
                return
            out = self._reorder.push(packet) if self._reorder else packet
            if len(out):
                self._writer.write(out)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._reorder:
                rest = self._reorder.flush()
                if len(rest):
                    self._writer.write(rest)
                if self._reorder.late_events:
                    log.warning("%s: %d late events were re-timed to keep time monotonic",
                                self.path, self._reorder.late_events)
            self._writer.close()

    @property
    def n_written(self) -> int:
        return self._writer.n_written

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
