"""The overlay's own controls: show/hide (View menu, O), and the confidence threshold
below which it says "none of these"."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from ezsr_live.settings import MIN_CONFIDENCE

from .controls import limit_spin_box
from .topk_overlay import TopKOverlay


class OverlayControl(QObject):
    """Owns :attr:`show_action` (checkable, O) and :attr:`threshold_spin` (0..1)."""

    thresholdChanged = Signal(float)

    def __init__(self, overlay: TopKOverlay, threshold: float, apply: Callable[[float], None],
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.overlay = overlay
        self._apply = apply
        self.show_action = QAction("Show the &labels overlay", parent)
        self.show_action.setCheckable(True)
        self.show_action.setChecked(True)
        self.show_action.setShortcut(QKeySequence("O"))
        self.show_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.show_action.toggled.connect(self.set_visible)
        parent.addAction(self.show_action)
        self.threshold_spin = QDoubleSpinBox()
        limit_spin_box(self.threshold_spin, MIN_CONFIDENCE)
        self.threshold_spin.setToolTip("below this top-1 probability the overlay says 'none of these'")
        self.threshold_spin.setValue(threshold)
        overlay.set_threshold(threshold)
        self.threshold_spin.valueChanged.connect(self._threshold_edited)

    @property
    def threshold(self) -> float:
        return float(self.threshold_spin.value())

    def set_threshold(self, value: float) -> None:
        self.threshold_spin.setValue(value)  # emits, and so applies, when it changes

    @Slot(bool)
    def set_visible(self, visible: bool) -> None:
        self.show_action.setChecked(visible)
        self.overlay.setVisible(visible)

    @Slot(float)
    def _threshold_edited(self, value: float) -> None:
        self.overlay.set_threshold(value)
        self._apply(value)
        self.thresholdChanged.emit(value)
