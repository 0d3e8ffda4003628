"""A cold Numba cache is announced once on stderr; a warm one prints nothing."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from ezsr_live import jit_notice

NOTICE = "ezsr-live: compiling event kernels (first run only, about"


def _stream_statistics(sample: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(sample), "--no-recognition", "--speed", "max"],
        capture_output=True, text=True, env=env, timeout=600)


def _read_with_notice(sample: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """One kernel (the EVT 2.0 decoder) run in a fresh process with the notice installed."""
    code = ("import sys; from ezsr_live import jit_notice; jit_notice.install(); "
            "from ezsr_live.drivers import open_reader; print(len(open_reader(sys.argv[1]).read_all()))")
    return subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)), timeout=600)


def test_compiling_into_a_fresh_cache_is_announced_and_loading_from_it_is_not(
        samples_dir: Path, tmp_path: Path) -> None:
    sample = samples_dir / "evt2_gen3_640x480.raw"
    cold = _read_with_notice(sample, tmp_path / "numba")
    assert cold.returncode == 0 and cold.stdout.strip() == "539481", cold.stderr
    assert cold.stderr.count(NOTICE) == 1, cold.stderr
    warm = _read_with_notice(sample, tmp_path / "numba")
    assert warm.returncode == 0 and warm.stdout.strip() == "539481", warm.stderr
    assert warm.stderr == ""


@pytest.mark.slow  # compiles the live path's kernels twice over; the test above covers the mechanism
def test_a_cold_cache_is_announced_once_and_a_warm_one_not_at_all(samples_dir: Path, tmp_path: Path) -> None:
    sample = samples_dir / "evt3_gen41_1280x720.raw"
    cold = _stream_statistics(sample, tmp_path / "numba")
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(NOTICE) == 1, cold.stderr
    assert any((tmp_path / "numba").rglob("*.nbi"))  # the kernels were cached
    warm = _stream_statistics(sample, tmp_path / "numba")
    assert warm.returncode == 0, warm.stderr
    assert NOTICE not in warm.stderr
    summary = [json.loads(run.stdout.splitlines()[-1]) for run in (cold, warm)]
    assert summary[0]["n_events"] == summary[1]["n_events"] == 219_596


def test_only_this_packages_kernels_count(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr(jit_notice, "_notices", {})
    jit_notice.install("probe", stream)

    @njit
    def outside(a):  # type: ignore[no-untyped-def]
        return a.sum() + 1  # compiled here: a test module, not ezsr_live

    outside(np.arange(3))
    assert stream.getvalue() == ""

    inside = njit(lambda a: a.sum() + 2)
    inside.py_func.__module__ = "ezsr_live.kernels._probe"
    inside(np.arange(3))
    inside(np.arange(3.0))  # a second compile: still one notice
    assert stream.getvalue().count("probe: compiling event kernels") == 1


_FORKED_COMPILES = """
import multiprocessing, sys
import numpy as np
from numba import njit
from ezsr_live import jit_notice
from ezsr_live.drivers._formats_codec import atis_max_xy

jit_notice.install("probe", expected_s=1)

def child():
    # a fresh dispatcher of one of our kernels: each child compiles it (none shares a cache)
    njit(atis_max_xy.py_func)(np.zeros(10, np.uint8))

ctx = multiprocessing.get_context("fork")
children = [ctx.Process(target=child) for _ in range(3)]
for c in children:
    c.start()
for c in children:
    c.join()
sys.exit(max(c.exitcode for c in children))
"""


def test_forked_children_compiling_side_by_side_announce_once(tmp_path: Path) -> None:
    """A DataLoader's forked workers each compile the synthesis kernels on a cold cache:
    one notice for all of them, not one per worker."""
    proc = subprocess.run([sys.executable, "-c", _FORKED_COMPILES], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [jit_notice.notice_text("probe", 1)]


def test_the_notice_quotes_the_measured_figure_or_range() -> None:
    assert jit_notice.notice_text("ezsr", 10) == "ezsr: compiling event kernels (first run only, about 10 s)…"
    assert jit_notice.notice_text("ezsr", (1, 9)) == "ezsr: compiling event kernels (first run only, about 1–9 s)…"
    assert jit_notice.notice_text("ezsr", None) == "ezsr: compiling event kernels (first run only)…"
