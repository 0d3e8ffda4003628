"""``ezsr`` on a cold Numba cache: the commands that compile say so once on stderr, with
their own measured figure; a warm cache and the refusals at start say nothing of it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ezsr_live import jit_notice
from ezsr_live.cli import cmd_convert, cmd_info
from ezsr_live.drivers import open_reader


def _ezsr(argv: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ezsr_live.cli.toolbox", *argv], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)), timeout=300)


def _cached_kernels(cache: Path) -> list[Path]:
    return list(cache.rglob("*.nbi"))


def test_info_announces_a_cold_cache_once_and_a_warm_one_not_at_all(samples_dir: Path, tmp_path: Path) -> None:
    argv = ["info", "--json", str(samples_dir / "nmnist_sample.bin")]
    cold = _ezsr(argv, tmp_path / "numba")
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.splitlines() == [jit_notice.notice_text("ezsr", cmd_info.COMPILE_S)]
    assert _cached_kernels(tmp_path / "numba")
    warm = _ezsr(argv, tmp_path / "numba")
    assert warm.returncode == 0 and warm.stderr == ""
    assert warm.stdout == cold.stdout  # the same description, compiled or loaded


def test_convert_announces_a_cold_cache_once_and_a_warm_one_not_at_all(samples_dir: Path, tmp_path: Path) -> None:
    sample = samples_dir / "nmnist_sample.bin"
    notice = jit_notice.notice_text("ezsr", cmd_convert.COMPILE_S)
    for run, cache_state in enumerate(("cold", "warm")):
        out = tmp_path / f"{cache_state}.npz"
        proc = _ezsr(["convert", str(sample), str(out)], tmp_path / "numba")
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.count(notice) == (1 if cache_state == "cold" else 0), proc.stderr
        assert "compiling" not in proc.stderr.replace(notice, "")
        assert proc.stderr.splitlines()[-1] == f"ezsr: wrote 4325 events to {out}"
        np.testing.assert_array_equal(open_reader(out).read_all(), open_reader(sample).read_all())


def test_synth_workers_spawned_on_a_cold_cache_announce_it_once_and_leave_no_marker(tmp_path: Path) -> None:
    from PIL import Image

    from ezsr_live.cli import cmd_synth

    images = tmp_path / "images" / "a"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(images / f"{i}.png")
    scratch = tmp_path / "scratch"  # TMPDIR of the run: the notice's marker file must not outlive it
    scratch.mkdir()
    notice = jit_notice.notice_text("ezsr", cmd_synth.COMPILE_S)
    for cache_state in ("cold", "warm"):
        proc = subprocess.run(
            [sys.executable, "-m", "ezsr_live.cli.toolbox", "synth", str(tmp_path / "images"), "-o",
             str(tmp_path / cache_state), "--workers", "2", "--no-progress"], capture_output=True, text=True,
            env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), TMPDIR=str(scratch)), timeout=600)
        assert proc.returncode == 0, proc.stderr
        # the parent synthesises nothing: only its spawned workers compile, and one of them says so
        assert proc.stderr.count(notice) == (1 if cache_state == "cold" else 0), proc.stderr
        assert "compiling" not in proc.stderr.replace(notice, "") and "leaked" not in proc.stderr
        assert len(list((tmp_path / cache_state / "a").iterdir())) == 4
        assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("argv, problem", [
    (["info", "{tmp}/missing.raw"], "{tmp}/missing.raw: no such file"),
    (["convert", "{tmp}/missing.bin", "{tmp}/out.npz"], "{tmp}/missing.bin: no such file"),
    # the output is checked before the input is read (an N-MNIST file's geometry takes a
    # kernel's scan): refused at once, under the name the user gave, not a temporary's
    (["convert", "{samples}/nmnist_sample.bin", "{tmp}/out.xyz"], "{tmp}/out.xyz: cannot write '.xyz' files"),
    (["convert", "{samples}/nmnist_sample.bin", "{tmp}/no/out.npz"], "{tmp}/no/out.npz: cannot create it"),
    (["record", "{samples}/nmnist_sample.bin", "{tmp}/out.npz"], "{tmp}/out.npz: .npz cannot record a live source"),
    (["convert", "{samples}/nmnist_sample.bin"], "the following arguments are required: output"),
], ids=["info-missing", "convert-missing", "convert-bad-output", "convert-no-folder", "record-to-npz", "usage"])
def test_refusals_on_a_cold_cache_are_one_line_and_compile_nothing(
        samples_dir: Path, tmp_path: Path, argv: list[str], problem: str) -> None:
    fill = {"{tmp}": str(tmp_path), "{samples}": str(samples_dir)}
    for key, value in fill.items():
        argv = [a.replace(key, value) for a in argv]
        problem = problem.replace(key, value)
    proc = _ezsr(argv, tmp_path / "numba")
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("ezsr: "), proc.stderr
    assert problem in proc.stderr
    assert not _cached_kernels(tmp_path / "numba")  # nothing compiled, nothing to announce
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "numba") == []  # no output, partial or not
