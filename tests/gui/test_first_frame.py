"""The window paints the source's events before the model stack (torch) has loaded.

The model loads in the background (``LiveRun.load_model``) and is attached to the running
window (one stream or several, a tab each); a bad model still ends the run with one line
and exit code 2.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path


from tests.gui.conftest import DEMO, LABELS, model_args
from tests.helpers import DEMO_SHAPES

from ezsr_live.cli.live import build_parser, build_run  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_first_frame_is_painted_without_importing_torch(tmp_path: Path) -> None:
    # a fresh interpreter: the window, built on a run whose model is deferred, paints
    # real frames of the demo recording while torch is still absent from sys.modules
    script = textwrap.dedent(f"""
        import sys, time
        from ezsr_live.cli.live import build_parser, build_run
        from ezsr_live.gui.app import application
        from ezsr_live.gui.main_window import MainWindow
        args = build_parser().parse_args(["--replay", {str(DEMO)!r}, "--loop", "--device", "cpu"])
        run = build_run(args, defer_model=True)
        app = application()
        window = MainWindow(run.pipeline)
        window.show()
        window.start()
        deadline = time.monotonic() + 60
        while window.event_view.frames_painted < 3 and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        print("frames", window.event_view.frames_painted, "torch", "torch" in sys.modules,
              "open_clip", "open_clip" in sys.modules, "note", window.overlay.shown_note())
        window.shutdown()
        run.close()
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    words = proc.stdout.split()
    assert int(words[words.index("frames") + 1]) >= 3
    assert words[words.index("torch") + 1] == "False"
    assert words[words.index("open_clip") + 1] == "False"
    assert "loading model" in proc.stdout


def test_frames_before_the_model_results_after(qtbot, tiny_model_name) -> None:
    from ezsr_live.gui.main_window import MainWindow

    args = build_parser().parse_args(["--replay", str(DEMO), "--loop", *model_args(tiny_model_name),
                                      "--labels", LABELS])
    run = build_run(args, defer_model=True)
    assert run.pipeline.recognizer is None and run.model_loader is not None
    release = _hold_the_model(run)
    window = MainWindow(run.pipeline)
    qtbot.addWidget(window)
    _start_loading_the_model(window, run)
    try:
        qtbot.waitUntil(lambda: window.event_view.frames_painted >= 5, timeout=30_000)
        assert window.n_results == 0 and not window.model_attached
        assert window.overlay.shown_note() == "loading model…"
        assert not window.load_action.isEnabled()
        assert run.pipeline.ring.total_pushed > 0  # the replay runs while the model loads
        release.set()
        qtbot.waitUntil(lambda: window.n_results >= 2, timeout=60_000)
        assert window.model_attached and window.load_action.isEnabled()
        assert window.editor is not None and window.editor.active_labels() == LABELS.split(",")
        assert window.overlay.shown_note() != "loading model…"
        assert window.last_result.topk[0][0] in LABELS.split(",")
    finally:
        release.set()
        window.shutdown()
        run.close()


def test_bad_event_weights_exit_2_with_one_line(tmp_path: Path, tiny_model_name) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO),
                           *model_args(tiny_model_name), "--event-weights", str(bad), "--duration-s", "60"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ezsr-live: ") and str(bad) in line]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


def test_several_streams_paint_their_frames_before_the_model_results_after(qtbot, tiny_model_name) -> None:
    from ezsr_live.gui.streams import StreamWindow

    args = build_parser().parse_args(["--replay", str(DEMO), "--replay", str(DEMO_SHAPES), "--loop",
                                      *model_args(tiny_model_name), "--labels", LABELS])
    run = build_run(args, defer_model=True)
    assert all(p.recognizer is None for p in run.streams) and run.model_loader is not None
    release = _hold_the_model(run)
    window = StreamWindow(run.streams)
    qtbot.addWidget(window)
    _start_loading_the_model(window, run)
    views = window.views
    try:
        for i, view in enumerate(views):
            window.select(i)
            qtbot.waitUntil(lambda: view.event_view.frames_painted >= 3, timeout=30_000)
        assert window.n_results == 0 and not window.model_attached
        for view, pipeline in zip(views, run.streams):
            assert view.overlay.shown_note() == "loading model…" and view.editor is None
            assert not view.load_action.isEnabled()
            assert pipeline.ring.total_pushed > 0  # every replay runs while the model loads
        release.set()
        qtbot.waitUntil(lambda: min(v.n_results for v in views) >= 2, timeout=60_000)
        assert window.model_attached
        for i, view in enumerate(views):
            assert view.editor.active_labels() == LABELS.split(",") and view.load_action.isEnabled()
            assert view.overlay.shown_note() != "loading model…"
            assert view.last_result.stream == i and view.last_result.topk[0][0] in LABELS.split(",")
        views[1].editor.add_text("kite")  # the tabs' editors, built late, still follow each other
        assert views[0].editor.entries()[-1] == ("kite", True)
    finally:
        release.set()
        window.shutdown()
        run.close()


def test_the_window_of_several_streams_defers_its_model(qtbot, tiny_model_name) -> None:
    import ezsr_live.gui.streams as streams_module
    from ezsr_live.cli.live import run_gui

    args = build_parser().parse_args(["--replay", str(DEMO), "--replay", str(DEMO_SHAPES), "--loop",
                                      *model_args(tiny_model_name), "--labels", LABELS, "--max-results", "4",
                                      "--colours", "time_surface"])
    seen: dict = {}
    original = streams_module.StreamWindow

    class Spy(original):  # type: ignore[misc, valid-type]
        def __init__(self, pipelines, **options):
            seen["recognisers at start"] = [p.has_recognizer for p in pipelines]
            super().__init__(pipelines, **options)
            seen["schemes"] = [view.display_panel.settings.scheme for view in self.views]

        def attach_recognizer(self, recognizer):
            super().attach_recognizer(recognizer)
            seen["attached"] = self.model_attached

        def shutdown(self, timeout_s: float = 2.0) -> bool:
            seen.setdefault("results per tab", [v.n_results for v in self.views])
            return super().shutdown(timeout_s)

    streams_module.StreamWindow = Spy
    try:
        assert run_gui(args) == 0
    finally:
        streams_module.StreamWindow = original
    per_tab = seen.pop("results per tab")
    assert min(per_tab) >= 4  # --max-results counts each stream's results, not their sum
    assert seen == {"recognisers at start": [False, False], "schemes": ["time_surface"] * 2, "attached": True}


def test_several_streams_refuse_bad_input_in_one_line_with_exit_2(tmp_path: Path, tiny_model_name) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    # a missing second recording: said before the model stack is even imported
    code = textwrap.dedent(f"""
        import sys
        from ezsr_live.cli.live import main
        rc = main(["--replay", {str(DEMO)!r}, "--replay", "/nonexistent/second.raw", *{model_args(tiny_model_name)!r}])
        print(rc, "torch" in sys.modules, "open_clip" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr[-2000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("ezsr-live: ")]
    assert len(ours) == 1 and "/nonexistent/second.raw" in ours[0] and "Traceback" not in proc.stderr
    # a bad model, found by the background loader: the same one line and exit 2 as at start
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), "--replay",
                           str(DEMO_SHAPES), *model_args(tiny_model_name), "--event-weights", str(bad),
                           "--duration-s", "60"], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ezsr-live: ") and str(bad) in line]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


def _hold_the_model(run) -> threading.Event:
    """Make ``run``'s model loader wait until the returned event is set (the window must
    paint without a model meanwhile)."""
    release = threading.Event()
    real_loader = run.model_loader

    def held_loader():
        assert release.wait(60)
        return real_loader()

    run.model_loader = held_loader
    return release


def _start_loading_the_model(window, run) -> None:
    """Show and start ``window`` and load the model in the background, as the app does."""
    from ezsr_live.gui.app import ModelLoader

    loader = ModelLoader(run.load_model)
    loader.loaded.connect(window.attach_recognizer)
    window._test_model_loader = loader  # kept alive with the window
    window.show()
    window.start()
    loader.start()
