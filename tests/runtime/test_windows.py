"""Windows: the live ring buffer and the offline window iterator."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.events import EVENT_DTYPE, make_events
from ezsr_live.runtime.ring import EventRingBuffer
from ezsr_live.windows import Window, WindowSpec, iter_windows

EVT3_WRAP_US = 1 << 24


def jittery_stream(seed: int, n: int, t0: int = 0, jitter: int = 40) -> np.ndarray:
    """Mostly increasing timestamps that step back a little now and then, like EVT 3.0."""
    rng = np.random.default_rng(seed)
    t = t0 + np.cumsum(rng.integers(0, 25, n)) + rng.integers(-jitter, jitter + 1, n) * (rng.random(n) < 0.1)
    events = make_events(t, rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n))
    return events


def stream_clock(events: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(events["t"])


def random_packets(events: np.ndarray, seed: int, max_size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n_cuts = min(len(events) - 1, len(events) // max(max_size // 2, 1))
    cuts = np.sort(rng.choice(np.arange(1, len(events)), size=n_cuts, replace=False))
    return np.split(events, cuts)


def same_windows(a: list[Window], b: list[Window]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(u.events, v.events)
        and (u.first_event, u.t_start_us, u.t_end_us, u.complete, u.index)
        == (v.first_event, v.t_start_us, v.t_end_us, v.complete, v.index)
        for u, v in zip(a, b)
    )


# --------------------------------------------------------------------------- WindowSpec


def test_window_spec_takes_exactly_one_positive_length() -> None:
    assert WindowSpec.by_events().n_events == 15_000
    assert WindowSpec.by_time_ms(50).duration_us == 50_000
    for bad in (dict(), dict(n_events=10, duration_us=10), dict(n_events=0), dict(duration_us=-5)):
        with pytest.raises(ValueError):
            WindowSpec(**bad)


# --------------------------------------------------------------------------- offline


@pytest.mark.parametrize("stride", [None, 300, 2_500])
def test_count_windows_are_the_stream_sliced_at_multiples_of_the_stride(stride) -> None:
    events = jittery_stream(1, 20_000)
    windows = list(iter_windows(events, WindowSpec.by_events(1_000), stride=stride))
    step = stride or 1_000
    starts = range(0, len(events) - 1_000 + 1, step)
    assert [w.first_event for w in windows] == list(starts)
    clock = stream_clock(events)
    for k, (w, start) in enumerate(zip(windows, starts)):
        assert w.index == k and w.complete
        np.testing.assert_array_equal(w.events, events[start : start + 1_000])
        assert (w.t_start_us, w.t_end_us) == (clock[start], clock[start + 999] + 1)


def test_count_windows_end_with_the_partial_window_only_on_request() -> None:
    events = jittery_stream(2, 2_500)
    full = list(iter_windows(events, WindowSpec.by_events(1_000)))
    with_partial = list(iter_windows(events, WindowSpec.by_events(1_000), include_partial=True))
    assert len(full) == 2 and len(with_partial) == 3
    assert not with_partial[-1].complete and len(with_partial[-1]) == 500


@pytest.mark.parametrize("duration,stride", [(5_000, None), (5_000, 1_234), (5_000, 20_000), (77, 77)])
def test_time_windows_hold_the_events_that_arrived_while_the_clock_was_in_the_span(duration, stride) -> None:
    events = jittery_stream(3, 30_000)
    clock = stream_clock(events)
    origin = int(clock[0])
    step = stride or duration
    windows = list(iter_windows(events, WindowSpec(duration_us=duration), stride=stride, skip_empty=False))
    expected_count = (int(clock[-1]) - origin - duration) // step + 1  # windows the stream fully covers
    assert len(windows) == expected_count
    for k, w in enumerate(windows):
        start = origin + k * step
        members = np.flatnonzero((clock >= start) & (clock < start + duration))
        assert (w.index, w.t_start_us, w.t_end_us) == (k, start, start + duration)
        np.testing.assert_array_equal(w.events, events[members])
        if len(members):
            assert w.first_event == members[0]


def test_time_windows_of_a_sorted_stream_are_exactly_the_events_in_the_span() -> None:
    events = jittery_stream(4, 10_000, jitter=0)
    for w in iter_windows(events, WindowSpec(duration_us=3_000), include_partial=True):
        in_span = events[(events["t"] >= w.t_start_us) & (events["t"] < w.t_end_us)]
        np.testing.assert_array_equal(w.events, in_span)


def test_empty_time_windows_are_skipped_by_default() -> None:
    t = np.r_[np.arange(0, 1_000, 10), np.arange(10_000_000, 10_001_000, 10)]
    events = make_events(t, np.zeros(t.size), np.zeros(t.size), np.ones(t.size))
    windows = list(iter_windows(events, WindowSpec(duration_us=500), include_partial=True))
    assert [w.index for w in windows] == [0, 1, 20_000, 20_001]
    assert all(len(w) == 50 for w in windows)


@pytest.mark.parametrize(
    "spec,stride",
    [
        (WindowSpec.by_events(1_000), None),
        (WindowSpec.by_events(1_000), 333),
        (WindowSpec.by_events(700), 2_000),
        (WindowSpec(duration_us=4_000), None),
        (WindowSpec(duration_us=4_000), 1_500),
        (WindowSpec(duration_us=4_000), 9_000),
    ],
)
def test_windows_do_not_depend_on_how_the_stream_is_packetised(spec, stride) -> None:
    events = jittery_stream(5, 40_000)
    whole = list(iter_windows(events, spec, stride=stride, include_partial=True))
    for seed, max_size in ((1, 1), (2, 50), (3, 5_000)):
        packets = random_packets(events, seed, max_size)
        assert same_windows(list(iter_windows(iter(packets), spec, stride=stride, include_partial=True)), whole)


def test_windows_across_an_evt3_time_wrap_are_exact() -> None:
    # readers unwrap the 24-bit EVT 3.0 clock into int64 microseconds
    events = jittery_stream(6, 20_000, t0=EVT3_WRAP_US - 100_000)
    assert events["t"].min() < EVT3_WRAP_US < events["t"].max()
    spec = WindowSpec(duration_us=10_000)
    windows = list(iter_windows(random_packets(events, 7, 3_000), spec))
    clock = stream_clock(events)
    straddling = [w for w in windows if w.t_start_us < EVT3_WRAP_US <= w.t_end_us]
    assert len(straddling) == 1
    w = straddling[0]
    np.testing.assert_array_equal(w.events, events[(clock >= w.t_start_us) & (clock < w.t_end_us)])


def test_an_empty_stream_has_no_windows() -> None:
    empty = np.zeros(0, EVENT_DTYPE)
    assert list(iter_windows(empty, WindowSpec.by_events(10), include_partial=True)) == []
    assert list(iter_windows([empty, empty], WindowSpec(duration_us=10), include_partial=True)) == []


@pytest.mark.parametrize("name", ["evt3_gen41_1280x720.raw", "evt2_gen3_640x480.raw"])
def test_windows_over_a_reader_equal_windows_over_the_whole_file(samples_dir, name: str) -> None:
    reader = open_reader(samples_dir / name, chunk_events=10_007)
    whole = reader.read_all()
    for spec in (WindowSpec.by_events(15_000), WindowSpec.by_time_ms(2)):
        streamed = list(iter_windows(reader, spec, include_partial=True))
        assert same_windows(streamed, list(iter_windows(whole, spec, include_partial=True)))
        assert sum(len(w) for w in streamed) == len(whole)


# --------------------------------------------------------------------------- ring buffer


def pushed_in_packets(ring: EventRingBuffer, events: np.ndarray, seed: int, max_size: int):
    """Push the stream packet by packet, yielding how many events were pushed so far."""
    total = 0
    for packet in random_packets(events, seed, max_size):
        ring.push(packet)
        total += len(packet)
        yield total


def test_ring_keeps_a_fixed_capacity_and_memory() -> None:
    ring = EventRingBuffer(10_000)
    nbytes = ring.nbytes
    for _ in pushed_in_packets(ring, jittery_stream(8, 50_000), 8, 3_000):
        assert len(ring) <= ring.capacity
    assert ring.capacity >= 10_000 and len(ring) == ring.capacity
    assert ring.nbytes == nbytes < ring.capacity * EVENT_DTYPE.itemsize * 1.01


def test_newest_count_window_is_the_tail_of_the_stream_across_packets_and_wraps() -> None:
    events = jittery_stream(9, 60_000)
    clock = stream_clock(events)
    ring = EventRingBuffer(8_192)
    for total in pushed_in_packets(ring, events, 9, 2_000):
        w = ring.newest(WindowSpec.by_events(5_000))
        first = max(0, total - 5_000)
        np.testing.assert_array_equal(w.events, events[first:total])
        assert (w.first_event, w.stop_event) == (first, total)
        assert (w.t_start_us, w.t_end_us) == (clock[first], clock[total - 1] + 1)
        assert w.complete == (total >= 5_000)


def test_newest_copies_into_a_reused_buffer_when_it_fits_and_allocates_when_not() -> None:
    events = jittery_stream(11, 40_000)
    ring = EventRingBuffer(8_192)
    buffer = np.zeros(6_000, EVENT_DTYPE)
    for total in pushed_in_packets(ring, events, 11, 1_500):  # across the ring's wrap
        w = ring.newest(WindowSpec.by_events(5_000), out=buffer)
        first = max(0, total - 5_000)
        np.testing.assert_array_equal(w.events, events[first:total])
        assert np.shares_memory(w.events, buffer)
    too_large = ring.newest(WindowSpec.by_events(8_000), out=buffer)
    np.testing.assert_array_equal(too_large.events, events[-8_000:])
    assert not np.shares_memory(too_large.events, buffer)


def test_count_window_larger_than_the_ring_is_cut_to_the_ring_and_marked_incomplete() -> None:
    events = jittery_stream(10, 20_000)
    ring = EventRingBuffer(4_096)
    ring.push(events)
    w = ring.newest(WindowSpec.by_events(15_000))
    np.testing.assert_array_equal(w.events, events[-4_096:])
    assert not w.complete


@pytest.mark.parametrize("capacity", [4_096, 30_000])
def test_newest_time_window_follows_the_stream_clock(capacity: int) -> None:
    events = jittery_stream(11, 60_000)
    clock = stream_clock(events)
    ring = EventRingBuffer(capacity, restart_gap_us=None)
    rng = np.random.default_rng(11)
    for total in pushed_in_packets(ring, events, 12, 3_000):
        duration = int(rng.integers(1, 200_000))
        w = ring.newest(WindowSpec(duration_us=duration))
        t_start = int(clock[total - 1]) + 1 - duration
        first_in_stream = int(np.searchsorted(clock[:total], t_start))
        oldest = max(0, total - ring.capacity)
        first = max(first_in_stream, oldest)
        np.testing.assert_array_equal(w.events, events[first:total])
        assert (w.t_start_us, w.t_end_us) == (t_start, clock[total - 1] + 1)
        assert w.complete == (first_in_stream > 0 and first_in_stream >= oldest)


def test_a_packet_larger_than_the_ring_keeps_its_newest_events_and_clock() -> None:
    events = jittery_stream(13, 50_000)
    ring = EventRingBuffer(4_096)
    ring.push(events[:1_000])
    ring.push(events[1_000:])
    assert ring.total_pushed == 50_000
    w = ring.newest(WindowSpec(duration_us=10**9))
    np.testing.assert_array_equal(w.events, events[-ring.capacity :])
    assert w.first_event == 50_000 - ring.capacity and not w.complete


def test_latest_wins_skips_unchanged_windows() -> None:
    ring = EventRingBuffer(10_000)
    assert ring.newest(WindowSpec.by_events(100)) is None
    events = jittery_stream(14, 1_000)
    ring.push(events[:600])
    first = ring.newest(WindowSpec.by_events(100))
    assert ring.newest(WindowSpec.by_events(100), after=first.stop_event) is None
    ring.push(events[600:])
    second = ring.newest(WindowSpec.by_events(100), after=first.stop_event)
    np.testing.assert_array_equal(second.events, events[900:])  # the newest, not the next
    assert second.index > first.index


def test_time_going_back_past_the_restart_gap_clears_the_ring() -> None:
    ring = EventRingBuffer(10_000, restart_gap_us=1_000_000)
    ring.push(make_events(np.arange(0, 5_000_000, 1_000), np.zeros(5_000), np.zeros(5_000), np.ones(5_000)))
    replay = make_events(np.arange(0, 50_000, 100), np.ones(500), np.ones(500), np.ones(500))
    ring.push(replay)
    assert ring.generation == 1 and ring.total_pushed == 500
    np.testing.assert_array_equal(ring.newest(WindowSpec(duration_us=10_000)).events, replay[-100:])


def test_wait_for_events_times_out_then_wakes_on_push() -> None:
    ring = EventRingBuffer(1_000)
    assert not ring.wait_for_events(0, timeout=0.01)
    pusher = threading.Timer(0.05, ring.push, args=(jittery_stream(15, 10),))
    pusher.start()
    try:
        assert ring.wait_for_events(0, timeout=10)
    finally:
        pusher.join()
    assert ring.total_pushed == 10


def test_concurrent_consumer_never_sees_a_torn_window() -> None:
    # each event's x/y encode its stream index, so a window must be a run of indices
    n = 400_000
    index = np.arange(n)
    events = make_events(index, index % 65_536, index // 65_536, index % 2)
    ring = EventRingBuffer(50_000)
    done = threading.Event()
    failures: list[str] = []
    cuts = 0

    def consume() -> None:
        nonlocal cuts
        after = 0
        while not done.is_set() or ring.total_pushed > after:
            if not ring.wait_for_events(after, timeout=0.5):
                continue
            spec = WindowSpec.by_events(15_000) if cuts % 2 else WindowSpec(duration_us=20_000)
            w = ring.newest(spec, after=after)
            if w is None:
                continue
            cuts += 1
            got = w.events["x"].astype(np.int64) + w.events["y"].astype(np.int64) * 65_536
            if not np.array_equal(got, np.arange(w.first_event, w.stop_event)):
                failures.append(f"torn window {w.first_event}:{w.stop_event}")
            after = w.stop_event

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        for start in range(0, n, 7_919):
            ring.push(events[start : start + 7_919])
    finally:
        done.set()
        consumer.join(timeout=60)
    assert not consumer.is_alive()
    assert not failures
    assert cuts > 0
