"""HDF5 event files: our column layout round trips, DSEC's and Prophesee's layouts as
those projects write them (built here with h5py), and refusals in one line."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.drivers.hdf5 import Hdf5Writer
from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry, make_events

from ..conftest import SAMPLE_FILES

PROPHESEE_CD = np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])


@pytest.mark.parametrize("name", SAMPLE_FILES)
@pytest.mark.parametrize("suffix", [".h5", ".hdf5"])
def test_real_samples_round_trip_in_time_order(samples_dir: Path, tmp_path: Path, name: str, suffix: str) -> None:
    reader = open_reader(samples_dir / name)
    events = reader.read_all()
    events = events[np.argsort(events["t"], kind="stable")]
    path = tmp_path / f"out{suffix}"
    with open_writer(path, reader.geometry) as writer:
        for part in np.array_split(events, 3):
            writer.write(part)
    back = open_reader(path, chunk_events=1000)
    assert back.geometry == reader.geometry
    assert np.array_equal(back.read_all(), events)
    assert not list(tmp_path.glob("*.partial-*"))


def test_written_ms_to_idx_and_t_offset_follow_dsec(tmp_path: Path) -> None:
    t = 1_600_000_000_123_456 + np.sort(np.random.default_rng(0).integers(0, 50_000, 5000))
    events = make_events(t, np.arange(5000) % 64, np.arange(5000) % 48, np.arange(5000) % 2)
    path = tmp_path / "dsec_like.h5"
    with open_writer(path, Geometry(64, 48)) as writer:
        writer.write(events[:2000])
        writer.write(events[2000:])
    with h5py.File(path) as f:
        offset = int(f["t_offset"][()])
        rel = f["events/t"][:]
        ms_to_idx = f["ms_to_idx"][:]
        assert (f["events"].attrs["width"], f["events"].attrs["height"]) == (64, 48)
    assert offset % 1000 == 0 and np.array_equal(rel + offset, t)
    expected = np.searchsorted(rel, np.arange(len(ms_to_idx)) * 1000, side="left")
    assert np.array_equal(ms_to_idx, expected) and len(ms_to_idx) == rel.max() // 1000 + 1


def test_dsec_layout_reads_with_its_offset_and_a_given_geometry(tmp_path: Path) -> None:
    path = tmp_path / "events.h5"
    n = 3000
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 1_000_000, n)).astype("<u4")
    with h5py.File(path, "w") as f:  # as DSEC's events.h5: no sensor size recorded
        f.create_dataset("events/p", data=rng.integers(0, 2, n).astype("u1"))
        f.create_dataset("events/t", data=t)
        f.create_dataset("events/x", data=rng.integers(0, 640, n).astype("<u2"))
        f.create_dataset("events/y", data=rng.integers(0, 480, n).astype("<u2"))
        f.create_dataset("ms_to_idx", data=np.searchsorted(t, np.arange(1000) * 1000).astype("<u8"))
        f.create_dataset("t_offset", data=np.int64(49_599_300_523))
    events = open_reader(path, geometry=Geometry(640, 480)).read_all()
    assert np.array_equal(events["t"], t.astype(np.int64) + 49_599_300_523)
    scanned = open_reader(path)
    assert scanned.geometry.width <= 640 and scanned.geometry.height <= 480


def test_prophesee_cd_events_read_by_field_name(tmp_path: Path) -> None:
    path = tmp_path / "metavision.hdf5"
    rows = np.zeros(4, PROPHESEE_CD)
    rows["x"], rows["y"], rows["p"], rows["t"] = [1, 2, 3, 4], [5, 6, 7, 8], [1, 0, 1, 0], [10, 20, 30, 40]
    with h5py.File(path, "w") as f:
        f.create_dataset("CD/events", data=rows)
        f.attrs["width"], f.attrs["height"] = 1280, 720
    reader = open_reader(path)
    assert reader.geometry == Geometry(1280, 720)
    assert reader.read_all().tolist() == [(10, 1, 5, 1), (20, 2, 6, 0), (30, 3, 7, 1), (40, 4, 8, 0)]


def test_ecf_compressed_prophesee_file_names_the_plugin_to_install(tmp_path: Path) -> None:
    path = tmp_path / "ecf.hdf5"
    with h5py.File(path, "w") as f:  # the pipeline declares ECF, as Metavision writes it
        group = f.create_group("CD")
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((8,))
        dcpl.set_filter(36559, h5py.h5z.FLAG_OPTIONAL, ())
        space = h5py.h5s.create_simple((10,), (h5py.h5s.UNLIMITED,))
        h5py.h5d.create(group.id, b"events", h5py.h5t.py_create(PROPHESEE_CD, logical=True), space, dcpl=dcpl)
    if h5py.h5z.filter_avail(36559):
        pytest.skip("an ECF plugin is installed here")
    with pytest.raises(FormatError, match=r"ecf\.hdf5: CD/events is compressed with Prophesee's ECF codec .*hdf5_ecf"):
        open_reader(path)


@pytest.mark.parametrize("build, problem", [
    (lambda f: f.create_dataset("other", data=[1]), "no event datasets"),
    (lambda f: [f.create_dataset(f"events/{c}", data=np.arange(3 if c != "p" else 2)) for c in "xytp"],
     "differ in length"),
    (lambda f: [f.create_dataset(f"events/{c}", data=(np.array(["a"], "S1") if c == "x" else np.arange(1)))
                for c in "xytp"], "1-D numeric dataset"),
    (lambda f: f.create_dataset("CD/events", data=np.zeros(2, [("x", "<u2"), ("t", "<i8")])), "lacks field"),
])
def test_unusable_files_are_refused_in_one_line(tmp_path: Path, build, problem: str) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        build(f)
    with pytest.raises(FormatError, match=problem) as err:
        open_reader(path, geometry=Geometry(8, 8))
    assert "\n" not in str(err.value) and "bad.h5" in str(err.value)


def test_not_hdf5_at_all_is_a_format_error_and_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "fake.h5"
    path.write_bytes(b"not an hdf5 file" * 10)
    assert ezsr(["info", str(path)]) == 2
    assert "fake.h5: not a readable HDF5 event file" in capsys.readouterr().err


def test_writer_refuses_time_steps_back_and_leaves_no_partial_file(tmp_path: Path) -> None:
    # the writer itself; open_writer puts a reorderer in front of it (tests/drivers/test_reorder.py)
    path = tmp_path / "order.h5"
    writer = Hdf5Writer(path, Geometry(8, 8))
    writer.write(make_events([10, 20], [1, 2], [1, 2], [0, 1]))
    with pytest.raises(FormatError, match="step back in time"):
        writer.write(make_events([15], [1], [1], [1]))
    writer.close()
    assert open_reader(path).read_all()["t"].tolist() == [10, 20]
    assert not list(tmp_path.glob("*.partial-*"))
