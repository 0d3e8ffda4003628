"""Paced replay: every event delivered, in file order, on the recording's own clock."""
from __future__ import annotations

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.replay import SLICE_WALL_S, ReplaySource
from ezsr_live.drivers.sources import open_source
from ezsr_live.errors import SourceError
from ezsr_live.handover import SourceThread

EVT3 = "evt3_gen41_1280x720.raw"
AEDAT4 = "dvxplorer_320x240.aedat4"


class FakeClock:
    """Wall clock that advances only when the replay waits: the schedule becomes exact."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def _replay(path, **options):
    clock = FakeClock()
    source = ReplaySource(path, clock=clock, wait=clock.wait, **options)
    released = []  # (wall time of release, packet)
    for packet in source:
        released.append((clock.now, packet))
    return source, clock, released


@pytest.mark.parametrize("speed", [1.0, 0.5, 4.0])
def test_paced_replay_releases_each_slice_at_its_event_time(samples_dir, speed):
    path = samples_dir / EVT3
    expected = open_reader(path).read_all()
    source, clock, released = _replay(path, speed=speed)
    got = np.concatenate([p for _, p in released])
    assert np.array_equal(got, expected)  # nothing lost, file order kept
    t0 = int(expected["t"][0])
    running_max = np.maximum.accumulate(expected["t"])
    end = 0
    for wall, packet in released:
        end += len(packet)
        due = 100.0 + (int(running_max[end - 1]) - t0) / (speed * 1e6)
        assert wall == pytest.approx(due, abs=1e-9)  # released when due, not later
    # drift-free: the whole replay spans the recording's duration / speed
    span_s = (int(running_max[-1]) - t0) / 1e6 / speed
    assert clock.now - 100.0 == pytest.approx(span_s, abs=1e-9)
    # one release per ~millisecond of wall time, never one per event
    assert len(released) <= span_s / SLICE_WALL_S + 2
    assert source.status == "ended: end of recording"


def test_max_speed_never_waits(samples_dir):
    source, clock, released = _replay(samples_dir / EVT3, speed=None)
    assert clock.waits == []
    assert sum(len(p) for _, p in released) == 219596


def test_start_and_duration_select_event_time_relative_to_the_first_event(samples_dir):
    path = samples_dir / AEDAT4
    events = open_reader(path).read_all()
    t0 = int(events["t"][0])
    _, _, released = _replay(path, speed=None, start_us=100_000, duration_us=200_000)
    got = np.concatenate([p for _, p in released])
    keep = (events["t"] >= t0 + 100_000) & (events["t"] < t0 + 300_000)
    assert np.array_equal(got, events[keep])
    assert got["t"][0] > 1_600_000_000_000_000  # Unix-epoch µs are kept as they are


def test_loop_replays_again_with_time_shifted_forward(samples_dir):
    path = samples_dir / AEDAT4
    events = open_reader(path).read_all()
    source = ReplaySource(path, speed=None, loop=True)
    n, parts = len(events), []
    for packet in source:
        parts.append(packet)
        if sum(len(p) for p in parts) >= 2 * n + 1:
            source.stop()
    got = np.concatenate(parts)
    first, second = got[:n], got[n : 2 * n]
    assert np.array_equal(first, events)
    shift = second["t"] - events["t"]
    assert np.all(shift == shift[0]) and shift[0] > events["t"].max() - events["t"].min()
    for field in "xyp":
        assert np.array_equal(second[field], events[field])
    assert source.passes >= 2


def test_stop_ends_a_paced_replay_promptly(samples_dir):
    source = open_source(str(samples_dir / AEDAT4), speed=0.001)  # would take ~10 minutes
    thread = SourceThread(source).start()
    assert thread.buffer.get(timeout=5.0) is not None
    assert thread.stop(timeout=2.0)  # the thread ended instead of sleeping on
    assert source.status == "stopped"


@pytest.mark.parametrize("options", [{"speed": 0}, {"speed": -1}, {"start_us": -5}, {"duration_us": 0}])
def test_invalid_replay_options_are_refused(samples_dir, options):
    with pytest.raises(SourceError):
        ReplaySource(samples_dir / EVT3, **options)
