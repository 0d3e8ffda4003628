"""The status bar's note while a new vocabulary is encoded: "encoding labels 320/1000…".

The engine reports progress through a plain callback
(:meth:`~ezsr_live.model.vocabulary.Vocabulary.add_progress_listener`) from the worker
thread; a Qt signal carries it into the GUI thread. Results keep the previous
vocabulary until the new one is complete, so the note says why the overlay has not
switched yet.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget


class _Relay(QObject):
    progressed = Signal(int, int)

    def report(self, ready: int, total: int) -> None:
        try:
            self.progressed.emit(ready, total)  # from the worker: queued to the GUI thread
        except RuntimeError:  # the window is gone while the worker still encodes
            pass


class VocabularyProgress(QWidget):
    """A label and a bar, visible only while labels are being encoded."""

    def __init__(self, vocabulary: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(120)
        self.bar.setMaximumHeight(14)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        self.setToolTip("the results keep the previous labels until all new ones are encoded")
        self.seen: list[tuple[int, int]] = []  # every report shown (tests, diagnostics)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._show)
        listen = getattr(vocabulary, "add_progress_listener", None)
        if listen is not None:
            listen(self._relay.report)
        self.hide()

    @Slot(int, int)
    def _show(self, ready: int, total: int) -> None:
        self.seen.append((ready, total))
        if total == 0 or ready >= total:
            self.hide()
            return
        self.label.setText(f"encoding labels {ready:,}/{total:,}…")
        self.bar.setRange(0, total)
        self.bar.setValue(ready)
        self.show()
