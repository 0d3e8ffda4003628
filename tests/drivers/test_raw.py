"""Prophesee RAW (EVT 2.0 / 2.1 / 3.0): real samples, hand-built word streams, writers."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ezsr_live.drivers import open_reader, open_writer, raw
from ezsr_live.drivers.raw import RawReader, read_header
from ezsr_live.errors import FormatError
from ezsr_live.events import EVENT_DTYPE, TRIGGER_DTYPE, Geometry, concat_events, make_events

from .formats_support import reference_summary

RAW_SAMPLES = ["evt3_gen41_1280x720.raw", "evt2_gen3_640x480.raw"]

SAMPLE_FORMAT = {"evt3_gen41_1280x720.raw": "evt3", "evt2_gen3_640x480.raw": "evt2"}
WRITER_SUFFIXES = {"evt3": ".raw", "evt2": ".evt2.raw"}
PERIOD_BITS = {"evt3": 24, "evt2": 34}


def read_chunks(path: Path, **kwargs: object) -> tuple[np.ndarray, np.ndarray, RawReader]:
    """All events and triggers of a file, and the reader (for its stats)."""
    reader = open_reader(path, **kwargs)  # type: ignore[arg-type]
    events, triggers = [], []
    for chunk in reader.iter_chunks():
        events.append(chunk.events)
        triggers.append(chunk.triggers)
    return concat_events(events), np.concatenate(triggers) if triggers else np.zeros(0, TRIGGER_DTYPE), reader


def write_raw(path: Path, header: str, words: list[int], word_format: str) -> Path:
    path.write_bytes(header.encode() + struct.pack(f"<{len(words)}{word_format}", *words))
    return path


# ----------------------------------------------------------------------------- samples


@pytest.mark.parametrize("name", RAW_SAMPLES)
def test_sample_decodes_to_reference_values(samples_dir: Path, reference: dict, name: str) -> None:
    reader = open_reader(samples_dir / name)
    events = reader.read_all()
    expected = {k: reference[name][k] for k in reference_summary(events)}
    assert reference_summary(events) == expected
    assert reader.info.format == SAMPLE_FORMAT[name]
    assert reader.stats.out_of_bounds == 0


def test_legacy_headers_give_geometry_camera_and_every_key(samples_dir: Path) -> None:
    evt3 = open_reader(samples_dir / "evt3_gen41_1280x720.raw").info
    assert evt3.geometry == Geometry(1280, 720)
    assert evt3.header["system_ID"] == "48" and evt3.header["evt"] == "3.0"
    assert evt3.serial == "00000307"
    assert evt3.camera == "hal_plugin_gen41_evk3"
    evt2 = open_reader(samples_dir / "evt2_gen3_640x480.raw").info
    assert evt2.geometry == Geometry(640, 480)
    assert evt2.header["Date"] == "2020-09-14 09:03:25"


@pytest.mark.parametrize("name", RAW_SAMPLES)
def test_chunk_size_does_not_change_the_events(samples_dir: Path, name: str) -> None:
    whole = open_reader(samples_dir / name).read_all()  # decoded in place, not through chunks
    sizes = [len(p) for p in open_reader(samples_dir / name, chunk_events=1000)]
    small, _, _ = read_chunks(samples_dir / name, chunk_events=1000)
    assert np.array_equal(small, whole)
    assert max(sizes) == 1000 and all(s == 1000 for s in sizes[:-1])


def test_read_all_grows_in_place_past_its_estimate_and_matches_the_chunks(tmp_path: Path) -> None:
    # VECT_12 words with every bit set: 6 events per byte, 12x read_all's estimate
    group = [0x3000] + [0x4FFF] * 100  # VECT_BASE_X 0, then 1,200 events on one row
    words = [0x8001, 0x6005, 0x0002] + group * 2000
    path = write_raw(tmp_path / "dense.raw", "% format EVT3;height=4;width=1280\n% end\n", words, "H")
    reader = open_reader(path)
    assert reader.estimated_events() * 10 < 2000 * 1200
    whole = reader.read_all()
    chunked, _, chunk_reader = read_chunks(path, chunk_events=100_000)
    assert len(whole) == 2000 * 1200 and np.array_equal(whole, chunked)
    assert whole.flags.owndata and whole.flags.c_contiguous
    assert reader.stats == chunk_reader.stats


def test_chunks_a_consumer_keeps_stay_intact_while_dropped_ones_are_recycled(samples_dir: Path) -> None:
    path = samples_dir / "evt2_gen3_640x480.raw"
    whole = open_reader(path).read_all()
    kept = {}
    for k, packet in enumerate(open_reader(path, chunk_events=20_000)):
        if k % 3 == 0:
            kept[k] = packet  # the others are dropped, and their arrays decoded into again
    assert len(kept) > 5
    for k, packet in kept.items():
        assert np.array_equal(packet, whole[k * 20_000 : (k + 1) * 20_000])


@pytest.mark.parametrize("name", RAW_SAMPLES)
def test_read_block_size_does_not_change_the_events(
    samples_dir: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    whole = open_reader(samples_dir / name).read_all()
    monkeypatch.setattr(raw, "BLOCK_BYTES", 4096 + 8)
    assert np.array_equal(open_reader(samples_dir / name, chunk_events=5000).read_all(), whole)


def test_iterating_again_starts_again_with_fresh_stats(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "a.raw", "% format EVT3;height=4;width=4\n% end\n", [0x2001, 0x8000, 0x2009], "H")
    reader = open_reader(path)
    first, second = reader.read_all(), reader.read_all()
    assert np.array_equal(first, second) and len(first) == 0
    assert reader.stats.before_first_time_high == 1
    assert reader.stats.out_of_bounds == 1


@pytest.mark.parametrize("name", RAW_SAMPLES)
@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_sample_round_trips_through_writer(samples_dir: Path, tmp_path: Path, name: str, fmt: str) -> None:
    reader = open_reader(samples_dir / name)
    events = reader.read_all()
    out = tmp_path / f"copy{WRITER_SUFFIXES[fmt]}"
    with open_writer(out, reader.geometry, info=reader.info) as writer:
        for part in np.array_split(events, 7):
            writer.write(part)
    back = open_reader(out)
    assert back.info.format == fmt
    assert back.info.serial == reader.info.serial
    assert np.array_equal(back.read_all(), events)


def test_writers_put_a_modern_header(tmp_path: Path) -> None:
    for fmt, suffix in WRITER_SUFFIXES.items():
        path = tmp_path / f"h{suffix}"
        with open_writer(path, Geometry(320, 240)):
            pass
        header = read_header(path)
        assert header.fields["format"] == f"{fmt.upper()};height=240;width=320"
        assert header.fields["geometry"] == "320x240"
        assert path.read_bytes()[: header.data_offset].endswith(b"% end\n")
        assert open_reader(path).read_all().size == 0


# ------------------------------------------------------------------ writer round trips


@st.composite
def representable_packets(draw: st.DrawFn, period_bits: int) -> np.ndarray:
    """Events whose times jump back and forth (small steps, large forward jumps across
    several wrap periods, backward steps up to ~0.1 s) but never back into an earlier
    wrap period: exactly what the writers promise to represent."""
    n = draw(st.integers(0, 300))
    steps = draw(
        st.lists(
            st.one_of(
                st.integers(-100_000, 100_000),
                st.integers(0, 3 << period_bits),
                st.sampled_from([(1 << period_bits) - 1, 1 << period_bits, 1 << (period_bits - 1)]),
            ),
            min_size=n,
            max_size=n,
        )
    )
    start = draw(st.one_of(st.integers(0, 1 << (period_bits + 1)), st.integers(-(1 << 56), 1 << 56)))
    t = start + np.cumsum(np.asarray(steps, dtype=np.int64))
    # a step back across a period boundary is not representable: clamp it to the boundary
    period_start = np.maximum.accumulate(t >> period_bits) << period_bits
    t = np.maximum(t, period_start)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return make_events(t, rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n))


def _round_trip(tmp_path: Path, fmt: str, events: np.ndarray, cuts: list[int]) -> np.ndarray:
    path = tmp_path / f"rt{WRITER_SUFFIXES[fmt]}"
    with open_writer(path, Geometry(1280, 720)) as writer:
        for part in np.split(events, sorted(c % (len(events) + 1) for c in cuts)):
            writer.write(part)
    return open_reader(path, chunk_events=97).read_all()


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_writer_round_trips_time_jumps_and_wraps(tmp_path: Path, fmt: str, data: st.DataObject) -> None:
    events = data.draw(representable_packets(PERIOD_BITS[fmt]))
    cuts = data.draw(st.lists(st.integers(0, 400), max_size=4))
    assert np.array_equal(_round_trip(tmp_path, fmt, events, cuts), events)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    period=st.integers(0, 5),
    offsets=st.lists(st.integers(0, (1 << 24) - 1), min_size=1, max_size=150),
)
def test_evt3_writer_round_trips_any_order_inside_a_wrap_period(tmp_path: Path, period: int, offsets: list[int]) -> None:
    n = len(offsets)
    events = make_events((period << 24) + np.asarray(offsets), np.arange(n) % 1280, np.arange(n) % 720, np.arange(n) % 2)
    assert np.array_equal(_round_trip(tmp_path, "evt3", events, [n // 2]), events)


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_unix_epoch_and_negative_times_round_trip_through_a_time_origin(tmp_path: Path, fmt: str) -> None:
    for t0 in (1_605_537_493_718_345, -123_456_789):
        events = make_events(t0 + np.array([0, 40, 7, 30_000_000]), [1, 2, 3, 4], [0, 1, 2, 3], [1, 1, 0, 0])
        path = tmp_path / f"epoch{WRITER_SUFFIXES[fmt]}"
        with open_writer(path, Geometry(8, 8)) as writer:
            writer.write(events)
        assert np.array_equal(open_reader(path).read_all(), events)
        assert path.stat().st_size < 200  # no TIME_HIGH walk from 0 to t0


def test_evt2_writer_round_trips_a_six_hour_stream(tmp_path: Path) -> None:
    hours6 = 6 * 3600 * 10**6
    t = np.linspace(0, hours6, 20_000).astype(np.int64)
    t[1::7] -= 3000  # real streams step back a little
    t = np.maximum(t, 0)
    events = make_events(t, np.arange(len(t)) % 640, np.arange(len(t)) % 480, np.arange(len(t)) % 2)
    assert t.max() > 1 << 34
    assert np.array_equal(_round_trip(tmp_path, "evt2", events, [5000, 12000]), events)


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_writer_refuses_times_it_cannot_represent(tmp_path: Path, fmt: str) -> None:
    period = 1 << PERIOD_BITS[fmt]
    path = tmp_path / f"bad{WRITER_SUFFIXES[fmt]}"
    with open_writer(path, Geometry(64, 64)) as writer:
        writer.write(make_events([period + 5], [1], [1], [1]))
        with pytest.raises(FormatError, match="earlier"):
            writer.write(make_events([period + 9, period - 1], [1, 2], [1, 2], [0, 0]))
        with pytest.raises(FormatError, match="too far ahead"):
            writer.write(make_events([1 << 60], [1], [1], [1]))
        with pytest.raises(FormatError, match="outside"):
            writer.write(make_events([period + 9], [64], [1], [1]))
        bad_polarity = make_events([period + 9], [1], [1], [1])
        bad_polarity["p"] = -1
        with pytest.raises(FormatError, match="polarity"):
            writer.write(bad_polarity)
    # everything before the offending event was written and reads back
    assert open_reader(path).read_all()["t"].tolist() == [period + 5, period + 9]


def test_writer_refuses_sensors_beyond_eleven_bit_coordinates(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="2048"):
        open_writer(tmp_path / "big.raw", Geometry(4096, 16))


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_triggers_round_trip_apart_from_cd_events(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"trig{WRITER_SUFFIXES[fmt]}"
    triggers = np.zeros(3, TRIGGER_DTYPE)
    triggers["t"] = [100, 5000, 5500]
    triggers["id"] = [0, 3, 15]
    triggers["p"] = [1, 0, 1]
    events = make_events([90, 4000, 6000, 1 << 25], [1, 2, 3, 4], [4, 5, 6, 7], [1, 0, 1, 0])
    with open_writer(path, Geometry(16, 16)) as writer:
        writer.write(events[:2])
        writer.write_triggers(triggers)
        writer.write(events[2:])
    got_events, got_triggers, _ = read_chunks(path)
    assert np.array_equal(got_events, events)
    assert np.array_equal(got_triggers, triggers)


# ------------------------------------------------------------- hand-built word streams

EVT3_HEADER = "% evt 3.0\n% format EVT3;height=16;width=20\n% end\n"


def test_evt3_words_vectors_triggers_unknown_and_out_of_bounds(tmp_path: Path) -> None:
    words = [
        0x0003,  # ADDR_Y 3, before any TIME_HIGH
        0x2805,  # ADDR_X 5 ON: dropped, before the first TIME_HIGH
        0x8001,  # TIME_HIGH 1 -> t = 4096
        0x6010,  # TIME_LOW 16 -> t = 4112
        0x2805,  # (5, 3) ON
        0x2015,  # x 21 >= width 20: out of bounds
        0x0007,  # y 7
        0x3802,  # VECT_BASE_X 2, ON
        0x4805,  # VECT_12 bits 0, 2, 11 -> x 2, 4, 13
        0x5081,  # VECT_8 bits 0, 7 -> x 14, 21 (21 out of bounds)
        0xA301,  # EXT_TRIGGER id 3, value 1
        0xE123,  # OTHERS: unsupported
        0x7001,  # CONTINUED_4: unsupported
        0x0011,  # y 17 >= height 16
        0x3000,  # VECT_BASE_X 0, OFF
        0x4003,  # two events on row 17: out of bounds
        0x0000,  # y 0
        0x2000,  # (0, 0) OFF
    ]
    path = write_raw(tmp_path / "hand.raw", EVT3_HEADER, words, "H")
    events, triggers, reader = read_chunks(path)
    t = 4096 + 16
    assert events.tolist() == [(t, 5, 3, 1), (t, 2, 7, 1), (t, 4, 7, 1), (t, 13, 7, 1), (t, 14, 7, 1), (t, 0, 0, 0)]
    assert triggers.tolist() == [(t, 3, 1)]
    assert reader.stats.before_first_time_high == 1
    assert reader.stats.out_of_bounds == 4
    assert reader.stats.unknown_words == 2


def test_evt3_time_high_wraps_and_small_backward_steps(tmp_path: Path) -> None:
    words = [
        0x8FFE, 0x6000, 0x0001, 0x2001,  # t = 0xFFE000
        0x8FF8, 0x2002,  # back by 6 units (<= 10): no wrap, low bits kept
        0x8002, 0x6005, 0x2003,  # drop of 0xFF6 units: one wrap -> 2^24 + 0x2005
        0x6001, 0x2004,  # TIME_LOW steps back: it just overwrites the low bits
    ]  # fmt: skip
    path = write_raw(tmp_path / "wrap.raw", EVT3_HEADER, words, "H")
    assert open_reader(path).read_all()["t"].tolist() == [0xFFE000, 0xFF8000, (1 << 24) + 0x2005, (1 << 24) + 0x2001]


def test_evt2_words_triggers_wrap_and_drops(tmp_path: Path) -> None:
    header = "% evt 2.0\n% format EVT2;height=16;width=20\n% end\n"
    cd = lambda p, t6, x, y: (p << 28) | (t6 << 22) | (x << 11) | y  # noqa: E731
    words = [
        cd(1, 0, 1, 1),  # before TIME_HIGH
        (0x8 << 28) | 0xFFFFFFF,  # TIME_HIGH: t = (2^28 - 1) * 64
        cd(1, 5, 2, 3),
        cd(0, 6, 20, 3),  # x out of bounds
        (0xA << 28) | (7 << 22) | (17 << 8) | 1,  # trigger id 17
        (0xE << 28) | 1,  # OTHERS
        (0x8 << 28) | 2,  # wrap: 2^34 + 128
        cd(0, 1, 19, 15),
    ]
    path = write_raw(tmp_path / "hand.raw", header, words, "I")
    events, triggers, reader = read_chunks(path)
    high = ((1 << 28) - 1) << 6
    assert events.tolist() == [(high + 5, 2, 3, 1), ((1 << 34) + 129, 19, 15, 0)]
    assert triggers.tolist() == [(high + 7, 17, 1)]
    assert (reader.stats.before_first_time_high, reader.stats.out_of_bounds, reader.stats.unknown_words) == (1, 1, 1)


@pytest.mark.parametrize("layout", ["legacy", "little"])
def test_evt21_vectorised_words(tmp_path: Path, layout: str) -> None:
    def word(head: int, valid: int) -> int:
        return head | (valid << 32) if layout == "legacy" else (head << 32) | valid

    header = f"% format EVT21;height=8;width=40;endianness={layout}\n% end\n"
    words = [
        word((0x8 << 28) | 10, 0),  # TIME_HIGH: t = 640
        word((1 << 28) | (3 << 22) | (8 << 11) | 2, 0x8000_0005),  # x 8, 10 and 39 on row 2
        word((0 << 28) | (4 << 22) | (30 << 11) | 7, 0b1_0000_0001),  # x 30 and 38, OFF
        word((0 << 28) | (4 << 22) | (30 << 11) | 7, 1 << 12),  # x 42: out of bounds
        word((0xA << 28) | (9 << 22) | (2 << 8), 0),  # trigger id 2, value 0
        word(0xF << 28, 0),  # CONTINUED: unsupported
    ]
    path = write_raw(tmp_path / "v.raw", header, words, "Q")
    events, triggers, reader = read_chunks(path)
    assert reader.info.format == "evt21"
    assert events.tolist() == [(643, 8, 2, 1), (643, 10, 2, 1), (643, 39, 2, 1), (644, 30, 7, 0), (644, 38, 7, 0)]
    assert triggers.tolist() == [(649, 2, 0)]
    assert (reader.stats.out_of_bounds, reader.stats.unknown_words) == (1, 1)


def test_legacy_evt21_header_means_legacy_layout(tmp_path: Path) -> None:
    words = [(0x8 << 28) | 1, (1 << 28) | (1 << 11) | 1 | (1 << 32)]  # legacy: head first
    path = write_raw(tmp_path / "l.raw", "% evt 2.1\n% geometry 4x4\n", words, "Q")
    assert open_reader(path).read_all().tolist() == [(64, 1, 1, 1)]


# ---------------------------------------------------------------------------- headers


def test_unknown_legacy_system_id_asks_for_geometry(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "s.raw", "% evt 3.0\n% system_ID 30\n", [0x8000, 0x2001], "H")
    with pytest.raises(FormatError, match="--geometry") as error:
        open_reader(path)
    assert str(path) in str(error.value)
    assert open_reader(path, geometry=Geometry(4, 4)).read_all().tolist() == [(0, 1, 0, 0)]


@pytest.mark.parametrize(
    "header, problem",
    [
        ("", "no RAW header"),
        ("% date 2024\n% geometry 4x4\n", "no RAW header"),
        ("% format EVT4;height=4;width=4\n", "unsupported"),
        ("% evt 4.0\n% geometry 4x4\n", "unsupported"),
        ("% format EVT3;height=four;width=4\n", "bad geometry"),
        ("% evt 3.0\n% geometry 4by4\n", "geometry"),
    ],
)
def test_bad_headers_are_format_errors(tmp_path: Path, header: str, problem: str) -> None:
    path = write_raw(tmp_path / "h.raw", header, [0x8000, 0x2001], "H")
    with pytest.raises(FormatError, match=problem):
        open_reader(path)


def test_binary_data_starting_with_percent_is_not_header(tmp_path: Path) -> None:
    # no '% end', and the first word 0x2025 (ADDR_X 37) starts with the byte '%'
    path = write_raw(tmp_path / "p.raw", "% evt 3.0\n% geometry 64x64\n", [0x2025, 0x8000, 0x2026], "H")
    assert path.read_bytes()[read_header(path).data_offset] == ord("%")
    reader = open_reader(path)
    assert reader.read_all().tolist() == [(0, 38, 0, 0)]
    assert reader.stats.before_first_time_high == 1


# ----------------------------------------------------------------------- bad contents


@pytest.mark.parametrize("name", RAW_SAMPLES)
def test_a_cut_word_at_the_end_is_a_warning_after_every_complete_event(
    samples_dir: Path, tmp_path: Path, name: str, caplog
) -> None:
    # a recording killed or stopped by a full disk while written ends inside a word
    data = (samples_dir / name).read_bytes()
    cut = len(data) - 1
    path = tmp_path / name
    path.write_bytes(data[:cut])
    got = open_reader(path).read_all()
    word = 2 if SAMPLE_FORMAT[name] == "evt3" else 4
    offset = cut - (cut - read_header(path).data_offset) % word
    assert f"ends inside a {word}-byte" in caplog.text and f"at byte {offset}" in caplog.text
    whole = open_reader(samples_dir / name).read_all()
    assert len(got) >= len(whole) - 1
    np.testing.assert_array_equal(got, whole[:len(got)])


@pytest.mark.parametrize("name", RAW_SAMPLES)
def test_mutated_and_truncated_samples_give_packets_or_format_errors(
    samples_dir: Path, tmp_path: Path, name: str
) -> None:
    data = np.frombuffer((samples_dir / name).read_bytes(), np.uint8)
    rng = np.random.default_rng(2024)
    path = tmp_path / name
    for case in range(60):
        mutated = data.copy()
        where = rng.integers(0, len(data), size=rng.integers(1, 200))
        mutated[where] = rng.integers(0, 256, size=len(where))
        cut = len(data) if case % 3 else int(rng.integers(0, len(data)))
        path.write_bytes(mutated[:cut].tobytes())
        try:
            reader = open_reader(path, chunk_events=int(rng.integers(100, 50_000)))
            for packet in reader:
                assert packet.dtype == EVENT_DTYPE
                assert (packet["x"] < reader.geometry.width).all() and (packet["y"] < reader.geometry.height).all()
        except FormatError:
            pass


@pytest.mark.parametrize(
    "header", ["% evt 3.0\n% geometry 640x480\n% end\n", "% evt 2.0\n% geometry 64x48\n", "% evt 2.1\n% geometry 64x48\n"]
)
def test_random_words_decode_without_crashing(tmp_path: Path, header: str) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "noise.raw"
    for size in (1, 7, 8, 1000, 200_003):
        path.write_bytes(header.encode() + rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        reader = open_reader(path, chunk_events=333)
        try:
            for packet in reader:
                assert (packet["x"] < reader.geometry.width).all() and (packet["y"] < reader.geometry.height).all()
        except FormatError as error:
            assert "truncated" in str(error)


# --------------------------------------------------------------- hostile headers


def test_a_huge_header_is_refused_quickly_with_its_offset(tmp_path: Path) -> None:
    import time

    path = tmp_path / "huge_header.raw"
    path.write_bytes(b"% evt 3.0\n" + b"% comment padding the header out\n" * 400_000 + b"% end\n")
    started = time.perf_counter()
    with pytest.raises(FormatError, match=r"huge_header\.raw: text header longer than .* \(byte offset \d+\)"):
        open_reader(path)
    assert time.perf_counter() - started < 5  # a bound on a hang, not a benchmark


@pytest.mark.parametrize("origin", ["9223372036854775807", "-9223372036854775808", "123", str(1 << 62),
                                    "1e9", "0x10"])
def test_hostile_time_origins_are_refused_by_name(tmp_path: Path, origin: str) -> None:
    header = f"% evt 3.0\n% format EVT3;height=16;width=20\n% ezsr_time_origin_us {origin}\n% end\n"
    path = write_raw(tmp_path / "origin.raw", header, [0x8001, 0x6001, 0x0001, 0x2001], "H")
    with pytest.raises(FormatError, match="ezsr_time_origin_us"):
        open_reader(path).read_all()


def test_a_whole_period_time_origin_reads_back(tmp_path: Path) -> None:
    header = f"% evt 3.0\n% format EVT3;height=16;width=20\n% ezsr_time_origin_us {5 << 24}\n% end\n"
    path = write_raw(tmp_path / "origin.raw", header, [0x8001, 0x6001, 0x0001, 0x2001], "H")
    assert open_reader(path).read_all()["t"].tolist() == [(5 << 24) + 0x1001]


def test_writer_refuses_times_beyond_the_origin_range(tmp_path: Path) -> None:
    with open_writer(tmp_path / "far.raw", Geometry(8, 8)) as writer:
        with pytest.raises(FormatError, match="2\\^61"):
            writer.write(make_events([1 << 62], [1], [1], [1]))


_PEAK_SCRIPT = """
import sys
from ezsr_live.drivers import open_reader

def high_water_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

reader = open_reader(sys.argv[1], chunk_events=50_000)
for _ in reader:  # compile the decoder first, keeping nothing
    pass
base = high_water_kb()
events = reader.read_all()
print(len(events), events.nbytes, (high_water_kb() - base) * 1024)
"""


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
def test_read_all_holds_the_result_and_one_chunk_at_most(tmp_path: Path, fmt: str) -> None:
    """Whole-file reads copy chunks into one buffer sized from the file: resident memory
    grows by about the result, not the list-of-chunks-then-concatenate's twice that."""
    import subprocess
    import sys

    n = 4_000_000
    rng = np.random.default_rng(1)
    events = make_events(np.sort(rng.integers(0, 50_000_000, n)), rng.integers(0, 1280, n),
                         rng.integers(0, 720, n), rng.integers(0, 2, n))
    path = tmp_path / f"all{WRITER_SUFFIXES[fmt]}"
    with open_writer(path, Geometry(1280, 720)) as writer:
        writer.write(events)
    del events
    proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path)], capture_output=True, text=True,
                          timeout=300)
    count, nbytes, grown = (int(v) for v in proc.stdout.split())
    assert count == n, proc.stderr
    assert grown < 1.3 * nbytes, f"resident memory grew {grown / nbytes:.2f} x the result"


def test_read_all_grows_past_a_short_estimate(tmp_path: Path, monkeypatch) -> None:
    events = make_events(np.arange(300_000), np.arange(300_000) % 64, np.arange(300_000) % 48, np.arange(300_000) % 2)
    path = tmp_path / "grow.raw"
    with open_writer(path, Geometry(64, 48)) as writer:
        writer.write(events)
    reader = open_reader(path, chunk_events=7_000)
    monkeypatch.setattr(type(reader), "estimated_events", lambda self: 10)
    assert np.array_equal(reader.read_all(), events)
