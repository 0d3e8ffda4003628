"""Paced replay: every event delivered, in file order, on the recording's own clock."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.replay import SLICE_WALL_S, ReplaySource
from ezsr_live.drivers.sources import open_source
from ezsr_live.errors import SourceError
from ezsr_live.events import EVENT_DTYPE
from ezsr_live.runtime.handover import SourceThread, wait_until

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
    assert sum(len(p) for _, p in released) == len(open_reader(samples_dir / EVT3).read_all())


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


def test_set_speed_mid_replay_re_anchors_the_schedule_at_the_newest_released_event(samples_dir):
    path = samples_dir / EVT3
    expected = open_reader(path).read_all()
    running_max = np.maximum.accumulate(expected["t"])
    t0 = int(expected["t"][0])
    clock = FakeClock()
    source = ReplaySource(path, speed=1.0, clock=clock, wait=clock.wait)
    released, anchor = [], None  # anchor: (wall, event time, index) where the speed changed
    for packet in source:
        released.append((clock.now, packet))
        if anchor is None and sum(len(p) for _, p in released) >= len(expected) // 3:
            n = sum(len(p) for _, p in released)
            anchor = (clock.now, int(running_max[n - 1]), len(released))
            source.set_speed(4.0)
            assert source.speed == 4.0
    assert np.array_equal(np.concatenate([p for _, p in released]), expected)
    wall_a, t_a, k = anchor
    end = 0
    for i, (wall, packet) in enumerate(released):
        end += len(packet)
        speed, wall_ref, t_ref = (1.0, 100.0, t0) if i < k else (4.0, wall_a, t_a)
        # the first slice at 4x is due 1/4 of its sensor time after the anchor: no burst, no stall
        assert wall == pytest.approx(wall_ref + (int(running_max[end - 1]) - t_ref) / (speed * 1e6), abs=1e-9)
    span_after_s = (int(running_max[-1]) - t_a) / 4e6
    assert clock.now - wall_a == pytest.approx(span_after_s, abs=1e-9)
    # slices are recut for the new speed: still about one release per millisecond of wall time
    assert len(released) - k <= span_after_s / SLICE_WALL_S + 2


def test_set_speed_to_max_stops_waiting_and_invalid_speeds_are_refused(samples_dir):
    clock = FakeClock()
    source = ReplaySource(samples_dir / EVT3, speed=0.5, clock=clock, wait=clock.wait)
    n = 0
    for packet in source:
        n += len(packet)
        if len(clock.waits) == 10:
            source.set_speed(None)
    assert n == 219596 and len(clock.waits) == 10
    for bad in (0, -2.0):
        with pytest.raises(SourceError):
            source.set_speed(bad)


def _drain_with_seek(source, seek_after_events, offset_us):
    parts, seeked_at = [], None
    for packet in source:
        parts.append(packet)
        if seeked_at is None and sum(len(p) for p in parts) >= seek_after_events:
            seeked_at = len(parts)
            source.seek(offset_us)
    return parts[:seeked_at], parts[seeked_at:]


@pytest.mark.parametrize("speed", [None, 2.0])
@pytest.mark.parametrize("direction", ["back", "forward"])
def test_seek_continues_at_the_offset_with_the_clock_still_increasing(samples_dir, speed, direction):
    path = samples_dir / AEDAT4
    events = open_reader(path).read_all()
    t0 = int(events["t"][0])
    span = int(events["t"].max()) - t0
    seek_after, offset = (len(events) // 2, span // 5) if direction == "back" else (len(events) // 10, span // 2)
    clock = FakeClock()
    source = ReplaySource(path, speed=speed, chunk_events=4096, clock=clock, wait=clock.wait)
    before, after = _drain_with_seek(source, seek_after, offset)
    before, after = np.concatenate(before), np.concatenate(after)
    assert np.array_equal(before, events[: len(before)])
    expected = events[events["t"] >= t0 + offset]  # the events from the offset on, in file order
    assert len(after) == len(expected)
    for field in "xyp":
        assert np.array_equal(after[field], expected[field])
    shift = after["t"] - expected["t"]
    assert np.all(shift == shift[0])  # one shift for the whole new pass
    assert after["t"][0] > before["t"].max()  # consumers never see time go back
    assert source.position_us == int(expected["t"].max()) - t0 and source.span_us == span
    assert source.status == "ended: end of recording"


def test_seek_past_the_end_ends_the_replay_and_negative_offsets_are_refused(samples_dir):
    source = ReplaySource(samples_dir / AEDAT4, speed=None, chunk_events=4096)
    with pytest.raises(SourceError):
        source.seek(-1)
    before, after = _drain_with_seek(source, 1, 10**12)
    assert after == [] and source.status == "ended: end of recording"


def test_set_speed_wakes_a_slow_replay_promptly(samples_dir):
    source = open_source(str(samples_dir / AEDAT4), speed=0.001)  # would take ~10 minutes
    thread = SourceThread(source).start()
    assert thread.buffer.get(timeout=5.0) is not None
    source.set_speed(None)  # the sleeping thread wakes up at once and runs to the end
    assert wait_until(lambda: not thread.alive, timeout=10.0)
    assert source.status == "ended: end of recording"
    thread.stop()


def test_warm_up_decodes_the_first_events_and_the_replay_still_delivers_each_event_once(samples_dir):
    path = samples_dir / EVT3
    expected = open_reader(path).read_all()
    source = ReplaySource(path, speed=None)
    sample = source.warm_up()
    assert sample is not None and 0 < len(sample) <= 4096
    np.testing.assert_array_equal(sample, expected[:len(sample)])
    assert source.warm_up() is sample  # idempotent: nothing more is read
    np.testing.assert_array_equal(np.concatenate(list(source)), expected)
    source.close()


class _Consumer:
    """The replay iterated in a thread of its own, as the pipeline does: a paused replay
    blocks its iteration until it is resumed or stepped."""

    def __init__(self, source) -> None:
        self.source = source
        self.released: list[tuple[float, np.ndarray]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        clock = self.source._clock
        for packet in self.source:
            self.released.append((clock(), packet))

    def events(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.released]) if self.released else np.zeros(0, EVENT_DTYPE)


def test_a_paused_replay_holds_its_clock_and_steps_release_exactly_one_window(samples_dir):
    path = samples_dir / AEDAT4
    expected = open_reader(path).read_all()
    running_max = np.maximum.accumulate(expected["t"])
    clock = FakeClock()
    source = ReplaySource(path, speed=1.0, clock=clock, wait=clock.wait)
    source.pause()  # before the first event: what each step releases is known exactly
    consumer = _Consumer(source)
    assert wait_until(lambda: source.holding, timeout=10.0)
    time.sleep(0.2)
    assert consumer.released == [] and clock.waits == []  # nothing released, no paced time spent

    source.step(n_events=5000)
    assert wait_until(lambda: source.steps_done == 1 and source.holding, timeout=10.0)
    assert np.array_equal(consumer.events(), expected[:5000])  # the next 5000 events, at once
    assert clock.waits == []

    source.step(duration_us=20_000)  # the events while the clock advances by 20 ms
    assert wait_until(lambda: source.steps_done == 2 and source.holding, timeout=10.0)
    stop = int(np.searchsorted(running_max, int(running_max[4999]) + 20_000, side="right"))
    assert np.array_equal(consumer.events(), expected[:stop])
    assert source.position_us == int(running_max[stop - 1]) - int(expected["t"][0])

    # resumed, the replay continues from there on its schedule, anchored at the resume
    wall_resumed, t_anchor = clock.now, int(running_max[stop - 1])
    k = len(consumer.released)
    source.resume()
    consumer.thread.join(timeout=30.0)
    assert np.array_equal(consumer.events(), expected)  # every event once, in file order
    end = stop
    for wall, packet in consumer.released[k:]:
        end += len(packet)
        assert wall == pytest.approx(wall_resumed + (int(running_max[end - 1]) - t_anchor) / 1e6, abs=1e-9)
    assert source.status == "ended: end of recording"


def test_step_needs_a_paused_replay_and_one_window_size(samples_dir):
    source = ReplaySource(samples_dir / AEDAT4, speed=None)
    with pytest.raises(SourceError, match="paused"):
        source.step(n_events=10)
    source.pause()
    for bad in ({}, {"n_events": 0}, {"n_events": 10, "duration_us": 10}):
        with pytest.raises(SourceError):
            source.step(**bad)


def test_stop_ends_a_paused_replay_promptly(samples_dir):
    source = ReplaySource(samples_dir / AEDAT4, speed=1.0)
    source.pause()
    consumer = _Consumer(source)
    assert wait_until(lambda: source.holding, timeout=10.0)
    source.stop()
    consumer.thread.join(timeout=2.0)
    assert not consumer.thread.is_alive() and source.status == "stopped"


def test_held_at_the_end_a_replay_waits_for_a_seek_and_replays_from_there(samples_dir):
    path = samples_dir / AEDAT4
    expected = open_reader(path).read_all()
    source = ReplaySource(path, speed=None, hold_at_end=True)
    consumer = _Consumer(source)
    assert wait_until(lambda: source.at_end, timeout=30.0)
    assert source.status == "ended: end of recording" and consumer.thread.is_alive()
    first_pass = consumer.events()
    assert np.array_equal(first_pass, expected)

    source.set_speed(4.0)  # taken while waiting: the next pass runs at it
    source.seek(0)
    assert source.position_us == 0  # said at once
    assert wait_until(lambda: source.at_end and len(consumer.events()) == 2 * len(expected), timeout=30.0)
    again = consumer.events()[len(expected):]
    for field in "xyp":
        assert np.array_equal(again[field], expected[field])  # the whole recording again...
    assert again["t"][0] > first_pass["t"].max()  # ...on a clock that kept increasing
    assert source.speed == 4.0 and source.passes == 2
    source.stop()
    consumer.thread.join(timeout=5.0)
    assert not consumer.thread.is_alive() and source.status == "stopped"


def test_the_span_is_measured_before_the_first_pass_ends(samples_dir):
    path = samples_dir / AEDAT4
    events = open_reader(path).read_all()
    source = ReplaySource(path, speed=1.0)
    assert not source.span_known and source.span_us == 0
    source.measure_span().join(timeout=30.0)
    assert source.span_known and source.span_us == int(events["t"].max()) - int(events["t"][0])
    selected = ReplaySource(path, speed=1.0, start_us=100_000, duration_us=200_000)
    selected.measure_span().join(timeout=30.0)
    assert selected.span_us == 100_000 + 200_000 - 1  # the selection's last position
