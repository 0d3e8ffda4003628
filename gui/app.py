"""`ezsr-live` with a window: build the pipeline, show :class:`MainWindow`, run Qt's loop."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .main_window import MainWindow
from .preflight import check_binding, check_platform
from .settings import APPLICATION, ORGANIZATION

log = logging.getLogger(__name__)

#: exit code when a pipeline thread failed (as the headless mode)
EXIT_RUNTIME = 1
#: exit code after Ctrl-C or SIGTERM closed the window (as the headless mode)
EXIT_INTERRUPTED = 130
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


class _RunLimits:
    """Ends the run as ``--screenshot``, ``--max-results`` and ``--duration-s`` ask."""

    def __init__(self, window: MainWindow, args: argparse.Namespace) -> None:
        self.window = window
        self.screenshot = getattr(args, "screenshot", None)
        self.max_results = getattr(args, "max_results", None)
        self.screenshot_saved: bool | None = None
        window.resultShown.connect(self._result_shown)
        window.pipelineEnded.connect(self._pipeline_ended)
        duration_s = getattr(args, "duration_s", None)
        if duration_s is not None:
            QTimer.singleShot(int(duration_s * 1000), window.close)

    def _result_shown(self, _result: Any) -> None:
        n = self.window.n_results
        if self.screenshot and self.screenshot_saved is None:
            if n >= SCREENSHOT_AFTER_RESULTS and self.window.event_view.frames_painted > 0:
                self._take_screenshot()
                self.window.close()
                return
        if self.max_results is not None and n >= self.max_results and not self.screenshot:
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


def run_app(args: argparse.Namespace) -> int:
    """Run the live window for parsed ``ezsr-live`` arguments; the process exit code."""
    from ezsr_live.cli.live import build_parser, build_pipeline

    app = application()
    pipeline, recorder = build_pipeline(args)
    # the remembered vocabulary comes back unless --labels chose one
    restore = getattr(args, "labels", None) == build_parser().get_default("labels")
    window = MainWindow(pipeline, smooth=max(1, int(getattr(args, "smooth", 1) or 1)), restore_vocabulary=restore)
    limits = _RunLimits(window, args)
    interrupted: list[int] = []

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
        log.info("window open on %s; close it or press Ctrl-C to stop", window.source_name)
        app.exec()
    finally:
        keepalive.stop()
        window.shutdown()
        window.deleteLater()
        if recorder is not None:
            recorder.close()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    if pipeline.error is not None:
        print(f"ezsr-live: {pipeline.error}", file=sys.stderr)
        return EXIT_RUNTIME
    if limits.screenshot and not limits.screenshot_saved:
        print(f"ezsr-live: could not save the screenshot to {limits.screenshot}", file=sys.stderr)
        return EXIT_RUNTIME
    log.info("%d results shown; %d frames painted", window.n_results, window.event_view.frames_painted)
    if interrupted:
        log.info("interrupted (%s)", signal.Signals(interrupted[0]).name)
        return EXIT_INTERRUPTED
    return 0
