"""DV network event streams (``tcp://HOST:PORT``, ``unix:///path``) via ``dv.io.NetworkReader``.

Any DV software output or ``dv.io.NetworkWriter`` is a peer. When the peer disappears
the source ends with status ``ended: peer disconnected``; with ``reconnect=True`` it
retries with exponential back-off (capped) until it gets the stream back or is stopped.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator
from urllib.parse import urlsplit

from ezsr_live.errors import SourceError
from ezsr_live.events import EventPacket, Geometry, SourceInfo

from .dv_common import eventstore_to_packet
from .sources import EventSource, register_scheme

log = logging.getLogger(__name__)

#: poll period while the peer sends nothing; bounds the latency of stop()
IDLE_POLL_S = 0.0005


def parse_network_uri(spec: str) -> tuple[str, Any]:
    """``tcp://host:port`` → ("tcp", (host, port)); ``unix:///path`` → ("unix", path)."""
    parts = urlsplit(spec)
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise SourceError(f"{spec}: a TCP stream needs tcp://HOST:PORT")
        return "tcp", (parts.hostname, port)
    if parts.scheme == "unix":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise SourceError(f"{spec}: a UNIX socket stream needs unix:///path/to/socket")
        return "unix", path
    raise SourceError(f"{spec}: not a DV network URI (tcp://HOST:PORT or unix:///path)")


class DvNetworkSource(EventSource):
    def __init__(
        self,
        spec: str,
        *,
        reconnect: bool = False,
        max_backoff_s: float = 5.0,
        reader_factory: Any = None,
        **_ignored: object,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.kind, self.address = parse_network_uri(spec)
        self.reconnect = reconnect
        self.max_backoff_s = max_backoff_s
        self.out_of_bounds = 0
        self.reconnects = 0
        self._factory = reader_factory
        self._reader = self._connect()
        self.info = self._info_from(self._reader)

    def _connect(self) -> Any:
        import dv_processing as dv

        factory = self._factory or dv.io.NetworkReader
        try:
            if self.kind == "tcp":
                reader = factory(*self.address)
            else:
                reader = factory(dv.Path(self.address)) if self._factory is None else factory(self.address)
        except Exception as exc:  # dv raises RuntimeError subclasses with a message
            reason = str(exc).split(" [", 1)[0]  # drop boost's source-location suffix
            raise SourceError(f"{self.spec}: cannot connect to the DV stream ({reason})") from None
        if not reader.isEventStreamAvailable():
            raise SourceError(f"{self.spec}: the peer sends no event stream")
        return reader

    def _info_from(self, reader: Any) -> SourceInfo:
        res = reader.getEventResolution()
        if res is None:
            raise SourceError(f"{self.spec}: the event stream declares no resolution")
        return SourceInfo(name=self.spec, format="dv-network", geometry=Geometry(int(res[0]), int(res[1])),
                          camera=reader.getCameraName() or None)

    def __iter__(self) -> Iterator[EventPacket]:
        self.status = "running"
        backoff = 0.1
        while not self._stop_event.is_set():
            reader = self._reader
            try:
                batch = reader.getNextEventBatch()
            except Exception as exc:
                batch, running = None, False
                log.warning("%s: stream error: %s", self.spec, exc)
            else:
                running = reader.isRunning()
            if batch is not None and batch.size() > 0:
                packet, bad = eventstore_to_packet(batch, self.geometry)
                self.out_of_bounds += bad
                backoff = 0.1
                yield packet
                continue
            if running:
                self._stop_event.wait(IDLE_POLL_S)
                continue
            if not self.reconnect:
                self.status = "ended: peer disconnected"
                return
            log.warning("%s: peer disconnected; reconnecting", self.spec)
            while not self._stop_event.is_set():
                if self._stop_event.wait(backoff):
                    break
                backoff = min(backoff * 2, self.max_backoff_s)
                try:
                    self._reader = self._connect()
                except SourceError as exc:
                    log.info("%s", exc)
                    continue
                self.reconnects += 1
                log.info("%s: reconnected", self.spec)
                break
        self.status = "stopped"


@register_scheme("tcp", "unix")
def _open_network(spec: str, **options: object) -> DvNetworkSource:
    return DvNetworkSource(spec, **options)
