"""SIGKILL during a live --record: every crash-safe format keeps what reached the file,
a prefix of the source's own events, losing at most the last second or two; formats
that a crash would leave unreadable are refused for --record."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from tests.helpers import DEMO_SHAPES

#: recorded before the kill, in seconds of the source's time
RECORD_S = 3.0
#: what a kill may lose: the flush interval (1 s), the reordering window (50 ms) and
#: the stats line's own lag behind the source, on a loaded machine
MAX_LOST_S = 2.0


def _record_then_kill(out: Path, whole_group: bool) -> tuple[int, float]:
    """Run ezsr-live --record OUT on the demo recording at 1x, SIGKILL it once its
    stats line says RECORD_S seconds went by; return (pid, the source time it said)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO_SHAPES), "--record", str(out),
         "--no-recognition", "--headless"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    lines: list[dict] = []
    arrived = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))
            if (lines[-1].get("t_us") or 0) >= RECORD_S * 1e6:
                arrived.set()

    threading.Thread(target=read, daemon=True).start()
    assert arrived.wait(120), lines
    said_s = lines[-1]["t_us"] / 1e6
    if whole_group:  # the writer's child process dies too: the file is cut mid-write
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.wait()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the .aedat4 writer's child finishes the file
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    return proc.pid, said_s


@pytest.mark.parametrize(("ext", "whole_group"), [("raw", False), ("evt2.raw", True), ("aedat4", False),
                                                    ("aedat4", True)])
def test_a_killed_recording_holds_the_sources_first_events_up_to_the_last_flush(
    tmp_path: Path, ext: str, whole_group: bool, caplog
) -> None:
    out = tmp_path / f"out.{ext}"
    _, said_s = _record_then_kill(out, whole_group)
    got = open_reader(out).read_all()
    source = open_reader(DEMO_SHAPES).read_all()
    assert 0 < len(got) < len(source)
    np.testing.assert_array_equal(got, source[:len(got)])
    lost_s = said_s - (int(got["t"][-1]) - int(source["t"][0])) / 1e6
    assert lost_s <= MAX_LOST_S, f"{lost_s:.2f} s lost"
    assert "Traceback" not in caplog.text
    if ext == "aedat4":  # dv-processing itself reads the same events
        import dv_processing as dv

        recording = dv.io.MonoCameraRecording(str(out))
        n = 0
        while (batch := recording.getNextEventBatch()) is not None:
            np.testing.assert_array_equal(batch.numpy()["timestamp"], got["t"][n:n + len(batch)])
            n += len(batch)
        assert n == len(got)


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_formats_a_crash_would_leave_unreadable_are_refused_for_record(tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"out.{ext}"
    done = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO_SHAPES), "--record",
                           str(out), "--no-recognition", "--headless"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"ezsr-live: {out}: .{ext} cannot record a live source: the file is readable only once complete, so a "
        "crash would lose all of it; record to .aedat4, .evt2.raw, .evt3.raw, .raw and convert afterwards "
        "(ezsr convert)")
    assert not out.exists()
