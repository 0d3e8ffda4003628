"""`ezsr-live` with a window: show :class:`MainWindow` around a built live run, run Qt's loop.

The CLI parses the options, builds the run (:func:`ezsr_live.runtime.live.build_live_run`)
and hands it here with the window's own options; this module never parses anything,
and the CLI turns the outcome into a message and an exit code.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from ezsr_live.runtime.display import DisplaySettings
from ezsr_live.runtime.live import LiveRun

from .main_window import MainWindow
from .preflight import check_binding, check_platform
from .settings import APPLICATION, ORGANIZATION

log = logging.getLogger(__name__)

#: --screenshot waits for this many results, so that the status bar has figures too
SCREENSHOT_AFTER_RESULTS = 3


def application() -> QApplication:
    """The process's QApplication (created once). Before creating it, what would make Qt
    abort (missing system libraries, a binding that corrupts None) is refused with
    :class:`~ezsr_live.gui.preflight.GuiUnavailable` (one line, exit code 2)."""
    check_binding()
    app = QApplication.instance()
    if app is None:
        check_platform()
        app = QApplication([sys.argv[0] if sys.argv else "ezsr-live"])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    pg.setConfigOptions(antialias=False)
    return app  # type: ignore[return-value]


@dataclass(frozen=True)
class WindowOptions:
    """How the window shows a run and when it ends it."""

    smooth: int = 1  # average the shown probabilities over the last N results
    screenshot: str | None = None  # save one after the first results, then close
    max_results: int | None = None
    duration_s: float | None = None
    restore_vocabulary: bool = False  # bring back the last session's vocabulary
    #: controls to bring back from the last session (``persistence.RESTORABLE`` names)
    restore_controls: frozenset[str] = frozenset()
    display: DisplaySettings | None = None  # the view's accumulation, frame rate, colours


class _RunLimits:
    """Ends the run as ``--screenshot``, ``--max-results`` and ``--duration-s`` ask."""

    def __init__(self, window: Any, options: WindowOptions) -> None:
        self.window = window
        self.screenshot = options.screenshot
        self.max_results = options.max_results
        self.screenshot_saved: bool | None = None
        window.resultShown.connect(self._result_shown)
        window.pipelineEnded.connect(self._pipeline_ended)
        if options.duration_s is not None:
            QTimer.singleShot(int(options.duration_s * 1000), window.close)

    def _result_shown(self, _result: Any) -> None:
        n = self.window.n_results
        if self.screenshot and self.screenshot_saved is None:
            if n >= SCREENSHOT_AFTER_RESULTS and self.window.event_view.frames_painted > 0:
                self._take_screenshot()
                self.window.close()
                return
        if self.max_results is not None and self.window.fewest_results >= self.max_results and not self.screenshot:
            self.window.close()

    def _pipeline_ended(self, _message: str) -> None:
        # a short recording may end before the limits were reached: finish what was asked
        if self.screenshot and self.screenshot_saved is None:
            QTimer.singleShot(200, self._screenshot_and_close)
        elif self.max_results is not None:
            self.window.close()

    def _screenshot_and_close(self) -> None:
        self._take_screenshot()
        self.window.close()

    def _take_screenshot(self) -> None:
        self.window.refresh_status()
        self.screenshot_saved = self.window.save_screenshot(self.screenshot)
        if self.screenshot_saved:
            log.info("screenshot saved to %s", self.screenshot)


class ModelLoader(QObject):
    """Runs ``load`` (the run's :meth:`~ezsr_live.runtime.live.LiveRun.load_model`) in a
    thread of its own and hands the recogniser, or the error, to the GUI thread."""

    loaded = Signal(object)
    failed = Signal(object)

    def __init__(self, load: Callable[[], Any]) -> None:
        super().__init__()
        self._load = load
        self.thread = threading.Thread(target=self._run, name="ezsr-model-loader", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            recognizer = self._load()
        except BaseException as exc:  # reported by the GUI thread, as if raised at start
            self.failed.emit(exc)
        else:
            self.loaded.emit(recognizer)


@dataclass(frozen=True)
class WindowOutcome:
    """How a window's run ended: ``failure`` says what went wrong (None: nothing);
    ``interrupted`` names the signal (SIGINT, SIGTERM) that closed the window;
    ``refusal`` is the error that loading the model (in the background) raised: the
    CLI reports it as it would have at start."""

    failure: str | None = None
    interrupted: str | None = None
    refusal: BaseException | None = None


def run_app(run: LiveRun, options: WindowOptions | None = None) -> WindowOutcome:
    """Show the window around ``run`` (built, not started) until it closes; then stop
    and close the run, and say how it ended (the CLI picks message and exit code)."""
    options = options or WindowOptions()
    try:
        app = application()
        window: Any
        if len(run.streams) > 1:
            from .streams import StreamWindow

            window = StreamWindow(run.streams, smooth=max(1, options.smooth),
                                  restore_vocabulary=options.restore_vocabulary,
                                  restore_controls=options.restore_controls, display=options.display)
        else:
            window = MainWindow(run.pipeline, smooth=max(1, options.smooth),
                                restore_vocabulary=options.restore_vocabulary,
                                restore_controls=options.restore_controls, display=options.display,
                                recording=run.recorder)
    except BaseException:
        run.close()
        raise
    limits = _RunLimits(window, options)
    interrupted: list[int] = []
    refusals: list[BaseException] = []
    loader: ModelLoader | None = None
    if run.model_loader is not None:
        # the window paints the source's events meanwhile; recognition starts on attach
        loader = ModelLoader(run.load_model)
        loader.loaded.connect(window.attach_recognizer)

        def refuse(exc: BaseException) -> None:
            refusals.append(exc)
            window.close()

        loader.failed.connect(refuse)

    def interrupt(signum: int, _frame: Any) -> None:
        interrupted.append(signum)
        window.close()

    previous_handlers: dict[int, Any] = {}
    keepalive = QTimer()
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C/SIGTERM close the window (threads stopped, settings saved) and end
        # with 130, as without a window; Qt's loop lets Python see signals only
        # between events, hence the idle timer
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous_handlers[signum] = signal.signal(signum, interrupt)
        keepalive.start(200)
        keepalive.timeout.connect(lambda: None)
    try:
        window.show()
        window.start()
        if loader is not None:
            loader.start()
        log.info("window open on %s; close it or press Ctrl-C to stop", window.source_name)
        app.exec()
    finally:
        keepalive.stop()
        window.shutdown()
        window.deleteLater()
        run.close()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if refusals:
        return WindowOutcome(refusal=refusals[0])
    # File → Open may have replaced a window's own pipeline
    failed = next((p for p in window.shown_pipelines if p.error is not None), None)
    if failed is not None:
        return WindowOutcome(failure=str(failed.error))
    if limits.screenshot and not limits.screenshot_saved:
        return WindowOutcome(failure=f"could not save the screenshot to {limits.screenshot}")
    log.info("%d results shown; %d frames painted", window.n_results, window.event_view.frames_painted)
    if interrupted:
        name = signal.Signals(interrupted[0]).name
        log.info("interrupted (%s)", name)
        return WindowOutcome(interrupted=name)
    return WindowOutcome()
