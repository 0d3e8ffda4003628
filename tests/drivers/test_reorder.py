"""Formats that need monotonic time say so, and every path that writes them reorders:
``open_writer``, ``ezsr convert``, ``ezsr record`` and the live ``Recorder``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.drivers import open_reader, open_writer, writer_extensions
from ezsr_live.drivers.aedat4 import Aedat4Writer
from ezsr_live.drivers.reorder import BoundedReorder, ReorderingWriter
from ezsr_live.events import Geometry, make_events
from ezsr_live.runtime.recorder import Recorder

GEOMETRY = Geometry(32, 24)


def _stepping_back(n: int = 6_000, seed: int = 0) -> np.ndarray:
    """Events whose timestamps step back by up to 40 µs now and then (as EVT 3.0's
    TIME_LOW does), all within the reorder window."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.int64) * 10 + 1_000
    back = rng.random(n) < 0.05
    t[back] -= rng.integers(1, 40, int(back.sum()))
    assert np.any(np.diff(t) < 0)
    return make_events(t, rng.integers(0, GEOMETRY.width, n), rng.integers(0, GEOMETRY.height, n),
                       rng.integers(0, 2, n))


def _stable_sorted(events: np.ndarray) -> np.ndarray:
    return events[np.argsort(events["t"], kind="stable")]


def test_the_formats_that_need_monotonic_time_declare_it():
    from ezsr_live.drivers.registry import _WRITERS

    needs = {ext for ext in writer_extensions() if _WRITERS[ext].requires_monotonic}
    assert needs == {".aedat4", ".h5", ".hdf5"} and Aedat4Writer.requires_monotonic


def test_open_writer_wraps_a_monotonic_format_in_a_reorderer(tmp_path: Path):
    events = _stepping_back()
    writer = open_writer(tmp_path / "out.aedat4", GEOMETRY)
    assert isinstance(writer.inner, ReorderingWriter)
    with writer:
        for part in np.array_split(events, 7):
            writer.write(part)
    assert writer.moved_events > 0 and writer.late_events == 0 and writer.n_written == len(events)
    np.testing.assert_array_equal(open_reader(tmp_path / "out.aedat4").read_all(), _stable_sorted(events))
    raw = open_writer(tmp_path / "out.raw", GEOMETRY)
    assert not isinstance(raw.inner, ReorderingWriter)
    raw.close()


def test_convert_writes_aedat4_from_input_whose_time_steps_back(tmp_path: Path, caplog):
    events = _stepping_back()
    src = tmp_path / "in.npz"
    with open_writer(src, GEOMETRY) as w:
        w.write(events)
    assert ezsr(["convert", str(src), str(tmp_path / "out.aedat4")]) == 0
    assert "reordered stably" in caplog.text
    np.testing.assert_array_equal(open_reader(tmp_path / "out.aedat4").read_all(), _stable_sorted(events))


def test_record_and_the_recorder_write_aedat4_from_input_whose_time_steps_back(tmp_path: Path):
    events = _stepping_back()
    src = tmp_path / "in.npz"
    with open_writer(src, GEOMETRY) as w:
        w.write(events)
    assert ezsr(["record", str(src), str(tmp_path / "rec.aedat4")]) == 0
    np.testing.assert_array_equal(open_reader(tmp_path / "rec.aedat4").read_all(), _stable_sorted(events))
    with Recorder(tmp_path / "tap.aedat4", GEOMETRY) as recorder:
        for part in np.array_split(events, 5):
            recorder(part)
    np.testing.assert_array_equal(open_reader(tmp_path / "tap.aedat4").read_all(), _stable_sorted(events))


def test_events_later_than_the_window_are_retimed_and_counted():
    r = BoundedReorder(window_us=10)
    out = r.push(make_events([0, 100, 200], [0, 0, 0], [0, 0, 0], [1, 1, 1]))
    late = r.push(make_events([5], [0], [0], [0]))
    rest = r.flush()
    t = np.concatenate([out["t"], late["t"], rest["t"]])
    assert np.all(np.diff(t) >= 0) and r.late_events == 1
