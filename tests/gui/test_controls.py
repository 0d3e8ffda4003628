"""The control panel offers exactly the values the command line and the config file
accept: its limits come from the settings' declarations, not from literals of its own."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from ezsr_live.gui.controls import SPEEDS, ControlPanel  # noqa: E402
from ezsr_live.runtime.settings import check_changes, check_window  # noqa: E402
from ezsr_live.settings import (  # noqa: E402
    KNN_K_SETTING,
    SPEED,
    START_US,
    TOP_K,
    WINDOW_EVENTS,
    WINDOW_MS,
    SettingError,
)
from ezsr_live.windows import WindowSpec  # noqa: E402


@pytest.fixture
def panel(qtbot):
    widget = ControlPanel(WindowSpec.by_time_ms(50.0), 5, device="cpu", knn_available=True, speed=1.0,
                          speed_adjustable=True, seekable=True)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_each_spin_box_spans_exactly_the_declared_range(panel):
    for box, setting in ((panel.length_ms, WINDOW_MS), (panel.length_events, WINDOW_EVENTS),
                         (panel.top_k, TOP_K), (panel.knn_k, KNN_K_SETTING)):
        rng = setting.range
        assert (box.minimum(), box.maximum()) == (rng.lo, rng.hi), setting.name
        step = 1 if setting.kind is int else 10.0 ** -box.decimals()
        setting.check(box.minimum())  # the ends are accepted ...
        setting.check(box.maximum())
        for beyond in (box.minimum() - step, box.maximum() + step):  # ... a step beyond them is refused
            with pytest.raises(SettingError):
                setting.check(beyond)
    # the seek box (seconds) reaches no further than a replay accepts (µs)
    START_US.check(int(panel.seek_spin.maximum() * 1e6))


def _type_into(qtbot, box, text: str) -> None:
    box.setFocus()
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)


@pytest.mark.parametrize("text", ["5000000", "9999999", "0"])
def test_typing_a_window_the_command_line_refuses_never_reaches_the_pipeline(qtbot, panel, text):
    panel.mode_combo.setCurrentText("events")
    chosen = []
    panel.windowChanged.connect(chosen.append)
    _type_into(qtbot, panel.length_events, text)
    assert 1 <= panel.length_events.value() <= WINDOW_EVENTS.range.hi
    for spec in chosen + [panel.window_spec()]:
        check_window(spec)  # what the panel emits, the runtime accepts


@pytest.mark.parametrize("text", ["100000", "0"])
def test_typing_a_time_window_out_of_range_is_refused_by_the_box(qtbot, panel, text):
    _type_into(qtbot, panel.length_ms, text)
    assert WINDOW_MS.range.lo <= panel.length_ms.value() <= WINDOW_MS.range.hi
    check_window(panel.window_spec())


def test_top_k_and_k_nn_boxes_emit_only_accepted_values(qtbot, panel):
    seen = []
    panel.topKChanged.connect(lambda k: seen.append({"top_k": k}))
    panel.knnChanged.connect(lambda on, k: seen.append({"knn_enabled": on, "knn_k": k}))
    _type_into(qtbot, panel.top_k, "5000")
    _type_into(qtbot, panel.knn_k, "99999")
    assert panel.top_k.value() <= TOP_K.range.hi and panel.knn_k.value() <= KNN_K_SETTING.range.hi
    for change in seen:
        check_changes(change)


def test_offered_speeds_are_speeds_the_replay_accepts():
    for _, value in SPEEDS:
        assert SPEED.check(value) == value
