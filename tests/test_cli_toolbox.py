"""`ezsr info` and `ezsr convert` against the real sample recordings."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.drivers import open_reader, writer_extensions
from ezsr_live.drivers.summary import summarize_reader

from .conftest import REPO_ROOT, SAMPLE_FILES

WRITABLE = [".raw", ".evt3.raw", ".evt2.raw", ".aedat4", ".npz", ".h5", ".hdf5"]
MONOTONIC = {".aedat4", ".h5", ".hdf5"}  # writers that need time order: convert reorders


def _info(capsys, path, *extra) -> dict:
    assert ezsr(["info", "--json", str(path), *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_info_matches_the_reference_values(samples_dir, reference, capsys, name):
    ref = reference[name]
    info = _info(capsys, samples_dir / name)
    assert info["n_events"] == ref["n_events"]
    assert info["t_first_us"] == ref["t_first"]
    assert info["t_last_us"] == ref["t_last"]
    assert info["duration_us"] == ref["t_last"] - ref["t_first"]
    assert info["x_max"] == ref["x_max"] and info["y_max"] == ref["y_max"]
    assert info["n_on"] == ref["n_on"]
    assert info["x_max"] < info["width"] and info["y_max"] < info["height"]
    for key in ("format", "n_triggers", "header"):
        assert key in info
    if "resolution" in ref:
        assert [info["width"], info["height"]] == ref["resolution"]
        assert info["camera"] == ref["camera"]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_python_api_sums_match_the_reference(samples_dir, reference, name):
    ref = reference[name]
    s = summarize_reader(open_reader(samples_dir / name))
    assert (s.sum_x, s.sum_y, s.sum_dt) == (ref["sum_x"], ref["sum_y"], ref["sum_dt"])


def _stable_sorted(events: np.ndarray) -> np.ndarray:
    return events[np.argsort(events["t"], kind="stable")]


@pytest.mark.parametrize("name", SAMPLE_FILES)
@pytest.mark.parametrize("ext", WRITABLE)
def test_convert_round_trips_every_sample_through_every_writer(samples_dir, tmp_path, capsys, name, ext):
    src = samples_dir / name
    original = open_reader(src).read_all()
    geometry = open_reader(src).geometry
    out = tmp_path / f"converted{ext}"
    assert ezsr(["convert", str(src), str(out)]) == 0
    back = open_reader(out).read_all()
    assert open_reader(out).geometry == geometry
    monotonic = bool(np.all(np.diff(original["t"]) >= 0))
    if ext in MONOTONIC and not monotonic:
        # these formats need monotonic time: convert sorted stably and said so on stderr
        assert "reordered" in capsys.readouterr().err
        original = _stable_sorted(original)
    assert np.array_equal(back, original)


def test_every_writable_extension_is_covered_by_the_round_trip_test():
    assert set(writer_extensions()) == set(WRITABLE)


def test_convert_writes_atomically_and_refuses_to_overwrite_its_input(samples_dir, tmp_path, capsys):
    src = tmp_path / "copy.raw"
    src.write_bytes((samples_dir / "evt3_gen41_1280x720.raw").read_bytes())
    assert ezsr(["convert", str(src), str(src)]) == 2
    assert "output is the input" in capsys.readouterr().err
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"% Date 2020\n" + b"\x00" * 7)
    out = tmp_path / "out.raw"
    ezsr(["convert", str(bad), str(out)])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial")] == []


@pytest.mark.parametrize(
    "content, name, expect",
    [
        (b"", "empty.raw", "empty file"),
        (b"hello world, not events\n" * 10, "text.raw", ""),
        (b"\x00" * 100, "zeros.aedat4", ""),
        (b"% evt 3.0\n% system_ID 48\n% end\n", "nothing.aedat", ""),
    ],
)
def test_bad_files_give_one_line_and_exit_code_2(tmp_path, content, name, expect):
    path = tmp_path / name
    path.write_bytes(content)
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.toolbox", "info", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"ezsr: {path}: ")
    assert expect in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_extension_and_missing_file_are_clear(tmp_path, capsys):
    assert ezsr(["info", str(tmp_path / "x.mp4")]) == 2
    assert "unknown recording extension '.mp4'" in capsys.readouterr().err
    assert ezsr(["info", str(tmp_path / "missing.raw")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_record_duration_counts_from_the_first_event(samples_dir, tmp_path, capsys):
    """The timer used to start before the source delivered anything: 0 events in 0.2 s."""
    out = tmp_path / "rec.raw"
    assert ezsr(["record", str(REPO_ROOT / "weights" / "demo" / "shapes_demo.raw"), str(out),
                 "--duration-s", "0.2"]) == 0
    assert len(open_reader(out).read_all()) > 0


def test_sigterm_during_convert_exits_130_and_leaves_no_partial_file(samples_dir, tmp_path):
    import signal
    import time

    from ezsr_live.drivers import open_writer

    events = open_reader(samples_dir / "evt2_gen3_640x480.raw").read_all()
    big = tmp_path / "big.raw"
    with open_writer(big, open_reader(samples_dir / "evt2_gen3_640x480.raw").geometry) as writer:
        span = int(events["t"].max() - events["t"].min()) + 1
        for k in range(12):  # ~6.5 M events: seconds of .aedat4 writing
            tile = events.copy()
            tile["t"] += k * span
            writer.write(tile)
    out = tmp_path / "out.aedat4"
    proc = subprocess.Popen([sys.executable, "-m", "ezsr_live.cli.toolbox", "convert", str(big), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".partial-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "convert finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "ezsr: interrupted" in err and "Traceback" not in err
    assert not list(tmp_path.glob(".partial-*")) and not out.exists()
