"""Bounded hand-overs between threads: drop the oldest, count, never queue without bound."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ezsr_live.events import empty_events
from ezsr_live.runtime.handover import PacketBuffer, SourceThread


def _packet(n: int, t0: int = 0) -> np.ndarray:
    p = empty_events(n)
    p["t"] = np.arange(t0, t0 + n)
    return p


def test_buffer_drops_the_oldest_packets_and_counts_them():
    buf = PacketBuffer(max_events=250)
    for k in range(5):
        buf.put(_packet(100, k * 100))
    assert buf.events_dropped == 300 and buf.packets_dropped == 3
    assert buf.buffered_events == 200
    assert buf.get(0)["t"][0] == 300  # the newest two survive, oldest first
    assert buf.get(0)["t"][0] == 400


def test_buffer_keeps_a_single_oversized_packet():
    buf = PacketBuffer(max_events=10)
    buf.put(_packet(50))
    assert len(buf.get(0)) == 50 and buf.events_dropped == 0


def test_buffer_packet_count_is_bounded_too():
    buf = PacketBuffer(max_events=10**9, max_packets=8)
    for k in range(100):
        buf.put(_packet(1, k))
    assert len(buf) == 8 and buf.packets_dropped == 92


def test_closed_buffer_wakes_a_waiting_consumer():
    buf = PacketBuffer()
    threading.Timer(0.05, buf.close).start()
    assert buf.get(timeout=5.0) is None
    assert buf.drained


def test_source_thread_delivers_everything_when_the_consumer_keeps_up():
    packets = [_packet(10, 10 * k) for k in range(50)]
    seen = []
    with SourceThread(iter(packets), tap=seen.append) as thread:
        got = list(thread)
    assert len(got) == 50 and len(seen) == 50
    assert np.array_equal(np.concatenate(got)["t"], np.arange(500))


def test_a_slow_consumer_makes_the_source_thread_drop_old_packets_not_grow():
    def fast_source():
        for k in range(2000):
            yield _packet(1000, 1000 * k)

    thread = SourceThread(fast_source(), PacketBuffer(max_events=20_000)).start()
    got = 0
    for packet in thread:
        got += len(packet)
        assert thread.buffer.buffered_events <= 20_000
        time.sleep(0.001)
    assert thread.buffer.events_dropped > 0
    assert got + thread.buffer.events_dropped == 2_000_000


def test_a_failing_source_surfaces_its_error_to_the_consumer():
    def broken():
        yield _packet(5)
        raise OSError("device fell off the bus")

    thread = SourceThread(broken()).start()
    with pytest.raises(OSError, match="fell off"):
        list(thread)


def test_stop_ends_an_endless_source_within_two_seconds():
    class Endless:
        def __init__(self):
            self.stopped = threading.Event()

        def __iter__(self):
            while not self.stopped.is_set():
                time.sleep(0.01)
                yield _packet(1)

        def stop(self):
            self.stopped.set()

    thread = SourceThread(Endless()).start()
    time.sleep(0.05)
    assert thread.stop(timeout=2.0)
    assert not thread.alive
