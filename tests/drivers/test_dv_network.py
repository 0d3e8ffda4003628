"""DV network streams against a real dv.io.NetworkWriter peer on loopback."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dv_processing as dv

from ezsr_live.drivers.dv_common import eventstore_to_packet
from ezsr_live.drivers.dv_network import parse_network_uri
from ezsr_live.drivers.sources import open_source
from ezsr_live.errors import SourceError
from ezsr_live.events import Geometry
from ezsr_live.runtime.handover import SourceThread

SERVER = Path(__file__).with_name("dv_stream_server.py")
SAMPLE = "dvxplorer_320x240.aedat4"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(recording: Path, address: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), str(recording), address, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "READY"
    return proc


def _connect(uri: str, **options):
    deadline = time.monotonic() + 10
    while True:
        try:
            return open_source(uri, **options)
        except SourceError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _file_events(path: Path) -> np.ndarray:
    rec = dv.io.MonoCameraRecording(str(path))
    parts = []
    while (batch := rec.getNextEventBatch()) is not None:
        parts.append(eventstore_to_packet(batch, Geometry(*rec.getEventResolution()))[0])
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def expected(samples_dir):
    return _file_events(samples_dir / SAMPLE)


def _receive(source, n_expected: int, timeout: float = 20.0) -> np.ndarray:
    parts, n = [], 0
    deadline = time.monotonic() + timeout
    with SourceThread(source) as thread:
        while n < n_expected and time.monotonic() < deadline:
            packet = thread.buffer.get(timeout=0.1)
            if packet is not None:
                parts.append(packet)
                n += len(packet)
    return np.concatenate(parts) if parts else np.zeros(0)


def test_tcp_stream_delivers_every_event_identically(samples_dir, expected):
    port = _free_port()
    server = _start_server(samples_dir / SAMPLE, f"tcp:{port}")
    try:
        source = _connect(f"tcp://127.0.0.1:{port}")
        assert (source.geometry.width, source.geometry.height) == (320, 240)
        assert source.info.camera == "DVXplorer_DXB00010"
        got = _receive(source, len(expected))
        assert len(got) == len(expected)
        assert np.array_equal(got, expected)
    finally:
        server.kill()
        server.wait()


def test_unix_socket_stream_delivers_events(samples_dir, expected, tmp_path):
    path = tmp_path / "dv.sock"
    server = _start_server(samples_dir / SAMPLE, f"unix:{path}")
    try:
        source = _connect(f"unix://{path}")
        got = _receive(source, len(expected))
        assert np.array_equal(got, expected)
    finally:
        server.kill()
        server.wait()


def test_peer_vanishing_mid_stream_ends_the_source_within_two_seconds(samples_dir):
    port = _free_port()
    server = _start_server(samples_dir / SAMPLE, f"tcp:{port}", "--limit", "40000", "--then", "exit")
    try:
        source = _connect(f"tcp://127.0.0.1:{port}")
        received = 0
        thread = SourceThread(source).start()
        for packet in thread:  # ends by itself when the peer is gone
            received += len(packet)
        server.wait(timeout=10)
        assert source.status == "ended: peer disconnected"
        assert 0 < received < 111954
        # the server exits right after sending; the reader must notice quickly
        assert not thread.alive
    finally:
        server.kill()
        server.wait()


def test_reconnect_picks_the_stream_up_again(samples_dir):
    port = _free_port()
    first = _start_server(samples_dir / SAMPLE, f"tcp:{port}", "--limit", "20000", "--then", "exit")
    source = _connect(f"tcp://127.0.0.1:{port}", reconnect=True, max_backoff_s=0.2)
    thread = SourceThread(source).start()
    second = None
    try:
        got = 0
        deadline = time.monotonic() + 20
        while got < 20000 and time.monotonic() < deadline:
            packet = thread.buffer.get(timeout=0.1)
            got += 0 if packet is None else len(packet)
        first.wait(timeout=10)
        second = _start_server(samples_dir / SAMPLE, f"tcp:{port}", "--limit", "20000", "--then", "wait")
        # a fresh budget: starting a peer process (Python + dv) takes seconds on a loaded machine
        deadline = time.monotonic() + 60
        while source.reconnects == 0 and time.monotonic() < deadline:
            packet = thread.buffer.get(timeout=0.1)
        assert source.reconnects >= 1
        assert thread.stop(timeout=2.0)
    finally:
        thread.stop()
        for proc in (first, second):
            if proc is not None:
                proc.kill()
                proc.wait()


def test_connection_refused_is_a_clear_source_error():
    port = _free_port()
    with pytest.raises(SourceError, match=rf"tcp://127.0.0.1:{port}: cannot connect.*refused"):
        open_source(f"tcp://127.0.0.1:{port}")


@pytest.mark.parametrize("uri", ["tcp://127.0.0.1", "tcp://:99", "tcp://host:notaport", "unix://"])
def test_malformed_network_uris_are_refused(uri):
    with pytest.raises(SourceError):
        parse_network_uri(uri)
