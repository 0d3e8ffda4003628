"""AEDAT 2.0 (DVS128, CIFAR10-DVS) reader, on hand-built files (no public sample is kept)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.aedat2 import Aedat2Reader
from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry

from .formats_support import assert_each_ends_in_packets_or_format_error, damaged_versions, read_chunks

HEADER = "#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n# Data format is int32 address, int32 timestamp (8 bytes total)\r\n"


def dvs128_address(x: int, y: int, p: int) -> int:
    """Inverse of the documented mapping: x = 127 - yr, y = 127 - xr, p = 1 - pr."""
    return ((127 - x) << 8) | ((127 - y) << 1) | (1 - p)


def write_aedat2(path: Path, records: list[tuple[int, int]], header: str = HEADER) -> Path:
    path.write_bytes(header.encode() + b"".join(struct.pack(">II", a, t) for a, t in records))
    return path


def test_dvs128_address_mapping_and_header(tmp_path: Path) -> None:
    events = [(10, 0, 0, 1), (20, 127, 0, 0), (30, 0, 127, 1), (40, 5, 99, 0)]
    path = write_aedat2(tmp_path / "m.aedat", [(dvs128_address(x, y, p), t) for t, x, y, p in events])
    reader = open_reader(path)
    assert isinstance(reader, Aedat2Reader)
    assert reader.read_all().tolist() == events
    assert reader.geometry == Geometry(128, 128)
    assert reader.info.format == "aedat2"
    assert reader.info.header["version"] == "2.0"
    assert reader.info.header["lines"][1] == "This is a raw AE data file - do not edit"


def test_raw_bits_follow_the_commonly_used_cifar10_dvs_decoding(tmp_path: Path) -> None:
    a = (0x05 << 8) | (0x30 << 1) | 1  # yr = 5, xr = 48, pr = 1
    path = write_aedat2(tmp_path / "b.aedat", [(a, 123456789)])
    assert open_reader(path).read_all().tolist() == [(123456789, 127 - 5, 127 - 48, 0)]


def test_special_and_external_events_are_skipped_and_counted(tmp_path: Path) -> None:
    records = [(dvs128_address(1, 2, 1), 1), (0x8000, 2), (0x80000000 | dvs128_address(3, 3, 0), 3), (dvs128_address(4, 5, 0), 4)]
    reader = open_reader(write_aedat2(tmp_path / "s.aedat", records))
    assert reader.read_all().tolist() == [(1, 1, 2, 1), (4, 4, 5, 0)]
    assert reader.stats.special_events == 2


def test_data_may_start_with_a_hash_byte_after_the_header_end_line(tmp_path: Path) -> None:
    address = 0x23000000 | dvs128_address(7, 8, 1)  # first data byte is '#'
    header = HEADER + "#End Of ASCII Header\r\n"
    events = open_reader(write_aedat2(tmp_path / "h.aedat", [(address, 9)], header)).read_all()
    assert events.tolist() == [(9, 7, 8, 1)]


def test_chunks_are_bounded_and_concatenate_to_the_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xs, ys, ps = rng.integers(0, 128, 1000), rng.integers(0, 128, 1000), rng.integers(0, 2, 1000)
    path = write_aedat2(tmp_path / "c.aedat", [(dvs128_address(int(x), int(y), int(p)), i) for i, (x, y, p) in enumerate(zip(xs, ys, ps))])
    events, _, sizes = read_chunks(path, chunk_events=64)
    assert max(sizes) <= 64
    np.testing.assert_array_equal(events["x"], xs)
    np.testing.assert_array_equal(events["y"], ys)
    np.testing.assert_array_equal(events["p"], ps)
    reader = open_reader(path, geometry=Geometry(64, 128))
    assert len(reader.read_all()) == int((xs < 64).sum()) and reader.stats.out_of_bounds == int((xs >= 64).sum())


@pytest.mark.parametrize("header, problem", [
    ("#!AER-DAT3.1\r\n", "version"),
    ("# no magic line\r\n", "AER-DAT"),
    ("", "AER-DAT"),
])
def test_other_versions_and_missing_magic_are_refused(tmp_path: Path, header: str, problem: str) -> None:
    path = write_aedat2(tmp_path / "v.aedat", [(0, 0)], header)
    with pytest.raises(FormatError, match=problem):
        open_reader(path)


def test_truncated_trailing_record_is_a_format_error_at_its_offset(tmp_path: Path) -> None:
    path = write_aedat2(tmp_path / "t.aedat", [(dvs128_address(1, 1, 1), 1)] * 3)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(FormatError, match="truncated") as err:
        open_reader(path)
    assert err.value.offset == len(HEADER) + 16


def test_damaged_file_ends_in_packets_or_format_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    records = [(dvs128_address(int(x), int(y), int(p)), i * 10) for i, (x, y, p) in enumerate(rng.integers(0, 128, (2000, 3)) % [128, 128, 2])]
    data = write_aedat2(tmp_path / "src.aedat", records).read_bytes()
    outcomes = assert_each_ends_in_packets_or_format_error(damaged_versions(data, 13, 300), tmp_path / "case.aedat")
    assert outcomes["packets"] and outcomes["format_error"]
