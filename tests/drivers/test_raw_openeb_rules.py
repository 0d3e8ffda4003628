"""RAW time rules as OpenEB reads them, against a plain reference decoder
(tests/drivers/raw_reference.py): hand-built probes for each rule, and every file our
writers produce decodes identically through the reference under OpenEB's wrap threshold
and under the stricter one of Prophesee's sample decoders."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.events import Geometry, make_events

from . import raw_reference as ref
from .test_raw import PERIOD_BITS, WRITER_SUFFIXES, representable_packets

EVT3_HEADER = "% evt 3.0\n% format EVT3;height=16;width=20\n% end\n"
EVT2_HEADER = "% evt 2.0\n% format EVT2;height=16;width=20\n% end\n"


def _file(tmp_path: Path, header: str, words: list[int], fmt: str) -> Path:
    path = tmp_path / "probe.raw"
    path.write_bytes(header.encode() + struct.pack(f"<{len(words)}{fmt}", *words))
    return path


def _ours(path: Path) -> list[tuple[int, int, int, int]]:
    return [tuple(int(v) for v in e) for e in open_reader(path).read_all().tolist()]


def _agree(path: Path, fmt: str) -> list[tuple[int, int, int, int]]:
    words, _ = ref.words_of(path)
    want = ref.decode_evt3(words) if fmt == "evt3" else ref.decode_evt2(words)
    got = _ours(path)
    assert got == want
    return got


@pytest.mark.parametrize("step_back, wraps", [(100, False), (2047, False), (2048, True), (4000, True)])
def test_evt3_time_high_drop_is_a_wrap_from_half_the_range(tmp_path, step_back, wraps):
    start = 0xFFF
    words = [0x8000 | start, 0x6010, 0x0001, 0x2001, 0x8000 | (start - step_back), 0x6020, 0x2002]
    events = _agree(_file(tmp_path, EVT3_HEADER, words, "H"), "evt3")
    expected = ((1 << 24) if wraps else 0) + ((start - step_back) << 12) + 0x20
    assert events[1][0] == expected


def test_evt3_changed_time_high_zeroes_the_low_bits_until_time_low(tmp_path):
    words = [0x8005, 0x6ABC, 0x0001, 0x2001,  # t = 5 << 12 | 0xABC
             0x8005, 0x2002,                   # same TIME_HIGH again: low bits kept
             0x8006, 0x2003,                   # changed TIME_HIGH, no TIME_LOW yet: low bits 0
             0x6007, 0x2004]
    events = _agree(_file(tmp_path, EVT3_HEADER, words, "H"), "evt3")
    assert [e[0] for e in events] == [0x5ABC, 0x5ABC, 0x6000, 0x6007]


@pytest.mark.parametrize("drop, wraps", [(640, False), ((1 << 28) - 158, False), ((1 << 28) - 157, True)])
def test_evt2_time_high_drop_is_a_wrap_within_10000_us_of_the_range(tmp_path, drop, wraps):
    """In 64 µs units: (2^28 - 157) * 64 is the first drop within 10,000 µs of the range."""
    top = (1 << 28) - 1
    new = top - drop
    cd = lambda t6, x: (1 << 28) | (t6 << 22) | (x << 11) | 3  # noqa: E731
    words = [(0x8 << 28) | top, cd(1, 1), (0x8 << 28) | new, cd(2, 2)]
    events = _agree(_file(tmp_path, EVT2_HEADER, words, "I"), "evt2")
    assert (events[1][0] >= 1 << 34) == wraps


def _written(tmp_path: Path, fmt: str, events: np.ndarray) -> Path:
    path = tmp_path / f"ours{WRITER_SUFFIXES[fmt]}"
    with open_writer(path, Geometry(1280, 720)) as writer:
        writer.write(events)
    return path


def _reference_reads(path: Path, events: np.ndarray) -> None:
    want = np.stack([events["t"], events["x"], events["y"], events["p"]], axis=1).astype(np.int64)
    for strict in (False, True):
        got = ref.decode_file(path, strict_threshold=strict)
        assert np.array_equal(got, want), f"reference decoder (strict threshold: {strict}) reads other times"


@pytest.mark.parametrize("fmt, t", [
    # a gap of more than half the period across a boundary, with a small payload drop: the
    # case one TIME_HIGH word could not carry to OpenEB (events placed 2^24 µs early)
    ("evt3", [10_000_000, (1 << 24) + 5_000_000, (1 << 24) + 5_000_007]),
    ("evt3", [16_000_000, (1 << 24) + 500_000]),
    ("evt3", [5, 3 * (1 << 24) + 4]),
    ("evt2", [(1 << 33), (1 << 34) + (1 << 33) - 100_000]),
    ("evt2", [1000, (1 << 34) + 999]),
])
def test_our_files_cross_wrap_boundaries_as_every_reader_reads_them(tmp_path, fmt, t):
    events = make_events(t, np.arange(len(t)) + 1, np.arange(len(t)) + 2, np.arange(len(t)) % 2)
    path = _written(tmp_path, fmt, events)
    assert np.array_equal(open_reader(path).read_all(), events)
    _reference_reads(path, events)


@pytest.mark.parametrize("fmt", ["evt3", "evt2"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_file_our_writers_produce_decodes_identically_through_the_reference(tmp_path, fmt, data):
    events = data.draw(representable_packets(PERIOD_BITS[fmt]))
    if fmt == "evt2":  # keep the word-by-word reference quick: EVT 2.0 periods are 4.7 h
        events = events[np.abs(events["t"]) < (1 << 40)]
    path = _written(tmp_path, fmt, events)
    assert np.array_equal(open_reader(path).read_all(), events)
    _reference_reads(path, events)
