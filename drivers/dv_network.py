"""DV network event streams (``tcp://HOST:PORT``, ``unix:///path``).

Any DV software output or ``dv.io.NetworkWriter`` is a peer. When the peer disappears
the source ends with status ``ended: peer disconnected``; with ``reconnect=True`` it
retries with exponential back-off (capped) until it gets the stream back or is stopped.

A peer is not trusted. dv.io.NetworkReader aborts the whole process on a negative
packet size or a wrong type identifier (C++ exceptions escaping its reading thread),
allocates whatever a header or packet size says (2 GiB for 2^31-1), and blocks
without a timeout, holding the GIL, on a peer that accepts and then sends a few bytes.
So this source connects the socket itself (a refused connection or an unreachable host
is a clear error at once, and a reconnect attempt costs a ``connect()``, not a
process) and hands it to a child process (:mod:`._dv_network_worker`) that does
everything the peer's bytes decide: the header handshake, within
:data:`HANDSHAKE_TIMEOUT_S`; framing checks that bound every size before anything is
allocated (:mod:`._dv_network_codec`); and the decoding, by a bounds-checked Numba
kernel for uncompressed streams, or by dv-processing behind that check, under an
address-space limit, for compressed ones. What the child finds wrong comes back as one
line; a child that dies or spins is a failed stream, never a failed process.

Events cross from the child as raw :data:`~ezsr_live.events.EVENT_DTYPE` bytes in
frames of many packets, read straight into the arrays that are yielded. The watchdog
costs nothing while data flows: the child's CPU time is read only when a read times
out.
"""
from __future__ import annotations

import fcntl
import json
import logging
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Any, Iterator
from urllib.parse import urlsplit

import numpy as np

from ezsr_live.errors import SourceError
from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry, SourceInfo

from ._dv_network_codec import MAX_PACKET_BYTES
from ._child import child_cpu_seconds
from .sources import EventSource, register_scheme

log = logging.getLogger(__name__)

#: seconds a peer has, once connected, to send a valid stream header
HANDSHAKE_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
#: wall-clock allowance, on top of the handshake, for the child to start (Python,
#: numpy and a cached Numba kernel: well under a second, but seconds on a loaded machine)
CHILD_START_S = 30.0
#: CPU seconds the child may burn, within one :data:`STALL_WINDOW_S` of wall time in
#: which it sends nothing, before it is taken to be spinning (dv can loop for ever on
#: corrupt compressed data); counting CPU rather than wall time tells a spin from a
#: quiet camera or a child starved on a busy machine
STALL_CPU_S = 5.0
STALL_WINDOW_S = 30.0
#: how long a read waits before the stop flag and the watchdog are looked at; bounds
#: the latency of stop()
POLL_S = 0.05
#: the child writes a message in one go: one that stops half-way for this long is broken
MESSAGE_STALL_S = 30.0
_WORKER_MODULE = "ezsr_live.drivers._dv_network_worker"
_MSG_HEADER = struct.Struct("<cQ")
_MAX_EVENT_MESSAGE = (MAX_PACKET_BYTES // 16 + (1 << 18)) * EVENT_DTYPE.itemsize
_MAX_TEXT_MESSAGE = 1 << 20
_F_SETPIPE_SZ = 1031  # Linux fcntl


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


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class _StreamReader:
    """One child process reading one connection, and the messages it sends."""

    def __init__(self, spec: str, sock: socket.socket, handshake_timeout_s: float,
                 geometry: Geometry | None) -> None:
        self.spec = spec
        self._stderr = tempfile.TemporaryFile()
        command = [sys.executable, "-m", _WORKER_MODULE, "--fd", str(sock.fileno()),
                   "--handshake-timeout", repr(handshake_timeout_s)]
        if geometry is not None:
            command += ["--geometry", str(geometry)]
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self._stderr, pass_fds=(sock.fileno(),), bufsize=0)
        finally:
            sock.close()  # the child holds the connection now
        self._finalizer = weakref.finalize(self, _kill, self.proc)
        assert self.proc.stdout is not None
        self._pipe = self.proc.stdout
        self._fd = self._pipe.fileno()
        try:  # a 1 MiB pipe: fewer wake-ups at tens of Mev/s (best effort, Linux)
            fcntl.fcntl(self._fd, _F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        self._cpu_base: tuple[float, float] | None = None  # (wall, cpu) when the quiet began
        self.started = time.monotonic()
        self.handshake_timeout_s = handshake_timeout_s
        self.closed = False

    # -- the child's health ------------------------------------------------------------
    def _cpu_seconds(self) -> float | None:
        return child_cpu_seconds(self.proc.pid)

    def _check_spinning(self) -> None:
        """Called only when a read timed out: a child sending nothing must not be busy."""
        cpu = self._cpu_seconds()
        if cpu is None:
            return
        now = time.monotonic()
        if self._cpu_base is None or now - self._cpu_base[0] > STALL_WINDOW_S:
            self._cpu_base = (now, cpu)
        elif cpu - self._cpu_base[1] > STALL_CPU_S:
            self.close()
            raise SourceError(f"{self.spec}: the stream reader spun {STALL_CPU_S:g} CPU s without delivering "
                              f"anything (a stream dv-processing cannot decode?)")

    def _death(self) -> SourceError:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.close()
            return SourceError(f"{self.spec}: the stream reader process stopped answering")
        self._stderr.seek(0)
        tail = " ".join(self._stderr.read()[-400:].decode("utf-8", "replace").split())
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return SourceError(f"{self.spec}: the stream reader process died ({how}{': ' + tail if tail else ''})")

    # -- reading -----------------------------------------------------------------------
    def _wait_readable(self, timeout: float) -> bool:
        return bool(select.select([self._fd], [], [], timeout)[0])

    def _read_into(self, view: memoryview) -> None:
        """Fill ``view`` from the pipe; the child writes each message whole, so this waits
        only for the child: the watchdog covers a spinning one, MESSAGE_STALL_S a stuck one."""
        got = 0
        started = time.monotonic()
        while got < len(view):
            if not self._wait_readable(POLL_S):
                self._check_spinning()
                if time.monotonic() - started > MESSAGE_STALL_S:
                    self.close()
                    raise SourceError(f"{self.spec}: the stream reader process stopped in the middle of a message")
                continue
            n = self._pipe.readinto(view[got:])
            if not n:
                raise self._death()
            got += n

    def next_message(self, timeout: float = POLL_S) -> tuple[bytes, Any] | None:
        """``(kind, payload)`` of the next message, None when none began within ``timeout``
        (the quiet is then checked for a spinning child). ``E`` payloads are EVENT_DTYPE
        arrays, ``O`` an int, the others bytes; ``X`` is raised as a SourceError."""
        if not self._wait_readable(timeout):
            self._check_spinning()
            return None
        header = bytearray(_MSG_HEADER.size)
        self._read_into(memoryview(header))
        kind, length = _MSG_HEADER.unpack(header)
        self._cpu_base = None
        if kind == b"E":
            if length % EVENT_DTYPE.itemsize or length > _MAX_EVENT_MESSAGE:
                raise self._garbled()
            events = np.empty(length // EVENT_DTYPE.itemsize, EVENT_DTYPE)
            self._read_into(memoryview(events.view(np.uint8)))
            return kind, events
        if length > _MAX_TEXT_MESSAGE or kind not in (b"I", b"O", b"X", b"D"):
            raise self._garbled()
        payload = bytearray(length)
        if length:
            self._read_into(memoryview(payload))
        if kind == b"X":
            self.close()
            raise SourceError(f"{self.spec}: {payload.decode('utf-8', 'replace')}")
        if kind == b"O":
            return kind, struct.unpack("<Q", payload)[0]
        return kind, bytes(payload)

    def _garbled(self) -> SourceError:
        self.close()
        return SourceError(f"{self.spec}: the stream reader process sent garbled output")

    def wait_info(self, stop: threading.Event | None = None) -> dict:
        """The stream description, once the child has read the peer's header."""
        deadline = self.started + self.handshake_timeout_s + CHILD_START_S
        while True:
            if stop is not None and stop.is_set():
                self.close()
                raise SourceError(f"{self.spec}: stopped while connecting")
            message = self.next_message(timeout=min(POLL_S, max(0.0, deadline - time.monotonic())))
            if message is not None:
                kind, payload = message
                if kind == b"D":
                    self.close()
                    raise SourceError(f"{self.spec}: the peer closed the connection before sending a stream header")
                if kind != b"I":
                    raise self._garbled()
                return json.loads(payload)
            if time.monotonic() > deadline:
                self.close()
                raise SourceError(f"{self.spec}: the stream reader process did not answer within "
                                  f"{self.handshake_timeout_s + CHILD_START_S:g} s")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._finalizer()  # kills and reaps the child
        self._pipe.close()
        self._stderr.close()


class DvNetworkSource(EventSource):
    def __init__(
        self,
        spec: str,
        *,
        reconnect: bool = False,
        max_backoff_s: float = 5.0,
        handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
        **_ignored: object,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.kind, self.address = parse_network_uri(spec)
        self.reconnect = reconnect
        self.max_backoff_s = max_backoff_s
        self.handshake_timeout_s = handshake_timeout_s
        self.out_of_bounds = 0
        self.reconnects = 0
        self._lock = threading.Lock()
        self._iterating = False
        self._backoff = 0.1
        self._reader, stream = self._connect(None)
        self.info = SourceInfo(name=spec, format="dv-network", geometry=Geometry(stream["width"], stream["height"]),
                               camera=stream["camera"] or None,
                               header={"stream": stream["stream"], "compression": stream["compression"]})

    def _open_socket(self) -> socket.socket:
        if self.kind == "tcp":
            try:
                return socket.create_connection(self.address, timeout=CONNECT_TIMEOUT_S)
            except socket.timeout:
                raise SourceError(f"{self.spec}: cannot connect to the DV stream (no answer within "
                                  f"{CONNECT_TIMEOUT_S:g} s)") from None
            except OSError as exc:
                raise SourceError(f"{self.spec}: cannot connect to the DV stream ({exc.strerror or exc})") from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(self.address)
        except OSError as exc:
            sock.close()
            reason = "no answer" if isinstance(exc, socket.timeout) else (exc.strerror or exc)
            raise SourceError(f"{self.spec}: cannot connect to the DV stream ({reason})") from None
        return sock

    def _connect(self, geometry: Geometry | None) -> tuple[_StreamReader, dict]:
        sock = self._open_socket()
        sock.settimeout(None)  # the child waits with select
        reader = _StreamReader(self.spec, sock, self.handshake_timeout_s, geometry)
        try:
            return reader, reader.wait_info(self._stop_event)
        except BaseException:
            reader.close()
            raise

    def _reconnect(self) -> bool:
        """Retry, backing off, until connected (True) or stopped (False)."""
        while not self._stop_event.is_set():
            if self._stop_event.wait(self._backoff):
                break
            self._backoff = min(self._backoff * 2, self.max_backoff_s)
            try:
                # events keep being checked against the geometry the source announced
                reader, _ = self._connect(self.geometry)
            except SourceError as exc:
                log.info("%s", exc)
                continue
            with self._lock:
                self._reader = reader
            self.reconnects += 1
            log.info("%s: reconnected", self.spec)
            return True
        return False

    def __iter__(self) -> Iterator[EventPacket]:
        with self._lock:
            if self._reader.closed:
                self.status = "stopped"
                return
            self._iterating = True
        self.status = "running"
        self._backoff = 0.1
        try:
            while not self._stop_event.is_set():
                try:
                    message = self._reader.next_message()
                except SourceError as exc:
                    if not self.reconnect:
                        self.status = "failed"
                        raise
                    log.warning("%s; reconnecting", exc)
                else:
                    if message is None:
                        continue
                    kind, payload = message
                    if kind == b"E":
                        self._backoff = 0.1
                        yield payload
                        continue
                    if kind == b"O":
                        self.out_of_bounds += payload
                        continue
                    if not self.reconnect:  # b"D": the peer closed the connection
                        self.status = "ended: peer disconnected"
                        return
                    log.warning("%s: peer disconnected; reconnecting", self.spec)
                self._reader.close()
                if not self._reconnect():
                    break
            self.status = "stopped"
        finally:
            with self._lock:
                self._iterating = False
                self._reader.close()

    def close(self) -> None:
        self.stop()
        with self._lock:
            if not self._iterating:  # else the iterating thread closes it on its way out
                self._reader.close()


@register_scheme("tcp", "unix")
def _open_network(spec: str, **options: object) -> DvNetworkSource:
    return DvNetworkSource(spec, **options)
