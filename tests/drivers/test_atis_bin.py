"""ATIS .bin (N-MNIST / N-Caltech101) reader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.atis_bin import AtisBinReader
from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry

from .formats_support import (
    REFERENCE_KEYS,
    assert_each_ends_in_packets_or_format_error,
    damaged_versions,
    read_chunks,
    reference_summary,
)

SAMPLE = "nmnist_sample.bin"


def atis_record(t: int, x: int, y: int, p: int) -> bytes:
    return bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF])


def test_sample_decodes_to_reference_values(samples_dir: Path, reference: dict) -> None:
    reader = open_reader(samples_dir / SAMPLE)
    assert isinstance(reader, AtisBinReader)
    assert reference_summary(reader.read_all()) == {k: reference[SAMPLE][k] for k in REFERENCE_KEYS}
    assert reader.geometry == Geometry(34, 34)
    assert reader.stats.overflow_markers == 0


def test_small_chunks_give_the_same_events_and_iterating_again_restarts(samples_dir: Path) -> None:
    whole, _, _ = read_chunks(samples_dir / SAMPLE)
    small, _, sizes = read_chunks(samples_dir / SAMPLE, chunk_events=13)
    assert max(sizes) <= 13
    np.testing.assert_array_equal(small, whole)
    reader = open_reader(samples_dir / SAMPLE, chunk_events=500)
    np.testing.assert_array_equal(reader.read_all(), reader.read_all())


def test_record_layout_is_decoded_bit_exactly(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    path.write_bytes(atis_record(0x7FFFFF, 255, 3, 1) + atis_record(0x012345, 0, 0, 0))
    reader = open_reader(path)
    assert reader.read_all().tolist() == [(0x7FFFFF, 255, 3, 1), (0x012345, 0, 0, 0)]
    assert reader.geometry == Geometry(256, 4)


def test_time_overflow_markers_advance_later_timestamps_and_are_not_events(tmp_path: Path) -> None:
    path = tmp_path / "o.bin"
    marker = atis_record(0, 0, 240, 0)
    path.write_bytes(atis_record(100, 1, 1, 1) + marker + atis_record(50, 2, 2, 0) + marker + atis_record(7, 3, 3, 1))
    # small chunks: the time offset must carry across blocks
    events, _, _ = read_chunks(path, chunk_events=1)
    assert events.tolist() == [(100, 1, 1, 1), (50 + 8192, 2, 2, 0), (7 + 2 * 8192, 3, 3, 1)]
    reader = open_reader(path)
    reader.read_all()
    assert reader.geometry == Geometry(4, 4)  # markers' y=240 does not enlarge the sensor
    assert reader.stats.overflow_markers == 2


def test_explicit_geometry_drops_and_counts_outside_events(samples_dir: Path) -> None:
    reader = open_reader(samples_dir / SAMPLE, geometry=Geometry(20, 34))
    events = reader.read_all()
    assert int(events["x"].max()) < 20
    assert len(events) + reader.stats.out_of_bounds == 4325 and reader.stats.out_of_bounds > 0


def test_truncated_trailing_record_is_a_format_error_at_its_offset(samples_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.bin"
    path.write_bytes((samples_dir / SAMPLE).read_bytes()[:5 * 10 + 2])
    with pytest.raises(FormatError, match="truncated") as err:
        open_reader(path)
    assert err.value.offset == 50


def test_damaged_sample_ends_in_packets_or_format_error(samples_dir: Path, tmp_path: Path) -> None:
    data = (samples_dir / SAMPLE).read_bytes()
    outcomes = assert_each_ends_in_packets_or_format_error(damaged_versions(data, 12, 300), tmp_path / "case.bin")
    assert outcomes["packets"] and outcomes["format_error"]
