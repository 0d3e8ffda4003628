"""Live window benchmark: frames actually painted per second and GUI-thread time per frame.

The real window (offscreen Qt) runs on a replay at ``--speed max`` (looped) of a RAW
recording while the tiny test model (random weights, production code path) recognises
in the pipeline's worker. Streams: the 346x260 demo recording and the 1280x720 EVT3
sample. Time to the first painted frame and the first result is reported apart; the
steady-state figures start after both. "GUI ms/frame" is time in the GUI thread per painted frame (setImage + paint);
"render ms" is the renderer thread's Numba display kernel per frame.

Usage: python benchmarks/bench_gui.py [--seconds 4] [--max-fps 120]
Numbers on a shared CPU are noisy: other processes compete for the same cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("EZSR_SAMPLES", REPO.parent / "shared" / "samples"))
STREAMS = {
    "346x260": REPO / "weights" / "demo" / "moving_disc.raw",
    "1280x720": SAMPLES / "evt3_gen41_1280x720.raw",
}
MODEL = ["--model", "ezsr-test-tiny",  # shipped in ezsr_live/model/configs, registered by name
         "--pretrained", "", "--templates", "photo", "--device", "cpu"]


def measure(app, path: Path, seconds: float, max_fps: float, settings_dir: str, extra: list[str]) -> dict:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from ezsr_live.cli.live import build_parser, build_run
    from ezsr_live.gui.main_window import MainWindow

    args = build_parser().parse_args(["--replay", str(path), "--loop", "--speed", "max", *MODEL,
                                      "--labels", "car,pedestrian,bicycle,disc,tree", "--window-ms", "20",
                                      *extra])
    pipeline = build_run(args).pipeline
    settings = QSettings(os.path.join(settings_dir, "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(pipeline, settings=settings, max_display_fps=max_fps)
    window.resize(1280, 800)
    window.show()
    window.start()

    def run_for(duration: float) -> None:
        # Qt's own event loop, as in the app: it sleeps in native code between events,
        # where a processEvents() spin would hold the GIL the engine's threads need
        loop = QEventLoop()
        QTimer.singleShot(max(1, int(duration * 1000)), loop.quit)
        loop.exec()

    # the first frame and result wait for Numba to load (or, after a kernel changed,
    # recompile) its kernels: seconds on a loaded machine, reported on its own line
    t_open = time.perf_counter()
    first_frame_s = first_result_s = None
    while time.perf_counter() - t_open < 60.0 and (first_frame_s is None or first_result_s is None):
        run_for(0.01)
        if first_frame_s is None and window.event_view.frames_painted:
            first_frame_s = time.perf_counter() - t_open
        if first_result_s is None and window.n_results:
            first_result_s = time.perf_counter() - t_open
    run_for(1.0)  # then a steady state: layout settled, caches warm
    view, renderer = window.event_view, window.renderer
    frames0, gui0, results0 = view.frames_painted, view.gui_seconds, window.n_results
    rendered0, render_ms0 = renderer.frames_rendered, renderer.render_ms_total
    start = time.perf_counter()
    run_for(seconds)
    wall = time.perf_counter() - start
    frames = view.frames_painted - frames0
    rendered = max(1, renderer.frames_rendered - rendered0)
    last = window.last_result
    out = {
        "fps": frames / wall,
        "gui_ms_per_frame": (view.gui_seconds - gui0) * 1e3 / max(1, frames),
        "render_ms_per_frame": (renderer.render_ms_total - render_ms0) / rendered,
        "results_per_s": (window.n_results - results0) / wall,
        "events_per_window": last.n_events if last else 0,
        "latency_p50_ms": last.latency_p50_ms if last else float("nan"),
        "first_frame_s": first_frame_s if first_frame_s is not None else float("nan"),
        "first_result_s": first_result_s if first_result_s is not None else float("nan"),
    }
    window.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--max-fps", type=float, default=120.0, help="the window's display cap (default as the app)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for inference (default 1: leaves cores to the source and the view)")
    opts = parser.parse_args()

    from ezsr_live.gui.app import application

    app = application()
    rows = {}
    with tempfile.TemporaryDirectory() as settings_dir:
        for name, path in STREAMS.items():
            rows[name] = measure(app, path, opts.seconds, opts.max_fps, settings_dir, ["--threads", str(opts.threads)])

    print(f"live window, replay --speed max (looped), tiny model on CPU ({opts.threads} thread), "
          f"20 ms windows, display cap {opts.max_fps:g} fps; {os.cpu_count()} CPUs, shared: numbers are noisy")
    print(f"{'stream':>10} {'painted fps':>12} {'GUI ms/frame':>13} {'render ms':>10} {'results/s':>10} "
          f"{'events/window':>14} {'latency p50':>12} {'1st frame':>10} {'1st result':>11}")
    for name, r in rows.items():
        print(f"{name:>10} {r['fps']:12.1f} {r['gui_ms_per_frame']:13.2f} {r['render_ms_per_frame']:10.2f} "
              f"{r['results_per_s']:10.1f} {r['events_per_window']:14,d} {r['latency_p50_ms']:10.1f} ms "
              f"{r['first_frame_s']:9.2f}s {r['first_result_s']:10.2f}s")
    headline = {}
    for name, r in rows.items():
        headline[f"fps_{name}"] = round(r["fps"], 1)
        headline[f"gui_ms_per_frame_{name}"] = round(r["gui_ms_per_frame"], 3)
        headline[f"render_ms_per_frame_{name}"] = round(r["render_ms_per_frame"], 3)
        headline[f"results_per_s_{name}"] = round(r["results_per_s"], 1)
        headline[f"first_frame_s_{name}"] = round(r["first_frame_s"], 2)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
