"""N-ImageNet .npz reader and writer."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.drivers.npz import NpzReader, NpzWriter
from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry, make_events

from .formats_support import assert_each_ends_in_packets_or_format_error, damaged_versions, read_chunks

SAMPLES = ["nmnist_sample.bin", "ncars_sample.dat", "dvxplorer_320x240.aedat4"]


def n_imagenet_structured(events: np.ndarray) -> np.ndarray:
    rec = np.empty(len(events), dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "?")])
    for f in "xyt":
        rec[f] = events[f]
    rec["p"] = events["p"] == 1
    return rec


def some_events(n: int = 1000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_events(np.sort(rng.integers(0, 10**7, n)), rng.integers(0, 640, n), rng.integers(0, 480, n), rng.integers(0, 2, n))


@pytest.mark.parametrize("compressed", [False, True])
def test_event_data_layout_from_numpy_savez(tmp_path: Path, compressed: bool) -> None:
    events = some_events()
    path = tmp_path / "s.npz"
    (np.savez_compressed if compressed else np.savez)(path, event_data=n_imagenet_structured(events))
    reader = open_reader(path, chunk_events=97)
    assert isinstance(reader, NpzReader)
    np.testing.assert_array_equal(reader.read_all(), events)
    assert reader.geometry == Geometry(640, 480)
    assert reader.info.header["layout"] == "event_data"


@pytest.mark.parametrize("compressed", [False, True])
def test_column_layout_with_other_dtypes_and_signed_polarity(tmp_path: Path, compressed: bool) -> None:
    events = some_events(500, seed=1)
    path = tmp_path / "c.npz"
    (np.savez_compressed if compressed else np.savez)(
        path,
        x_pos=events["x"].astype(np.int32),
        y_pos=events["y"].astype(np.int64),
        timestamp=events["t"].astype(np.uint32),
        polarity=np.where(events["p"] == 1, 1, -1).astype(np.int8),
    )
    events_read, _, sizes = read_chunks(path, chunk_events=64)
    assert max(sizes) <= 64
    np.testing.assert_array_equal(events_read, events)


@pytest.mark.parametrize("name", ["nmnist_sample.bin", "dvxplorer_320x240.aedat4"])
def test_spikingjelly_events_np_layout_is_read_by_name(samples_dir: Path, tmp_path: Path, name: str) -> None:
    """SpikingJelly's converted datasets: np.savez_compressed(t=, x=, y=, p=), t as the
    big-endian uint32 of the source words (CIFAR10-DVS), x/y uint32, p int64 0/1."""
    with open_reader(samples_dir / name) as source:
        events = source.read_all()
    events["t"] -= events["t"][0]  # uint32 µs, as SpikingJelly keeps them
    path = tmp_path / "sj.npz"
    # keyword order deliberately not t, x, y, p: members are found by name
    np.savez_compressed(path, p=events["p"].astype(np.int64), y=events["y"].astype(np.uint32),
                        x=events["x"].astype(np.uint32), t=events["t"].astype(">u4"))
    reader = open_reader(path, chunk_events=1000)
    assert reader.info.header["layout"] == "spikingjelly"
    assert reader.read_all().tobytes() == events.tobytes()
    # no sensor_size member: the coordinates' extent, unless the caller knows the sensor
    assert reader.geometry == Geometry(int(events["x"].max()) + 1, int(events["y"].max()) + 1)
    assert open_reader(path, geometry=Geometry(1280, 720)).geometry == Geometry(1280, 720)


def test_coordinates_outside_the_sensor_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, x_pos=np.array([1, 700, -3, 5]), y_pos=np.array([1, 2, 3, 480]),
             timestamp=np.arange(4), polarity=np.array([True, False, True, False]))
    reader = open_reader(path)
    assert reader.read_all().tolist() == [(0, 1, 1, 1)]
    assert reader.stats.out_of_bounds == 3


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_round_trip_through_the_writer(samples_dir: Path, tmp_path: Path, name: str) -> None:
    source = open_reader(samples_dir / name)
    events = source.read_all()
    path = tmp_path / "rt.npz"
    with open_writer(path, source.geometry) as writer:
        for start in range(0, len(events), 40_000):
            writer.write(events[start:start + 40_000])
    reader = open_reader(path, chunk_events=30_000)
    np.testing.assert_array_equal(reader.read_all(), events)
    assert reader.geometry == source.geometry  # carried by the sensor_size member
    # what the writer produced is a plain N-ImageNet archive for numpy too
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["event_data"]["t"], events["t"])


def test_compressed_writer_output_reads_back(tmp_path: Path) -> None:
    events = some_events(3000, seed=2)
    path = tmp_path / "z.npz"
    with NpzWriter(path, Geometry(640, 480), compressed=True) as writer:
        writer.write(events)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("event_data.npy").compress_type == zipfile.ZIP_DEFLATED
    np.testing.assert_array_equal(open_reader(path).read_all(), events)


@st.composite
def packets(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(0, 300))
    t = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    x = draw(st.lists(st.integers(0, 1279), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 719), min_size=n, max_size=n))
    p = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(np.array(t, np.int64), x, y, p)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=packets(), cut=st.integers(0, 300), chunk=st.integers(1, 64))
def test_any_packet_round_trips_in_any_chunking(tmp_path: Path, events: np.ndarray, cut: int, chunk: int) -> None:
    path = tmp_path / "h.npz"
    with open_writer(path, Geometry(1280, 720)) as writer:
        writer.write(events[:cut])
        writer.write(events[cut:])
    read, _, sizes = read_chunks(path, chunk_events=chunk)
    assert all(s <= chunk for s in sizes)
    np.testing.assert_array_equal(read, events)


def test_object_arrays_are_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "obj.npz"
    np.savez(path, event_data=np.array([{"x": 1}], dtype=object))
    with pytest.raises(FormatError, match="unpickling"):
        open_reader(path)


@pytest.mark.parametrize("arrays, problem", [
    ({"frames": np.zeros(3)}, "no event arrays: expected 'event_data' or x_pos, y_pos, timestamp, polarity or x, y, t, p"),
    ({"t": np.zeros(3), "x": np.zeros(3, int), "y": np.zeros(3, int), "p": np.zeros(3, int)}, "integer microseconds"),
    ({"event_data": np.zeros(3, dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<f8"), ("p", "?")])}, "integer microseconds"),
    ({"event_data": np.zeros(3, dtype=[("x", "<u2"), ("y", "<u2"), ("p", "?")])}, "lacks field"),
    ({"x_pos": np.zeros(3, int), "y_pos": np.zeros(3, int), "timestamp": np.zeros(2, int), "polarity": np.zeros(3, int)}, "differ in length"),
    ({"event_data": np.zeros((2, 2), dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "?")])}, "1-D"),
])
def test_archives_without_usable_events_are_refused(tmp_path: Path, arrays: dict, problem: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(FormatError, match=problem) as err:
        open_reader(path)
    assert str(path) in str(err.value)


def test_member_shorter_than_its_header_says_is_a_format_error(tmp_path: Path) -> None:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, n_imagenet_structured(some_events(100)))
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("event_data.npy", buf.getvalue()[:-40])
    reader = open_reader(path, chunk_events=30)
    with pytest.raises(FormatError, match="truncated"):
        reader.read_all()


def test_not_a_zip_archive_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.npz"
    path.write_bytes(b"\x93NUMPY not really")
    with pytest.raises(FormatError, match="not a readable .npz"):
        open_reader(path)


@pytest.mark.parametrize("compressed", [False, True])
def test_damaged_archives_end_in_packets_or_format_error(samples_dir: Path, tmp_path: Path, compressed: bool) -> None:
    events = open_reader(samples_dir / "nmnist_sample.bin").read_all()
    source = tmp_path / "src.npz"
    (np.savez_compressed if compressed else np.savez)(source, event_data=n_imagenet_structured(events))
    outcomes = assert_each_ends_in_packets_or_format_error(
        damaged_versions(source.read_bytes(), 14 + compressed, 250), tmp_path / "case.npz", {"chunk_events": 1000})
    assert outcomes["format_error"]


def _streamed_npz(path: Path, dtype: np.dtype, count: int) -> Path:
    """A deflated ``event_data`` member of ``count`` zero records, written without ever
    holding the array (what a decompression bomb looks like on disk)."""
    import zipfile

    from numpy.lib import format as npy_format

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("event_data.npy", "w", force_zip64=True) as fp:
            npy_format.write_array_header_2_0(fp, {"descr": npy_format.dtype_to_descr(dtype),
                                                   "fortran_order": False, "shape": (count,)})
            block = bytes(min(count, 4096) * dtype.itemsize)
            left = count
            while left:
                n = min(left, 4096)
                fp.write(block[: n * dtype.itemsize])
                left -= n
    return path


def test_megabyte_records_are_refused_before_inflating_anything(tmp_path: Path) -> None:
    dtype = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "i1"), ("pad", "V1000000")])
    path = _streamed_npz(tmp_path / "bomb.npz", dtype, 20)
    with pytest.raises(FormatError, match=r"bomb\.npz: member event_data\.npy: 1000013-byte records are not event"):
        open_reader(path)


def test_a_deflated_bomb_streams_in_bounded_memory(tmp_path: Path) -> None:
    """2M padded 256-byte records: 512 MB inflated from a ~1 MB archive; `ezsr info`
    reads it in bounded steps (peak RSS of the child measured)."""
    import subprocess
    import sys

    dtype = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "i1"), ("pad", "V243")])
    path = _streamed_npz(tmp_path / "big.npz", dtype, 2_000_000)
    assert path.stat().st_size < 4 << 20
    # a fresh parent, so that RUSAGE_CHILDREN holds this one child's peak alone
    wrapper = ("import resource, subprocess, sys; "
               "p = subprocess.run([sys.executable, '-m', 'ezsr_live.cli.toolbox', 'info', '--json', sys.argv[1]], "
               "capture_output=True, text=True); "
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.stdout.count('2000000'))")
    proc = subprocess.run([sys.executable, "-c", wrapper, str(path)], capture_output=True, text=True, timeout=300)
    rc, peak_kb, mentions = (int(v) for v in proc.stdout.split())
    assert rc == 0 and mentions >= 1, proc.stderr
    assert peak_kb / 1024 < 400, f"peak RSS {peak_kb / 1024:.0f} MB"
