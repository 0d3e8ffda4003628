"""Prophesee legacy .dat reader."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.dat import DatReader
from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry

from .formats_support import (
    REFERENCE_KEYS,
    assert_each_ends_in_packets_or_format_error,
    damaged_versions,
    read_chunks,
    reference_summary,
)

SAMPLE = "ncars_sample.dat"


def write_dat(path: Path, header: list[str], records: list[tuple[int, int, int, int]], ev_type: int = 0, ev_size: int = 8) -> Path:
    body = b"".join(struct.pack("<II", t, (p << 28) | (y << 14) | x) for t, x, y, p in records)
    path.write_bytes("".join(f"% {line}\n" for line in header).encode() + bytes([ev_type, ev_size]) + body)
    return path


def test_sample_decodes_to_reference_values(samples_dir: Path, reference: dict) -> None:
    reader = open_reader(samples_dir / SAMPLE)
    assert isinstance(reader, DatReader)
    summary = reference_summary(reader.read_all())
    assert summary == {k: reference[SAMPLE][k] for k in REFERENCE_KEYS}
    assert reader.info.format == "dat"
    assert reader.info.header["Version"] == "2"
    # no geometry in the N-Cars header: the pre-scan gives max coordinate + 1
    assert reader.geometry == Geometry(reference[SAMPLE]["x_max"] + 1, reference[SAMPLE]["y_max"] + 1)


def test_small_chunks_give_the_same_events_and_iterating_again_restarts(samples_dir: Path) -> None:
    whole, _, _ = read_chunks(samples_dir / SAMPLE)
    small, _, sizes = read_chunks(samples_dir / SAMPLE, chunk_events=7)
    assert max(sizes) <= 7 and len(sizes) > 100
    np.testing.assert_array_equal(small, whole)
    reader = open_reader(samples_dir / SAMPLE, chunk_events=100)
    np.testing.assert_array_equal(reader.read_all(), reader.read_all())


def test_header_width_and_height_set_the_geometry_and_outside_events_are_counted(tmp_path: Path) -> None:
    path = write_dat(tmp_path / "a.dat", ["Width 10", "Height 5"], [(1, 9, 4, 1), (2, 10, 0, 0), (3, 0, 5, 1), (4, 3, 2, 0)])
    reader = open_reader(path)
    events = reader.read_all()
    assert reader.geometry == Geometry(10, 5)
    assert events.tolist() == [(1, 9, 4, 1), (4, 3, 2, 0)]
    assert reader.stats.out_of_bounds == 2


def test_geometry_header_line_and_explicit_geometry(tmp_path: Path) -> None:
    path = write_dat(tmp_path / "g.dat", ["geometry 304x240"], [(5, 300, 200, 1)])
    assert open_reader(path).geometry == Geometry(304, 240)
    small = open_reader(path, geometry=Geometry(100, 100))
    assert len(small.read_all()) == 0 and small.stats.out_of_bounds == 1


def test_file_without_header_lines_and_eventcd_type(tmp_path: Path) -> None:
    path = write_dat(tmp_path / "n.dat", [], [(7, 1, 2, 1), (9, 3, 4, 0)], ev_type=12)
    reader = open_reader(path)
    assert reader.read_all().tolist() == [(7, 1, 2, 1), (9, 3, 4, 0)]
    assert reader.geometry == Geometry(4, 5)
    assert reader.info.header["event_type"] == "EventCD"


def test_truncated_trailing_record_is_a_format_error_at_its_offset(tmp_path: Path) -> None:
    path = write_dat(tmp_path / "t.dat", ["Version 2"], [(1, 1, 1, 1), (2, 2, 2, 0)])
    path.write_bytes(path.read_bytes()[:-3])
    header_len = len(b"% Version 2\n") + 2
    with pytest.raises(FormatError, match="truncated") as err:
        open_reader(path)
    assert err.value.offset == header_len + 8 and str(path) in str(err.value)


@pytest.mark.parametrize("ev_type, ev_size, problem", [(0, 16, "event size 16"), (7, 8, "event type 7")])
def test_unsupported_event_type_or_size_is_refused(tmp_path: Path, ev_type: int, ev_size: int, problem: str) -> None:
    path = write_dat(tmp_path / "bad.dat", ["Version 2"], [(1, 1, 1, 1)], ev_type=ev_type, ev_size=ev_size)
    with pytest.raises(FormatError, match=problem):
        open_reader(path)


def test_header_only_file_cannot_infer_geometry(tmp_path: Path) -> None:
    path = write_dat(tmp_path / "e.dat", ["Version 2"], [])
    with pytest.raises(FormatError, match="geometry"):
        open_reader(path)
    assert len(open_reader(path, geometry=Geometry(4, 4)).read_all()) == 0


def test_damaged_sample_ends_in_packets_or_format_error(samples_dir: Path, tmp_path: Path) -> None:
    data = (samples_dir / SAMPLE).read_bytes()
    outcomes = assert_each_ends_in_packets_or_format_error(damaged_versions(data, 11, 300), tmp_path / "case.dat")
    assert outcomes["packets"] and outcomes["format_error"]
