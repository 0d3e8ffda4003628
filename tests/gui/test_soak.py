"""Minutes of the real window on the bundled demo, as a user runs it (slow; the fast
test_paint_refcount.py covers the same paint code)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

SHAPES_DEMO = REPO_ROOT / "weights" / "demo" / "shapes_demo.raw"
SOAK_S = 180


@pytest.mark.slow
def test_the_window_runs_minutes_on_the_demo_and_exits_cleanly(tmp_path):
    # a child process: an abort (PySide6 6.12.0 aborted after about a minute) must fail
    # this test, not end the test session
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-m", "ezsr_live.cli.live",
                           "--replay", str(SHAPES_DEMO), "--loop", "--duration-s", str(SOAK_S)],
                          capture_output=True, text=True, env=env, timeout=SOAK_S + 240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Fatal Python error" not in proc.stderr
    shown = re.search(r"(\d+) results shown; (\d+) frames painted", proc.stderr)
    assert shown, proc.stderr[-3000:]
    results, frames = int(shown.group(1)), int(shown.group(2))
    # painting and recognising all along, not only at the start (a few per second at least)
    assert results >= 2 * SOAK_S and frames >= 2 * SOAK_S, (results, frames)
