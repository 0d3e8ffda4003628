"""The view's own controls: accumulation, frame rate, colour scheme, and its legend.

They change only what is shown (:class:`~ezsr_live.runtime.display.DisplaySettings`),
never what is recognised; ranges and defaults come from the settings' field metadata.
"""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ezsr_live.kernels.colour_schemes import SCHEMES
from ezsr_live.runtime.display import DisplaySettings
from ezsr_live.settings import ViewSettings, setting_named

from .controls import limit_spin_box
from .legend import ColourLegend

_BY_TIME, _BY_EVENTS = "milliseconds", "events"


def _spin(name: str, value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    _limited(spin, name)
    spin.setValue(value)
    return spin


def _limited(spin: QSpinBox | QDoubleSpinBox, name: str) -> None:
    # range, step and decimals from the declaration: the box offers what the options accept
    setting = setting_named(ViewSettings, name)
    limit_spin_box(spin, setting)
    assert setting.range is not None
    spin.setSuffix(f" {setting.range.unit}")
    spin.setToolTip(setting.help)
    spin.setKeyboardTracking(False)


class DisplayPanel(QWidget):
    """Controls of the view, with the legend of the chosen colours under them."""

    settingsChanged = Signal(object)  # DisplaySettings

    def __init__(self, settings: DisplaySettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.mode_combo = QComboBox()
        self.mode_combo.addItems([_BY_TIME, _BY_EVENTS])
        self.mode_combo.setToolTip("what the view accumulates (recognition has its own window above)")
        self.length_ms = _spin("accumulation_ms", settings.accumulation_ms)
        self.length_events = QSpinBox()
        _limited(self.length_events, "accumulation_events")
        self.length_events.setGroupSeparatorShown(True)
        self.length_events.setValue(settings.accumulation_events or 10_000)
        if settings.accumulation_events is not None:
            self.mode_combo.setCurrentText(_BY_EVENTS)
        self.fps = _spin("fps", settings.fps)
        self.scheme_combo = QComboBox()
        for name, scheme in SCHEMES.items():
            self.scheme_combo.addItem(scheme.title, name)
        self.scheme_combo.setCurrentIndex(self.scheme_combo.findData(settings.scheme))
        self.decay_ms = _spin("decay_ms", settings.decay_ms)
        self.saturation = QSpinBox()
        _limited(self.saturation, "saturation")
        self.saturation.setValue(settings.saturation)
        self.legend = ColourLegend()

        length_row = QHBoxLayout()
        length_row.addWidget(self.length_ms)
        length_row.addWidget(self.length_events)
        form = QFormLayout()
        form.addRow("Shows", self.mode_combo)
        form.addRow("Last", length_row)
        form.addRow("Frame rate", self.fps)
        form.addRow("Colours", self.scheme_combo)
        form.addRow("Decay τ", self.decay_ms)
        form.addRow("White at", self.saturation)
        box_layout = QVBoxLayout()
        box_layout.addLayout(form)
        box_layout.addWidget(self.legend)
        box = QGroupBox("View")
        box.setLayout(box_layout)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)
        self._show_for_choices()
        for signal in (self.mode_combo.currentIndexChanged, self.scheme_combo.currentIndexChanged):
            signal.connect(self._edited)
        for spin in (self.length_ms, self.length_events, self.fps, self.decay_ms, self.saturation):
            spin.valueChanged.connect(self._edited)

    @property
    def settings(self) -> DisplaySettings:
        return self._settings

    def set_settings(self, settings: DisplaySettings) -> None:
        """Show ``settings`` in the controls and apply them (one change, not one per field)."""
        widgets = (self.mode_combo, self.length_ms, self.length_events, self.fps, self.scheme_combo,
                   self.decay_ms, self.saturation)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            by_events = settings.accumulation_events is not None
            self.mode_combo.setCurrentText(_BY_EVENTS if by_events else _BY_TIME)
            self.length_ms.setValue(settings.accumulation_ms)
            if by_events:
                self.length_events.setValue(settings.accumulation_events)
            self.fps.setValue(settings.fps)
            self.scheme_combo.setCurrentIndex(self.scheme_combo.findData(settings.scheme))
            self.decay_ms.setValue(settings.decay_ms)
            self.saturation.setValue(settings.saturation)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._edited()

    def _read(self) -> DisplaySettings:
        by_events = self.mode_combo.currentText() == _BY_EVENTS
        return self._settings.replace(
            accumulation_ms=self.length_ms.value(),
            accumulation_events=self.length_events.value() if by_events else None,
            fps=self.fps.value(), scheme=self.scheme_combo.currentData(),
            decay_ms=self.decay_ms.value(), saturation=self.saturation.value())

    def _show_for_choices(self) -> None:
        s = self._settings
        self.length_events.setVisible(s.accumulation_events is not None)
        self.length_ms.setVisible(s.accumulation_events is None)
        self.decay_ms.setEnabled(s.scheme == "time_surface")
        self.saturation.setEnabled(s.scheme == "event_count")
        self.legend.set_scheme(s.scheme, s.decay_ms, s.saturation)

    @Slot()
    def _edited(self) -> None:
        settings = self._read()
        if settings == self._settings:
            return
        self._settings = settings
        self._show_for_choices()
        self.settingsChanged.emit(settings)
