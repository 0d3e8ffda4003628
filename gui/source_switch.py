"""File → Open recording… / Open camera…: another source in the running window.

The new source is opened first; if that fails, one line says why in the status bar and
the old source keeps running. Otherwise the old pipeline is stopped (its worker owns the
recogniser until then) and a new one, with the same recogniser and settings, takes its
place in the window (:meth:`MainWindow.replace_pipeline`). A recording of the old source
(the Record button's or ``--record``'s) is finished with it, and the status bar says
where it was saved and why it stopped.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from ezsr_live.runtime.live import SourceOptions
from ezsr_live.runtime.pipeline import Pipeline

log = logging.getLogger(__name__)


class SourceSwitcher(QObject):
    """The two File menu actions and what they do; ``window`` is the MainWindow."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self._window = window
        #: ask for a recording / a camera ("" cancels); tests replace them
        self.choose_recording: Callable[[], str] = self._ask_recording
        self.choose_camera: Callable[[], str] = self._ask_camera
        self.recording_action = self._action("Open &recording…", "Ctrl+Shift+O",
                                             lambda: self._chosen(self.choose_recording(), replay=True))
        self.camera_action = self._action("Open &camera…", None,
                                          lambda: self._chosen(self.choose_camera(), replay=False))

    def _action(self, text: str, shortcut: str | None, slot: Callable[[], None]) -> QAction:
        window: QWidget = self._window
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        window.addAction(action)
        return action

    def _chosen(self, spec: str, *, replay: bool) -> None:
        if spec:
            self.open(spec, replay=replay)

    def open(self, spec: str, *, replay: bool) -> bool:
        """Switch the window to ``spec`` (a recording if ``replay``, else a camera or
        stream); False, with the reason in the status bar, if it cannot be opened."""
        window = self._window
        old = window.pipeline
        speed = getattr(old.source, "speed", 1.0) if replay else 1.0
        try:
            source = SourceOptions(spec, replay=replay, speed=speed).open()
        except Exception as exc:  # whatever the driver says, in one line; the old source goes on
            window.show_message(f"cannot open {spec}: {_one_line(exc)}")
            log.debug("opening %s failed", spec, exc_info=exc)
            return False
        recording: str | None = None  # what became of a recording of the old source
        try:
            settings = dataclasses.replace(old.settings, paused=False, roi=_fitting(old.settings.roi, source.geometry))
            recording = window.detach_pipeline()
            recognizer = old.recognizer
            recognizer.set_knn(old.configured_knn)  # the new pipeline may switch it off and on again
            pipeline = Pipeline(source, recognizer, settings)
            pipeline.update(knn_enabled=settings.knn_enabled)
        except Exception as exc:
            window.show_message(_joined(f"cannot open {spec}: {_one_line(exc)}", recording))
            log.debug("switching to %s failed", spec, exc_info=exc)
            return False
        window.replace_pipeline(pipeline)
        # where the recording went stays on screen until the next message
        window.show_message(_joined(f"opened {spec}", recording), 0 if recording else 4000)
        return True

    def _ask_recording(self) -> str:
        from ezsr_live.drivers import reader_extensions

        patterns = " ".join(f"*{ext}" for ext in reader_extensions())
        path, _ = QFileDialog.getOpenFileName(self._window, "Open recording", "", f"Event recordings ({patterns})")
        return path

    def _ask_camera(self) -> str:
        spec, ok = QInputDialog.getText(
            self._window, "Open camera",
            "Camera: davis346, dvxplorer, prophesee, a serial number, or tcp://HOST:PORT")
        return spec.strip() if ok else ""


def _fitting(roi: Any, geometry: Any) -> Any:
    if roi is None or roi.x + roi.width > geometry.width or roi.y + roi.height > geometry.height:
        return None
    return roi


def _joined(text: str, recording: str | None) -> str:
    return f"{text}; {recording}" if recording else text


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
