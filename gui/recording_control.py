"""The Record button: start and stop recording what the source delivers into a chosen file.

The same machinery as ``--record`` (:class:`~ezsr_live.runtime.recorder.Recorder`: a
writer thread behind a bounded backlog, format by extension), attached to the running
pipeline as one more tap while recording. A failing writer stops the recording with
one line in the status bar, never the source.

A recording started with ``--record`` is shown here too (:meth:`RecordingControl.adopt`):
the button says it is running and stops it. It keeps the command line's rule that a
failing writer fails the run (exit 1), as without a window. Either kind ends when
another source replaces the pipeline (its sensor may differ, so it cannot go on into
the same file): the file is finished then, and the status bar says so.
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

    def __init__(self, recorder: Recorder, *, fails_source: bool = False) -> None:
        self.recorder = recorder
        #: a write error is raised to the source thread too (``--record``'s rule)
        self.fails_source = fails_source
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._open = True

    def __call__(self, packet: np.ndarray) -> None:
        with self._lock:
            if not self._open or self.error is not None:
                return
            try:
                self.recorder.write(packet)
            except BaseException as exc:  # reported by the GUI; the source goes on unless --record's
                self.error = exc
                if self.fails_source:
                    raise

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
        #: what the status bar was told when the last recording stopped
        self.last_message: str | None = None
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
        self._begin(_RecordingTap(recorder), pipeline)
        pipeline.add_tap(self._tap)
        return True

    def adopt(self, recorder: Recorder) -> None:
        """Show ``recorder`` (``--record``: the current pipeline's own tap, from its first
        packet) as this control's recording; stopping it finishes the file."""
        if self._tap is not None:
            self.stop()
        pipeline = self._pipeline()
        tap = _RecordingTap(recorder, fails_source=True)
        # one reference swap: each packet goes to the recorder directly or through the tap, once
        pipeline.tap = tap
        self._begin(tap, pipeline)

    def _begin(self, tap: _RecordingTap, pipeline: Any) -> None:
        self._tap, self._owner, self.path = tap, pipeline, tap.recorder.path
        self._watch.start()
        self._show(True)
        self._message(f"recording to {self.path}")
        self.recordingChanged.emit(True)

    def stop(self, reason: str | None = None) -> int | None:
        """Finish the recording (the file is complete once this returns); the number of
        events written (None: none was running). ``reason`` says in the status bar why it
        stopped, when not by the user (:attr:`last_message` keeps what was said)."""
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
            if tap.fails_source and self._owner.error is None:
                self._owner.error = exc  # --record's rule: the run failed (exit 1)
        self._show(False)
        written = tap.recorder.n_written
        if error is not None:
            self.last_message = f"recording to {self.path} failed: {error}"
        elif reason is not None:
            self.last_message = f"recording stopped ({reason}): {written:,} events saved to {self.path}"
        else:
            self.last_message = f"recorded {written:,} events to {self.path}"
        self._message(self.last_message)
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
