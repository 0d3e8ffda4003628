"""Child process that reads one DV network stream for
:class:`ezsr_live.drivers.dv_network.DvNetworkSource`.

The parent connects and hands the connected socket over (``--fd``); everything the
peer sends is parsed here, so that nothing a hostile or broken peer does can take the
parent down. Usage::

    python -m ezsr_live.drivers._dv_network_worker --fd N [--handshake-timeout S] [--geometry WxH]

Messages on stdout are ``kind (1 byte) + payload length (<u8) + payload``: ``I`` the
stream (JSON), ``E`` events (raw EVENT_DTYPE bytes, many packets per message while
the peer sends faster than the parent reads), ``O`` events dropped for lying outside
the sensor (<u8), ``X`` why the stream is unusable (UTF-8, one line), ``D`` the peer
closed the connection. Pipe back-pressure keeps the child at most one message ahead.

Uncompressed streams (dv.io.NetworkWriter's default) are decoded here by
:func:`._dv_network_kernel.scan_packets`, which bounds-checks every offset, and by its
numpy twin while the kernel loads in a thread. Compressed
streams (LZ4, ZSTD) are relayed, packet by packet after their framing is checked, to a
``dv.io.NetworkReader`` in this process over a private UNIX socket, since only dv can
decompress them; dv then runs under an address-space limit (a decompression bomb fails
here with ``std::bad_alloc``) and whatever dv does to this process, the parent reports
it as the stream failing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time

import numpy as np

from ezsr_live.events import EVENT_DTYPE

from . import _dv_network_codec as codec

#: events per message (13 B each) while the peer sends faster than the parent reads;
#: a message is sent at FLUSH_EVENTS, or sooner when nothing more is waiting
FRAME_EVENTS = 1 << 18
FLUSH_EVENTS = 1 << 17
#: a frame is sent once its first event has waited this long, even while more data is
#: pending: coalescing packets must not add latency a live view would notice
MAX_FRAME_DELAY_S = 0.002
#: a peer that stops in the middle of a packet for this long is not streaming any more
MID_PACKET_STALL_S = 10.0
#: how often a quiet connection checks that the parent is still there
PARENT_CHECK_S = 1.0
#: address space dv may take beyond what this process has mapped when it starts
DV_ADDRESS_SPACE_BUDGET = 1 << 30
_MSG_HEADER = struct.Struct("<cQ")
_PACKET_HEADER = struct.Struct("<ii")


class _PeerClosed(Exception):
    """The peer closed (or reset) the connection."""


class _Connection:
    """Buffered reads from the peer's socket into one growing uint8 buffer, so that the
    kernel can scan many packets per ``recv``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = bytearray(4 << 20)
        self.buf = np.frombuffer(self.raw, np.uint8)
        self.start = 0
        self.end = 0
        self.consumed = 0  # stream bytes before self.start, for messages
        self._parent = os.getppid()

    @property
    def available(self) -> int:
        return self.end - self.start

    def consume(self, n: int) -> None:
        self.start += n
        self.consumed += n

    def readable(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def _make_room(self, n: int) -> None:
        if self.start + n <= len(self.raw):
            return
        avail = self.available
        if n <= len(self.raw):
            self.raw[:avail] = self.raw[self.start:self.end]  # same length: no resize
        else:  # a packet larger than the buffer (at most MAX_PACKET_BYTES + 8)
            raw = bytearray(max(n, min(2 * len(self.raw), codec.MAX_PACKET_BYTES + 8)))
            raw[:avail] = self.raw[self.start:self.end]
            self.raw = raw
            self.buf = np.frombuffer(raw, np.uint8)
        self.start, self.end = 0, avail

    def fill(self, n: int, deadline: float | None) -> bool:
        """Make ``n`` bytes available from ``start``; False when ``deadline`` passed first.
        Raises _PeerClosed at the end of the stream. ``deadline=None`` waits for ever
        (a quiet camera), checking now and then that the parent still exists."""
        self._make_room(n)
        while self.available < n:
            wait = PARENT_CHECK_S if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return False
            if not select.select([self.sock], [], [], min(wait, PARENT_CHECK_S))[0]:
                if os.getppid() != self._parent:
                    sys.exit(0)  # the parent is gone: nobody to read for
                continue
            try:
                got = self.sock.recv_into(memoryview(self.raw)[self.end:])
            except (ConnectionResetError, BrokenPipeError):
                got = 0
            if not got:
                raise _PeerClosed
            self.end += got
        return True


class _Output:
    """Framed messages to the parent; events accumulate in one EVENT_DTYPE frame."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.frame = np.empty(FRAME_EVENTS, EVENT_DTYPE)
        self.n = 0
        self.first_at = 0.0
        self.dropped = 0

    def _write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            view = view[os.write(self.fd, view):]

    def send(self, kind: bytes, payload: bytes | memoryview = b"") -> None:
        self._write(_MSG_HEADER.pack(kind, len(payload)))
        if len(payload):
            self._write(payload)

    def flush(self) -> None:
        if self.dropped:
            self.send(b"O", struct.pack("<Q", self.dropped))
            self.dropped = 0
        if self.n:
            self.send(b"E", self.frame[:self.n].view(np.uint8).data)
            self.n = 0

    def make_room(self, n: int) -> None:
        """Room for a packet of ``n`` events: flush, and grow the frame for one packet
        larger than a frame (bounded by MAX_PACKET_BYTES / 16 events)."""
        self.flush()
        if n > len(self.frame):
            self.frame = np.empty(n, EVENT_DTYPE)

    def add_records(self, records: np.ndarray, width: int, height: int) -> None:
        """dv ``EventStore.numpy()`` records (the relayed path), vectorised."""
        x = records["x"]
        y = records["y"]
        keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        kept = records if keep.all() else records[keep]
        self.dropped += len(records) - len(kept)
        if self.n + len(kept) > len(self.frame):
            self.make_room(len(kept))
        part = self.frame[self.n:self.n + len(kept)]
        part["t"] = kept["timestamp"]
        part["x"] = kept["x"]
        part["y"] = kept["y"]
        part["p"] = kept["polarity"] != 0
        self.n += len(kept)


def read_header(conn: _Connection, timeout_s: float) -> tuple[codec.StreamHeader, bytes]:
    """The peer's IOHeader, parsed and checked, within ``timeout_s``; and its raw bytes."""
    deadline = time.monotonic() + timeout_s
    late = codec.PeerError(f"the peer sent no valid DV stream header within {timeout_s:g} s")
    try:
        if not conn.fill(4, deadline):
            raise late
        (size,) = struct.unpack_from("<I", conn.raw, conn.start)
        codec.check_header_size(size)
        if not conn.fill(4 + size, deadline):
            raise late
    except _PeerClosed:
        raise codec.PeerError(f"the peer closed the connection before sending a DV stream header "
                              f"({conn.available} bytes)") from None
    raw = bytes(conn.raw[conn.start:conn.start + 4 + size])
    header = codec.parse_stream_description(*codec.parse_io_header(raw[4:]))
    conn.consume(4 + size)
    conn.consumed = 0  # packet offsets count from the first packet
    return header, raw


def _packet_error(conn: _Connection, status: int, detail: int) -> codec.PeerError:
    sid, size = _PACKET_HEADER.unpack_from(conn.raw, conn.start)
    return codec.PeerError(codec.describe_scan_error(status, detail, sid, size, conn.consumed))


class _KernelLoader:
    """The Numba kernel once a thread has loaded it, its numpy twin until then: a
    connection that ends within a second (most failing ones) never waits for Numba."""

    def __init__(self) -> None:
        self.scan = codec.scan_packets_reference
        threading.Thread(target=self._load, daemon=True).start()

    def _load(self) -> None:
        try:
            from . import _dv_network_kernel as kernel

            kernel.warm_up()
        except Exception:  # noqa: BLE001 - without Numba the twin carries on, only slower
            return
        self.scan = kernel.scan_packets  # one reference store: atomic under the GIL


def decode_stream(conn: _Connection, out: _Output, header: codec.StreamHeader, width: int, height: int) -> None:
    """Uncompressed packets, decoded until the peer closes."""
    kernel = _KernelLoader()
    while True:
        n_before = out.n
        status, detail, pos, out.n, dropped = kernel.scan(
            conn.buf, conn.start, conn.end, header.stream_id, codec.MAX_PACKET_BYTES,
            width, height, out.frame, out.n)
        if n_before == 0 and out.n:
            out.first_at = time.monotonic()
        out.dropped += dropped
        conn.consume(pos - conn.start)
        if status == codec.SCAN_NEED_MORE:
            # send what there is unless more is already waiting (then coalesce, within limits)
            if out.n and (out.n >= FLUSH_EVENTS or time.monotonic() - out.first_at > MAX_FRAME_DELAY_S
                          or not conn.readable()):
                out.flush()
            # between packets a quiet peer may wait for ever; inside one it may not
            deadline = None if conn.available == 0 else time.monotonic() + MID_PACKET_STALL_S
            try:
                if not conn.fill(detail, deadline):
                    raise codec.PeerError(f"the peer stopped for {MID_PACKET_STALL_S:g} s in the middle of "
                                          f"the packet at stream byte {conn.consumed}")
            except _PeerClosed:
                out.flush()
                return  # a peer that vanishes mid-packet has disconnected like any other
        elif status == codec.SCAN_OUTPUT_FULL:
            out.make_room(detail)
        elif status == codec.SCAN_OTHER_STREAM and detail in header.declared_ids:
            conn.consume(8 + _PACKET_HEADER.unpack_from(conn.raw, conn.start)[1])  # not ours: skipped
        else:
            out.flush()  # what arrived before the damage is good
            raise _packet_error(conn, status, detail)


def _relay(conn: _Connection, listener: socket.socket, raw_header: bytes, header: codec.StreamHeader) -> None:
    """Forward the header and the event packets, framing checked, to dv (in the relay
    process); raises PeerError for what it refuses."""
    listener.settimeout(30)
    try:
        dv_side, _ = listener.accept()
    except OSError as exc:
        raise codec.PeerError(f"dv-processing did not connect to the relay ({exc})") from None
    try:
        dv_side.sendall(raw_header)
        while True:
            try:
                conn.fill(8, None)
                sid, size = _PACKET_HEADER.unpack_from(conn.raw, conn.start)
                if not 0 < size <= codec.MAX_PACKET_BYTES:
                    raise _packet_error(conn, codec.SCAN_BAD_SIZE, size)
                if sid not in header.declared_ids:
                    raise _packet_error(conn, codec.SCAN_OTHER_STREAM, sid)
                if not conn.fill(8 + size, time.monotonic() + MID_PACKET_STALL_S):
                    raise codec.PeerError(f"the peer stopped for {MID_PACKET_STALL_S:g} s in the middle of "
                                          f"the packet at stream byte {conn.consumed}")
            except _PeerClosed:
                return
            if sid == header.stream_id:  # dv would hand other streams' packets out as events
                dv_side.sendall(memoryview(conn.raw)[conn.start:conn.start + 8 + size])
            conn.consume(8 + size)
    except OSError:
        pass  # dv closed its side: the worker finds out why
    finally:
        dv_side.close()


def _start_relay(conn: _Connection, out: _Output, listener: socket.socket, raw_header: bytes,
                 header: codec.StreamHeader) -> tuple[int, int]:
    """Fork the relay process; returns its pid and the read end of its error pipe.

    A process, not a thread: dv.io.NetworkReader's constructor connects and reads the
    header holding the GIL, so a relay thread could never accept that connection."""
    errors_read, errors_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(errors_read)
        os.close(out.fd)  # the protocol is the worker's alone
        conn._parent = os.getppid()  # the worker: when it goes, the relay goes
        message = b""
        try:
            _relay(conn, listener, raw_header, header)
        except codec.PeerError as exc:
            message = str(exc).encode("utf-8", "replace")
        except BaseException as exc:  # noqa: BLE001 - nothing may escape a forked child
            message = f"the relay failed ({type(exc).__name__}: {exc})".encode("utf-8", "replace")
        finally:
            if message:
                os.write(errors_write, message[:4096])
            os._exit(0)
    os.close(errors_write)
    return pid, errors_read


def _limit_address_space() -> None:
    try:
        with open("/proc/self/status") as f:
            mapped = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return
    limit = mapped + DV_ADDRESS_SPACE_BUDGET
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def relay_stream(conn: _Connection, out: _Output, raw_header: bytes, header: codec.StreamHeader,
                 width: int, height: int) -> None:
    """Compressed packets: dv decompresses and decodes them, behind the relay."""
    folder = tempfile.mkdtemp(prefix="ezsr-dv-relay-")
    path = os.path.join(folder, "relay.sock")
    relay = None
    try:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        relay, errors = _start_relay(conn, out, listener, raw_header, header)  # before dv starts threads
        listener.close()
        conn.sock.close()  # the relay owns the peer's connection now
        import dv_processing as dv

        _limit_address_space()
        try:
            reader = dv.io.NetworkReader(dv.Path(path))
        except Exception as exc:  # noqa: BLE001 - dv reports everything as assorted C++ errors
            os.waitpid(relay, 0)
            relay = None
            refused = os.read(errors, 4096).decode("utf-8", "replace")
            raise codec.PeerError(refused or f"dv-processing refused the stream header "
                                  f"({str(exc).split(' [', 1)[0]})") from None
        while True:
            batch = reader.getNextEventBatch()
            if batch is not None and batch.size() > 0:
                if out.n == 0:
                    out.first_at = time.monotonic()
                out.add_records(batch.numpy(), width, height)
                if out.n >= FLUSH_EVENTS or time.monotonic() - out.first_at > MAX_FRAME_DELAY_S:
                    out.flush()
                continue
            out.flush()
            if not reader.isRunning():
                break
            time.sleep(0.0005)  # dv's reader is polled; it queues up to 1000 packets meanwhile
        os.waitpid(relay, 0)
        relay = None
        refused = os.read(errors, 4096).decode("utf-8", "replace")
        if refused:
            raise codec.PeerError(refused)
    finally:
        if relay is not None:
            os.kill(relay, signal.SIGKILL)
            os.waitpid(relay, 0)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="_dv_network_worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--handshake-timeout", type=float, default=5.0)
    parser.add_argument("--geometry", default=None, help="drop events outside WxH (default: the stream's own)")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a dv abort must not leave core files
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    # the protocol keeps fd 1 for itself; anything printed (dv logs to stdout) goes to stderr
    out = _Output(os.dup(1))
    os.dup2(2, 1)
    conn = _Connection(socket.socket(fileno=args.fd))
    try:
        header, raw_header = read_header(conn, args.handshake_timeout)
        width, height = header.width, header.height
        if args.geometry:
            width, height = (int(v) for v in args.geometry.split("x"))
        out.send(b"I", json.dumps({"camera": header.camera, "width": header.width, "height": header.height,
                                   "stream": header.stream_name,
                                   "compression": header.compression_name}).encode())
        if header.compression == codec.COMPRESSION_NONE:
            decode_stream(conn, out, header, width, height)
        else:
            relay_stream(conn, out, raw_header, header, width, height)
    except codec.PeerError as exc:
        out.send(b"X", str(exc).encode("utf-8", "replace"))
        return 0
    except BrokenPipeError:
        return 0  # the parent stopped reading: it closed the stream
    out.send(b"D")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
