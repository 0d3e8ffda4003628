"""A hostile or broken DV network peer never takes the process down.

Each peer is a real process on loopback: a plain Python socket server
(dv_hostile_peer.py) sending what a real dv.io.NetworkWriter session sent, damaged the
way an adversarial pass found dv-processing's own reader aborts, over-allocates or
hangs on. The client is the real ``ezsr-live`` in a subprocess, measured from a
wrapper process (run_measured.py) so that its peak RSS is its own.
"""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers.sources import open_source
from ezsr_live.errors import EzsrError, SourceError
from ezsr_live.runtime.handover import SourceThread

from .dv_hostile_peer import free_port, mutate_stream, start_peer
from .test_dv_network import SAMPLE, _connect, _receive, _start_server

RUN_MEASURED = Path(__file__).with_name("run_measured.py")
#: the mid-stream cases must fail long before this: it only keeps a broken client from
#: ending the run as a success by running out of time
DURATION_S = 20
#: wall-clock bound for a run to end by itself: Python + the CLI start (seconds on a
#: loaded machine), the 5 s handshake timeout for the stalling peer, and slack
BOUND_S = 30
FUZZ_CASES = 20


@pytest.fixture
def capture(dv_capture) -> Path:
    return dv_capture


def _run_ezsr_live(uri: str, cwd: Path) -> dict:
    report = cwd / "report.json"
    command = [sys.executable, str(RUN_MEASURED), str(report), str(BOUND_S * 2),
               sys.executable, "-m", "ezsr_live.cli.live", "--camera", uri, "--no-recognition",
               "--duration-s", str(DURATION_S)]
    subprocess.run(command, cwd=cwd, check=True, timeout=BOUND_S * 3)
    return json.loads(report.read_text())


# (mode, exit code: 2 refused at start, 1 failed while running, what the one line says)
HOSTILE = [
    ("huge-header", 2, "the peer's stream header declares 2147483647 bytes"),
    ("geometry-0", 2, "the event stream declares an impossible resolution 0x0"),
    ("garbage-stall", 2, "the peer sent no valid DV stream header within 5 s"),
    ("negative-size", 1, "a packet header at stream byte 0 declares -1 bytes"),
    ("bad-type", 1, "is not an event packet (type identifier b'XXXX', expected 'EVTS')"),
    ("huge-packet", 1, "a packet header at stream byte 0 declares 2147483647 bytes"),
]


@pytest.mark.parametrize("mode, exit_code, problem", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_a_hostile_peer_ends_ezsr_live_with_one_clear_line(mode, exit_code, problem, capture, tmp_path):
    port = free_port()
    peer = start_peer(mode, f"tcp:{port}", capture=capture)
    try:
        run = _run_ezsr_live(f"tcp://127.0.0.1:{port}", tmp_path)
    finally:
        peer.kill()
        peer.wait()
    lines = run["stderr"].strip().splitlines()
    assert not run["timed_out"], run["stderr"][-2000:]
    assert run["returncode"] == exit_code, run["stderr"][-2000:]  # not -6 (abort), not a traceback's 1
    assert len(lines) == 1 and lines[0].startswith(f"ezsr-live: tcp://127.0.0.1:{port}: "), lines
    assert problem in lines[0]
    assert "Traceback" not in run["stderr"]
    assert run["wall_s"] < BOUND_S
    assert run["maxrss_bytes"] < 1 << 30, f"peak RSS {run['maxrss_bytes'] / 2**20:.0f} MiB"
    assert not list(tmp_path.glob("core*"))


def test_a_stalling_peer_on_a_unix_socket_times_out_at_the_handshake(tmp_path):
    path = tmp_path / "stall.sock"
    peer = start_peer("garbage-stall", f"unix:{path}")
    try:
        start = time.monotonic()
        with pytest.raises(SourceError, match=rf"unix://{path}: the peer sent no valid DV stream header within 1 s"):
            open_source(f"unix://{path}", handshake_timeout_s=1.0)
        assert time.monotonic() - start < 15
    finally:
        peer.kill()
        peer.wait()


def test_a_hostile_peer_mid_stream_is_a_source_error_and_the_events_before_it_arrive(capture):
    port = free_port()
    peer = start_peer("bad-type", f"tcp:{port}", capture=capture)
    try:
        source = open_source(f"tcp://127.0.0.1:{port}")
        thread = SourceThread(source).start()
        with pytest.raises(SourceError, match="is not an event packet"):
            for _ in thread:  # the damaged packet is the first one: nothing comes before it
                pass
        assert source.status == "failed"
        assert not thread.alive
    finally:
        peer.kill()
        peer.wait()


@pytest.mark.parametrize("compression", ["LZ4", "ZSTD"])
def test_compressed_streams_are_decoded_by_dv_behind_the_relay(samples_dir, compression):
    from .test_dv_network import _file_events

    expected = _file_events(samples_dir / SAMPLE)
    port = free_port()
    server = _start_server(samples_dir / SAMPLE, f"tcp:{port}", "--compression", compression)
    try:
        source = _connect(f"tcp://127.0.0.1:{port}")
        assert source.info.header["compression"] == compression
        got = _receive(source, len(expected))
        assert np.array_equal(got, expected)
    finally:
        server.kill()
        server.wait()


def test_a_crashed_reader_process_fails_the_stream_and_reconnect_treats_it_as_a_disconnection(samples_dir):
    port = free_port()
    server = _start_server(samples_dir / SAMPLE, f"tcp:{port}")
    try:
        plain = _connect(f"tcp://127.0.0.1:{port}")
        plain._reader.proc.send_signal(signal.SIGSEGV)  # what a decoder crash looks like
        with pytest.raises(SourceError, match="the stream reader process died \\(killed by SIGSEGV"):
            for _ in plain:
                pass
        resilient = _connect(f"tcp://127.0.0.1:{port}", reconnect=True, max_backoff_s=0.2)
        first = resilient._reader.proc
        thread = SourceThread(resilient).start()
        first.kill()
        deadline = time.monotonic() + 60
        while resilient.reconnects == 0 and time.monotonic() < deadline:
            thread.buffer.get(timeout=0.1)
        assert resilient.reconnects >= 1 and thread.alive
        assert thread.stop(timeout=2.0)
        assert resilient.status == "stopped"
    finally:
        server.kill()
        server.wait()


def test_mutated_real_streams_never_crash_or_hang_the_client(capture, tmp_path):
    rng = random.Random(16)
    data = capture.read_bytes()
    cases = []
    for i in range(FUZZ_CASES):
        path = tmp_path / f"case{i}.bin"
        path.write_bytes(mutate_stream(data, rng))
        cases.append(path)
    port = free_port()
    peer = start_peer("serve", f"tcp:{port}", serve=cases)
    outcomes: dict[str, int] = {}
    try:
        for _ in cases:
            start = time.monotonic()
            try:
                source = open_source(f"tcp://127.0.0.1:{port}", handshake_timeout_s=2.0)
                n = 0
                for packet in source:  # the peer closes after its bytes: this ends by itself
                    n += len(packet)
                    assert time.monotonic() - start < BOUND_S, "a case hangs"
                outcome = source.status
            except EzsrError as exc:
                outcome = type(exc).__name__
            assert time.monotonic() - start < BOUND_S
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finally:
        peer.kill()
        peer.wait()
    assert set(outcomes) <= {"ended: peer disconnected", "SourceError"}, outcomes
    assert sum(outcomes.values()) == FUZZ_CASES
