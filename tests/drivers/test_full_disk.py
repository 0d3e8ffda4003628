"""A full disk while writing: every writer, through open_writer's one guard, ends in
one line naming the output, exit 2 (1 while running live), no traceback, no abort and
no partial file, except the cut recording a live --record keeps (it reads back)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from tests.full_disk import default_mechanism, run_on_full_disk
from tests.helpers import DEMO_SHAPES

EZSR = [sys.executable, "-m", "ezsr_live.cli.toolbox"]
EZSR_LIVE = [sys.executable, "-m", "ezsr_live.cli.live"]
#: far less than any of the outputs (the demo recording is 2 MB as EVT 3.0)
SMALL = 256 << 10


def _assert_one_line(stderr: str, prog: str, out: Path, problem: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith(f"{prog}: {out}: {problem}"), stderr
    assert "Traceback" not in stderr and "terminate called" not in stderr and "Aborted" not in stderr, stderr


@pytest.mark.parametrize("ext", ["raw", "evt2.raw", "aedat4", "npz", "h5"])
def test_convert_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, ext: str) -> None:
    out = tmp_path / "disk" / f"out.{ext}"
    run = run_on_full_disk([*EZSR, "convert", str(DEMO_SHAPES), str(out)], out.parent, SMALL)
    assert run.returncode == 2, run.stderr
    _assert_one_line(run.stderr, "ezsr", out, run.problem)
    assert run.left == []  # neither the output nor a .partial-* nor a spill file


@pytest.mark.parametrize("ext", ["aedat4", "h5", "raw"])
def test_a_write_failing_midway_under_a_file_size_limit_is_one_line_too(tmp_path: Path, ext: str) -> None:
    # the fallback where mount namespaces are unavailable, run everywhere: dv's writer
    # thread and HDF5 fail part-way through the file, as on a disk that fills up
    out = tmp_path / "disk" / f"out.{ext}"
    run = run_on_full_disk([*EZSR, "convert", str(DEMO_SHAPES), str(out)], out.parent, 1 << 20, mechanism="fsize")
    assert run.returncode == 2, run.stderr
    _assert_one_line(run.stderr, "ezsr", out, "file too large (")
    assert run.left == []


@pytest.mark.parametrize("ext", ["raw", "aedat4"])
def test_a_live_recording_cut_by_a_full_disk_ends_the_run_and_keeps_what_reads_back(
    tmp_path: Path, ext: str
) -> None:
    out = tmp_path / "disk" / f"out.{ext}"
    run = run_on_full_disk([*EZSR_LIVE, "--replay", str(DEMO_SHAPES), "--record", str(out), "--no-recognition",
                            "--headless", "--speed", "max"], out.parent, SMALL, keep=out.name)
    assert run.returncode == 1, run.stderr  # a failure while running
    _assert_one_line(run.stderr, "ezsr-live", out, run.problem)
    assert "the recording is kept up to there, cut short" in run.stderr
    assert run.left == [out.name] and run.kept is not None
    got = open_reader(run.kept).read_all()
    source = open_reader(DEMO_SHAPES).read_all()
    assert 0 < len(got) < len(source)
    np.testing.assert_array_equal(got, source[:len(got)])


def test_ezsr_record_onto_a_full_disk_exits_2_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "disk" / "out.aedat4"
    run = run_on_full_disk([*EZSR, "record", str(DEMO_SHAPES), str(out)], out.parent, SMALL, keep=out.name)
    assert run.returncode == 2, run.stderr
    _assert_one_line(run.stderr, "ezsr", out, run.problem)


def test_the_fallback_is_what_this_machine_lacks_or_a_real_tmpfs() -> None:
    # says in the test log which mechanism the full-disk tests above used
    assert default_mechanism() in ("tmpfs", "fsize")
