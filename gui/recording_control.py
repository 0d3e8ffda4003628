"""The Record button: start and stop recording what the source delivers into a chosen file.

The same machinery as ``--record`` (:class:`~ezsr_live.runtime.recorder.Recorder`: a
writer thread behind a bounded backlog, format by extension), attached to the running
pipeline as one more tap while recording. The tap swallows nothing: a failing writer
stops the recording with one line in the status bar, never the source.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from ezsr_live.drivers import recording_extensions
from ezsr_live.errors import EzsrError
from ezsr_live.runtime.recorder import Recorder
from ezsr_live.sources import Described

log = logging.getLogger(__name__)


class _RecordingTap:
    """Hands packets to a recorder until :meth:`finish`; after that, none (a lock keeps
    the source thread from writing into a closing file)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._open = True

    def __call__(self, packet: np.ndarray) -> None:
        with self._lock:
            if not self._open or self.error is not None:
                return
            try:
                self.recorder.write(packet)
            except BaseException as exc:  # the source goes on; the GUI reports it
                self.error = exc

    def finish(self) -> None:
        with self._lock:
            self._open = False
        self.recorder.close()


class RecordingControl(QObject):
    """:attr:`button` and :attr:`action` (Ctrl+R) start and stop a recording of
    ``pipeline()``'s source; ``message(text)`` reports in the status bar."""

    recordingChanged = Signal(bool)

    def __init__(self, pipeline: Callable[[], Any], message: Callable[[str], None], parent: QWidget) -> None:
        super().__init__(parent)
        self._pipeline = pipeline
        self._message = message
        self._tap: _RecordingTap | None = None
        self._owner: Any = None
        self.path: str | None = None
        #: asks for the file to record into ("" cancels); tests replace it
        self.choose_path: Callable[[], str] = self._ask_path
        self.button = QPushButton("Record")
        self.button.setCheckable(True)
        self.button.setToolTip("record what the source delivers into a file (Ctrl+R)")
        self.button.toggled.connect(self._toggled)
        self.action = QAction("&Record…", parent)
        self.action.setShortcut(QKeySequence("Ctrl+R"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.triggered.connect(self.button.toggle)
        parent.addAction(self.action)
        # a writer that fails while recording (disk full) ends the recording at once
        self._watch = QTimer(self)
        self._watch.setInterval(250)
        self._watch.timeout.connect(self._check)

    @Slot()
    def _check(self) -> None:
        if self._tap is not None and self._tap.error is not None:
            self.stop()

    @property
    def recording(self) -> bool:
        return self._tap is not None

    def start(self, path: str | os.PathLike) -> bool:
        """Record into ``path`` from the next packet on; False (and a message) if refused."""
        if self._tap is not None:
            self.stop()
        pipeline = self._pipeline()
        source = pipeline.source
        try:
            recorder = Recorder(path, pipeline.geometry, source.info if isinstance(source, Described) else None)
        except (EzsrError, OSError, ValueError) as exc:
            self._message(f"cannot record: {exc}")
            self._show(False)
            return False
        self._tap, self._owner, self.path = _RecordingTap(recorder), pipeline, os.fspath(path)
        pipeline.add_tap(self._tap)
        self._watch.start()
        self._show(True)
        self._message(f"recording to {self.path}")
        self.recordingChanged.emit(True)
        return True

    def stop(self) -> int | None:
        """Finish the recording; the number of events written (None: none was running)."""
        tap = self._tap
        if tap is None:
            return None
        self._tap = None
        self._watch.stop()
        self._owner.remove_tap(tap)
        error = tap.error
        try:
            tap.finish()
        except BaseException as exc:
            error = error or exc
        self._show(False)
        written = tap.recorder.n_written
        if error is not None:
            self._message(f"recording to {self.path} failed: {error}")
        else:
            self._message(f"recorded {written:,} events to {self.path}")
        self.recordingChanged.emit(False)
        return written

    def _show(self, on: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.setText("Stop recording" if on else "Record")
        self.button.blockSignals(False)

    @Slot(bool)
    def _toggled(self, on: bool) -> None:
        if not on:
            self.stop()
            return
        path = self.choose_path()
        if not path:
            self._show(False)
            return
        self.start(path)

    def _ask_path(self) -> str:
        patterns = " ".join(f"*{ext}" for ext in recording_extensions())  # the crash-safe formats
        path, _ = QFileDialog.getSaveFileName(self.parent(), "Record into", "recording.aedat4",
                                              f"Event recordings ({patterns})")
        return path
