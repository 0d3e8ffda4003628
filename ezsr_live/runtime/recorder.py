"""Recording what a live source delivers, with any writer the drivers provide."""
from __future__ import annotations

import logging
import os
import threading

from ezsr_live.drivers import open_writer
from ezsr_live.drivers.reorder import DEFAULT_REORDER_WINDOW_US
from ezsr_live.events import EventPacket, Geometry, SourceInfo, as_event_packet
from ezsr_live.runtime.handover import PacketBuffer

log = logging.getLogger(__name__)

#: events the recorder may hold while its writer catches up (~400 MB); beyond that the
#: oldest are dropped and counted rather than letting memory grow
DEFAULT_BACKLOG_EVENTS = 32 << 20


class Recorder:
    """Writes packets to ``path`` (format by extension) as they are seen.

    Calling it (or :meth:`write`) only hands the packet to a writer thread, so a slow
    format (dv-processing's .aedat4 writer takes one Python call per event) never slows
    the live source; if the writer falls more than ``backlog_events`` behind, the oldest
    packets are dropped and counted in :attr:`events_dropped`. Formats that need
    monotonic time (.aedat4) are reordered by the writer
    :func:`~ezsr_live.drivers.open_writer` returns for them.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        geometry: Geometry,
        info: SourceInfo | None = None,
        *,
        reorder_window_us: int = DEFAULT_REORDER_WINDOW_US,
        backlog_events: int = DEFAULT_BACKLOG_EVENTS,
    ) -> None:
        self.path = os.fspath(path)
        self._writer = open_writer(self.path, geometry, info=info, reorder_window_us=reorder_window_us,
                                   recording=True)
        self._backlog = PacketBuffer(max_events=backlog_events, max_packets=1 << 16)
        self.error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ezsr-recorder", daemon=True)
        self._thread.start()

    def __call__(self, packet: EventPacket) -> None:
        self.write(packet)

    def write(self, packet: EventPacket) -> None:
        if self.error is not None:
            raise self.error
        # converted here, so that a bad array fails in the caller's thread, not the writer's
        self._backlog.put(as_event_packet(packet, source=self.path))

    def _run(self) -> None:
        try:
            while True:
                packet = self._backlog.get(timeout=0.1)
                if packet is None:
                    if self._backlog.drained:
                        break
                    continue
                if len(packet):
                    self._writer.write(packet)
        except BaseException as exc:  # re-raised to the producer and at close
            self.error = exc

    def close(self) -> None:
        """Write what is still queued, then close the file."""
        if self._closed:
            return
        self._closed = True
        self._backlog.close()
        self._thread.join()
        self._writer.close()
        if self._writer.late_events:
            log.warning("%s: %d late events were re-timed to keep time monotonic",
                        self.path, self._writer.late_events)
        if self.events_dropped:
            log.warning("%s: the writer fell behind; %d events were not recorded", self.path, self.events_dropped)
        if self.error is not None:
            raise self.error

    @property
    def events_dropped(self) -> int:
        return self._backlog.events_dropped

    @property
    def n_written(self) -> int:
        return self._writer.n_written

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
