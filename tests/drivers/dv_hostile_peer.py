"""Hostile and broken DV network peers for tests: plain Python socket servers, each in
its own process, built from the bytes a real dv.io.NetworkWriter session sent.

    python dv_hostile_peer.py MODE (tcp:PORT | unix:PATH) [--capture FILE] [--serve FILE ...]

Prints READY once listening. MODE is one of :data:`MODES` (the connection then gets
that mode's bytes and is held open, as a stalled or malicious peer would hold it, until
the client closes it or HOLD_S pass), or ``serve``: connection i gets the bytes of the
i-th ``--serve`` file and is closed after them. The process ends by itself: after its
connections, or when nobody connects within ACCEPT_S.
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

HOLD_S = 30.0
ACCEPT_S = 60.0
HUGE = 2**31 - 1  # a size field's largest value: dv resizes its buffer to 2 GiB for it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def capture_stream(recording: Path, limit: int, compression: str = "NONE") -> bytes:
    """Every byte a real dv.io.NetworkWriter sends for about ``limit`` events of
    ``recording`` (tests/drivers/dv_stream_server.py), read with a plain socket."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("dv_stream_server.py")), str(recording),
                               f"tcp:{port}", "--limit", str(limit), "--then", "exit", "--compression", compression],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "READY"
        chunks = []
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                data = sock.recv(1 << 16)
                if not data:  # the writer exits once its queue is empty
                    break
                chunks.append(data)
        return b"".join(chunks)
    finally:
        server.kill()
        server.wait()


def start_peer(mode: str, address: str, *, capture: Path | None = None, serve: list[Path] = ()) -> subprocess.Popen:
    """This script as a running peer process (READY already read)."""
    command = [sys.executable, __file__, mode, address]
    if capture is not None:
        command += ["--capture", str(capture)]
    if serve:
        command += ["--serve", *map(str, serve)]
    peer = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    assert peer.stdout.readline().strip() == "READY"
    return peer


def mutate_stream(data: bytes, rng) -> bytes:
    """A damaged copy of a captured stream: random byte flips (now and then in the
    header), a truncation, or both; ``rng`` is a random.Random."""
    buf = bytearray(data)
    how = rng.choice(("flip", "truncate", "both"))
    if how != "truncate":
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(buf)) if rng.random() < 0.8 else rng.randrange(min(len(buf), 800))
            buf[at] = rng.randrange(256)
    if how != "flip":
        del buf[rng.randrange(1, len(buf)):]
    return bytes(buf)


def split_stream(data: bytes) -> tuple[bytes, list[bytes]]:
    """A captured stream as (size prefix + IOHeader, [packet header + packet, ...])."""
    (size,) = struct.unpack_from("<I", data, 0)
    header, offset, packets = data[:4 + size], 4 + size, []
    while offset + 8 <= len(data):
        (length,) = struct.unpack_from("<i", data, offset + 4)
        packets.append(data[offset:offset + 8 + length])
        offset += 8 + length
    return header, packets


def _zero_resolution(header: bytes) -> bytes:
    # same-length edit ("320" -> "000"): the flatbuffer's offsets stay valid
    return re.sub(rb'(key="size[XY]" type="int">)(\d+)', lambda m: m.group(1) + b"0" * len(m.group(2)), header)


def _bad_type(packet: bytes) -> bytes:
    # the EventPacket flatbuffer's identifier sits after the packet header (8 bytes),
    # the size prefix (4) and the root offset (4)
    return packet[:16] + b"XXXX" + packet[20:]


MODES = {
    "negative-size": lambda h, p: h + struct.pack("<ii", 0, -1) + bytes(64),
    "bad-type": lambda h, p: h + _bad_type(p[0]) + b"".join(p[1:]),
    "huge-header": lambda h, p: struct.pack("<I", HUGE) + bytes(4096),
    "huge-packet": lambda h, p: h + struct.pack("<ii", 0, HUGE) + bytes(4096),
    "geometry-0": lambda h, p: _zero_resolution(h) + b"".join(p),
    "garbage-stall": lambda h, p: b"\xde\xad\xbe",  # not even a whole size field
}


def _listen(address: str) -> socket.socket:
    kind, _, where = address.partition(":")
    if kind == "tcp":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(where)))
    else:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(where)
    server.listen(8)
    server.settimeout(ACCEPT_S)
    return server


def _hold(conn: socket.socket) -> None:
    """Keep the connection open until the client goes (or HOLD_S): a peer that stalls."""
    conn.settimeout(HOLD_S)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=[*MODES, "serve"])
    parser.add_argument("address")
    parser.add_argument("--capture", help="bytes of a real NetworkWriter session")
    parser.add_argument("--serve", nargs="*", default=[])
    args = parser.parse_args()
    server = _listen(args.address)
    print("READY", flush=True)
    if args.mode == "serve":
        payloads = [open(path, "rb").read() for path in args.serve]
    else:
        header, packets = split_stream(open(args.capture, "rb").read()) if args.capture else (b"", [])
        payloads = [MODES[args.mode](header, packets)]
    try:
        for payload in payloads:
            conn, _ = server.accept()
            try:
                conn.sendall(payload)
                if args.mode != "serve":
                    _hold(conn)
            except OSError:
                pass  # the client went away first: what it does then is the test's business
            finally:
                conn.close()
    except socket.timeout:
        sys.exit(3)
    finally:
        server.close()
        if not args.address.startswith("tcp:"):
            os.unlink(args.address.partition(":")[2])


if __name__ == "__main__":
    main()
