"""Run controls: pause/step, replay speed and seek, window mode and length, top-k, k-NN.

The panel only emits what the user chose; the main window applies it to the pipeline.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ezsr_live.settings import (
    DEFAULT_WINDOW_EVENTS,
    DEFAULT_WINDOW_MS,
    KNN_K,
    KNN_K_SETTING,
    SPEED,
    START_US,
    TOP_K,
    WINDOW_EVENTS,
    WINDOW_MS,
    Setting,
)
from ezsr_live.windows import WindowSpec

#: replay speeds offered (None = as fast as possible)
SPEEDS: tuple[tuple[str, float | None], ...] = tuple(
    (text, SPEED.check(value)) for text, value in (
        ("0.1×", 0.1), ("0.25×", 0.25), ("0.5×", 0.5), ("1×", 1.0), ("2×", 2.0), ("4×", 4.0), ("max", None)))
_MODE_TIME, _MODE_EVENTS = "milliseconds", "events"


def limit_spin_box(spin: QSpinBox | QDoubleSpinBox, setting: Setting, scale: float = 1.0) -> None:
    """The spin box's range, step and decimals from the setting's declaration: the box
    offers exactly the values the command line and the config file accept (an open
    lower bound becomes its smallest step above)."""
    rng = setting.range
    assert rng is not None and rng.lo is not None and rng.hi is not None, setting.name
    lo = rng.lo * scale
    if isinstance(spin, QDoubleSpinBox):
        spin.setDecimals(setting.decimals)
        if rng.lo_open:
            lo += 10.0 ** -setting.decimals
        spin.setRange(lo, rng.hi * scale)
    else:
        spin.setRange(int(lo) + (1 if rng.lo_open else 0), int(rng.hi * scale))
    if setting.step is not None:
        spin.setSingleStep(setting.step)


class ControlPanel(QWidget):
    """Widgets for the runtime settings; see the module docstring."""

    pauseToggled = Signal(bool)
    stepRequested = Signal()
    windowChanged = Signal(object)  # WindowSpec
    topKChanged = Signal(int)
    knnChanged = Signal(bool, int)
    speedChanged = Signal(object)  # float, or None for 'max'
    seekRequested = Signal(int)  # µs after the recording's first event

    def __init__(
        self,
        window: WindowSpec,
        top_k: int,
        *,
        device: str,
        knn_available: bool,
        knn_enabled: bool = True,
        knn_k: int = KNN_K,
        speed: float | None = None,
        speed_adjustable: bool = False,
        seekable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("pause/resume (Space)")
        self.pause_button.toggled.connect(self._pause_toggled)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("one window while paused (Right)")
        self.step_button.setEnabled(False)
        self.step_button.clicked.connect(self.stepRequested)

        self.speed_combo = QComboBox()
        for text, value in SPEEDS:
            self.speed_combo.addItem(text, value)
        known = [value for _, value in SPEEDS]
        if speed not in known:
            self.speed_combo.addItem(f"{speed:g}×", speed)
        self.speed_combo.setCurrentIndex(self.speed_combo.findData(speed) if speed is not None
                                         else len(SPEEDS) - 1)
        self.speed_combo.setEnabled(speed_adjustable)
        self.speed_combo.currentIndexChanged.connect(self._speed_chosen)

        # seek: the slider spans the recording (as far as its measured or replayed span
        # goes); the spin box takes any position, in seconds
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setRange(0, 0)
        self.seek_slider.setToolTip("drag to seek in the recording")
        self.seek_slider.sliderReleased.connect(self._slider_released)
        self.seek_spin = QDoubleSpinBox()
        limit_spin_box(self.seek_spin, START_US, 1e-6)  # µs → s
        self.seek_spin.setDecimals(2)
        self.seek_spin.setSingleStep(0.5)
        self.seek_spin.setSuffix(" s")
        self.seek_spin.setKeyboardTracking(False)
        self.seek_spin.setToolTip("position in the recording; type one and press Enter to seek")
        self.seek_spin.editingFinished.connect(self._spin_edited)
        for widget in (self.seek_slider, self.seek_spin):
            widget.setEnabled(seekable)
        self._shown_position_s = 0.0

        self.mode_combo = QComboBox()
        self.mode_combo.addItems([_MODE_TIME, _MODE_EVENTS])
        self.length_ms = QDoubleSpinBox()
        limit_spin_box(self.length_ms, WINDOW_MS)
        self.length_ms.setSuffix(" ms")
        self.length_events = QSpinBox()
        limit_spin_box(self.length_events, WINDOW_EVENTS)
        self.length_events.setGroupSeparatorShown(True)
        self.length_events.setSuffix(" events")
        if window.n_events is not None:
            self.mode_combo.setCurrentText(_MODE_EVENTS)
            self.length_events.setValue(window.n_events)
            self.length_ms.setValue(DEFAULT_WINDOW_MS)
        else:
            self.length_ms.setValue(window.span_us / 1000.0)
            self.length_events.setValue(DEFAULT_WINDOW_EVENTS)
        self._show_length_for_mode()
        self.mode_combo.currentIndexChanged.connect(self._window_edited)
        self.length_ms.editingFinished.connect(self._window_edited)
        self.length_events.editingFinished.connect(self._window_edited)

        self.top_k = QSpinBox()
        limit_spin_box(self.top_k, TOP_K)
        self.top_k.setValue(top_k)
        self.top_k.valueChanged.connect(self.topKChanged)

        self.knn_check = QCheckBox("k-NN translation")
        self.knn_check.setChecked(knn_available and knn_enabled)
        self.knn_check.setEnabled(knn_available)
        if not knn_available:
            self.knn_check.setToolTip("no pool loaded (--knn-pool)")
        self.knn_k = QSpinBox()
        limit_spin_box(self.knn_k, KNN_K_SETTING)
        self.knn_k.setValue(knn_k)
        self.knn_k.setPrefix("k = ")
        self.knn_k.setEnabled(knn_available)
        self.knn_check.toggled.connect(self._knn_edited)
        self.knn_k.valueChanged.connect(self._knn_edited)

        self.device_label = QLabel(device)

        run_row = QHBoxLayout()
        run_row.addWidget(self.pause_button)
        run_row.addWidget(self.step_button)
        length_row = QHBoxLayout()
        length_row.addWidget(self.length_ms)
        length_row.addWidget(self.length_events)
        seek_row = QHBoxLayout()
        seek_row.addWidget(self.seek_slider, 1)
        seek_row.addWidget(self.seek_spin)
        knn_row = QHBoxLayout()
        knn_row.addWidget(self.knn_check)
        knn_row.addWidget(self.knn_k)
        form = QFormLayout()
        form.addRow("Run", run_row)
        form.addRow("Replay speed", self.speed_combo)
        form.addRow("Position", seek_row)
        form.addRow("Window", self.mode_combo)
        form.addRow("Length", length_row)
        form.addRow("Top-k", self.top_k)
        form.addRow("k-NN", knn_row)
        form.addRow("Device", self.device_label)
        box = QGroupBox("Controls")
        box.setLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

    # -- reading -------------------------------------------------------------------
    def set_model(self, device: str, *, knn_available: bool, knn_k: int | None = None) -> None:
        """Show the recogniser once it has loaded: its device and whether k-NN is there."""
        self.device_label.setText(device)
        if knn_k is not None:
            self.knn_k.setValue(knn_k)
        self.knn_check.setEnabled(knn_available)
        self.knn_k.setEnabled(knn_available)
        self.knn_check.setToolTip("" if knn_available else "no pool loaded (--knn-pool)")

    @property
    def paused(self) -> bool:
        return self.pause_button.isChecked()

    def window_spec(self) -> WindowSpec:
        if self.mode_combo.currentText() == _MODE_EVENTS:
            return WindowSpec.by_events(self.length_events.value())
        return WindowSpec.by_time_ms(self.length_ms.value())

    def set_window_spec(self, spec: WindowSpec) -> None:
        """Show ``spec`` and apply it (as if the user had typed it)."""
        if spec.n_events is not None:
            self.mode_combo.setCurrentText(_MODE_EVENTS)
            self.length_events.setValue(spec.n_events)
        else:
            self.mode_combo.setCurrentText(_MODE_TIME)
            self.length_ms.setValue(spec.duration_us / 1000.0)
        self._window_edited()

    def select_speed(self, speed: float | None) -> bool:
        """Choose one of the offered speeds (None: 'max'); False if it is not offered."""
        index = self.speed_combo.findData(speed) if speed is not None else len(SPEEDS) - 1
        if index < 0:
            return False
        self.speed_combo.setCurrentIndex(index)
        return True

    def set_source_capabilities(self, *, speed: float | None, speed_adjustable: bool, seekable: bool) -> None:
        """Another source: its speed, and whether it has a speed and a position at all."""
        self.speed_combo.blockSignals(True)
        self.select_speed(speed)
        self.speed_combo.blockSignals(False)
        self.speed_combo.setEnabled(speed_adjustable)
        for widget in (self.seek_slider, self.seek_spin):
            widget.setEnabled(seekable)
        self.seek_slider.setRange(0, 0)

    def show_position(self, position_us: int, span_us: int) -> None:
        """Follow the replay's position, unless the user is choosing one right now."""
        if self.seek_slider.isSliderDown() or self.seek_spin.hasFocus():
            return
        position_ms, span_ms = position_us // 1000, max(span_us, position_us) // 1000
        self.seek_slider.blockSignals(True)
        self.seek_slider.setRange(0, span_ms)
        self.seek_slider.setValue(position_ms)
        self.seek_slider.blockSignals(False)
        self._shown_position_s = round(position_ms / 1000.0, self.seek_spin.decimals())
        self.seek_spin.blockSignals(True)
        self.seek_spin.setValue(self._shown_position_s)
        self.seek_spin.blockSignals(False)

    # -- slots ---------------------------------------------------------------------
    @Slot()
    def _slider_released(self) -> None:
        self.seekRequested.emit(self.seek_slider.value() * 1000)

    @Slot()
    def _spin_edited(self) -> None:
        # editingFinished also comes when the box merely loses focus: seek only if the
        # user changed the shown position
        value = self.seek_spin.value()
        if value != self._shown_position_s:
            self._shown_position_s = value
            self.seekRequested.emit(int(round(value * 1e6)))

    @Slot(bool)
    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.step_button.setEnabled(paused)
        self.pauseToggled.emit(paused)

    @Slot()
    def toggle_pause(self) -> None:
        self.pause_button.toggle()

    @Slot()
    def request_step(self) -> None:
        if self.paused:
            self.stepRequested.emit()

    @Slot()
    def _window_edited(self) -> None:
        self._show_length_for_mode()
        self.windowChanged.emit(self.window_spec())

    @Slot()
    def _knn_edited(self) -> None:
        self.knnChanged.emit(self.knn_check.isChecked(), self.knn_k.value())

    @Slot(int)
    def _speed_chosen(self, index: int) -> None:
        self.speedChanged.emit(self.speed_combo.itemData(index))

    def _show_length_for_mode(self) -> None:
        by_events = self.mode_combo.currentText() == _MODE_EVENTS
        self.length_events.setVisible(by_events)
        self.length_ms.setVisible(not by_events)
