"""Start-up and exit of `ezsr-live`, as ratios against importing torch on the same machine.

Interleaved rounds of whole processes (a noisy machine drifts alike for all):
* ``import torch`` and ``import torch, open_clip`` (the floor any model start pays);
* a usage error and a missing recording (must be reported in less than torch's import:
  the source is checked before the model stack loads);
* the bundled demo replayed headless until its first result, and until exit after
  ``--max-results 1`` (first result within 2x torch + open_clip; exit within 1 s of the
  last result: the exit figure is the time from the first JSON line on stdout to the
  process's end);
* the window (offscreen Qt) on the demo until its first painted frame (the window logs
  "first frame painted"; the goal is 3 s with a warm Numba cache).
The Numba cache is warmed by one untimed run first. Last line: one JSON object.
Usage: python benchmarks/bench_startup.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "weights" / "demo" / "shapes_demo.raw"
LIVE = [sys.executable, "-m", "ezsr_live.cli.live"]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, cwd=REPO, env=os.environ)
    return time.perf_counter() - start


def first_result_and_exit(cmd: list[str]) -> tuple[float, float]:
    """(seconds to the first stdout line, seconds from it to the process's end)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter()
    proc.stdout.read()
    proc.wait()
    return first - start, time.perf_counter() - first


def first_painted_frame(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from launching the window to its "first frame painted" log line."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, text=True, env=env)
    assert proc.stderr is not None
    elapsed = float("nan")
    for line in proc.stderr:
        if "first frame painted" in line:
            elapsed = time.perf_counter() - start
            break
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    demo = [*LIVE, "--replay", str(DEMO), "--headless", "--device", "cpu", "--max-results", "1"]
    first_result_and_exit(demo)  # warm the Numba cache and the page cache
    window = [*LIVE, "--replay", str(DEMO), "--device", "cpu", "--labels", "square,circle,triangle",
              "--duration-s", "60"]
    # the window's settings (QSettings) go to a folder of this run, not the user's
    window_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": tempfile.mkdtemp()}
    first_painted_frame(window, window_env)
    cases = {
        "import_torch": [sys.executable, "-c", "import torch"],
        "import_torch_open_clip": [sys.executable, "-c", "import torch, open_clip"],
        "usage_error": [*LIVE, "--no-such-option"],
        "missing_file": [*LIVE, "--replay", "/nonexistent/recording.raw", "--headless"],
    }
    walls: dict[str, list[float]] = {k: [] for k in [*cases, "first_result", "exit_after_last_result",
                                                     "window_first_frame"]}
    for _ in range(opts.rounds):
        for key, cmd in cases.items():
            walls[key].append(timed(cmd))
        first, exit_s = first_result_and_exit(demo)
        walls["first_result"].append(first)
        walls["exit_after_last_result"].append(exit_s)
        walls["window_first_frame"].append(first_painted_frame(window, window_env))
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"{opts.rounds} interleaved rounds, median s (min-max); {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for key, values in walls.items():
        print(f"{key:26s} {med[key]:7.2f}  ({min(values):.2f}-{max(values):.2f})")
    figures = {
        "usage_error_vs_import_torch_ratio": round(med["usage_error"] / med["import_torch"], 2),
        "missing_file_vs_import_torch_ratio": round(med["missing_file"] / med["import_torch"], 2),
        "first_result_vs_import_torch_open_clip_ratio": round(med["first_result"] / med["import_torch_open_clip"], 2),
        "exit_after_last_result_s": round(med["exit_after_last_result"], 2),
        "window_first_frame_vs_import_torch_ratio": round(med["window_first_frame"] / med["import_torch"], 2),
        **{f"{k}_s": round(v, 2) for k, v in med.items() if k != "exit_after_last_result"},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
