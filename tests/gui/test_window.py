"""The live window on a real replay with the tiny model (pytest-qt, offscreen)."""
from __future__ import annotations

import argparse
import configparser

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from ezsr_live.cli.live import build_parser, build_run, run_gui  # the window as ezsr-live runs it

from .conftest import DEMO, LABELS, model_args, pipeline_threads

WAIT_MS = 20_000  # generous: the CPU is shared; nothing here measures speed


def _labels_of(result) -> set[str]:
    return {label for label, _ in result.topk}


def _record_results(window) -> list:
    seen: list = []
    window.resultShown.connect(seen.append)
    return seen


def test_the_window_paints_event_frames_and_overlays_k_labels(qtbot, make_window):
    window = make_window("--top-k", "3")
    qtbot.waitUntil(lambda: window.event_view.frames_painted >= 3 and window.n_results >= 2, timeout=WAIT_MS)
    shown = window.overlay.shown_labels()
    assert len(shown) == 3 and set(shown) <= set(LABELS.split(","))
    probabilities = [p for _, p in window.overlay.shown_entries()]
    assert probabilities == sorted(probabilities, reverse=True)
    # the painted image is the rendered event frame: not all background
    image = window.event_view.shown_rgb()
    assert image.shape == (260, 346, 3) and (image != image[0, 0]).any()


def _frame_centre_offset(view) -> tuple[float, float]:
    """Pixels between the centre of the sensor frame on screen and the view's centre."""
    rect = view.image_item.mapRectToDevice(view.image_item.boundingRect())
    centre = view.graphics.viewport().rect().center()
    return rect.center().x() - centre.x(), rect.center().y() - centre.y()


def _whole_and_centred(view) -> bool:
    rect = view.image_item.mapRectToDevice(view.image_item.boundingRect())
    viewport = view.graphics.viewport().rect()
    fits = rect.width() <= viewport.width() + 1 and rect.height() <= viewport.height() + 1
    # fitted: it touches two opposite sides of the view
    touches = abs(rect.width() - viewport.width()) <= 2 or abs(rect.height() - viewport.height()) <= 2
    return fits and touches and all(abs(d) <= 2 for d in _frame_centre_offset(view))


def test_the_event_frame_stays_whole_and_centred_when_the_window_is_resized(qtbot, make_window):
    window = make_window()
    view = window.event_view
    # (700, 900): a view narrower than the frame's aspect, which the old fixed pan
    # limits could not fit (the frame overflowed it, 1143 px wide in 306)
    for size in ((1280, 720), (900, 1000), (700, 900), (1600, 600)):
        window.resize(*size)
        qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)
    window.centralWidget().setSizes([400, 880])  # the side panel dragged wider
    qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)


def _wheel(view, steps: int) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.graphics.viewport()
    centre = QPointF(viewport.rect().center())
    QApplication.sendEvent(viewport, QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(0, 0),
                                                 QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                                                 Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))


def test_wheel_zoom_is_undone_by_0_or_a_double_click_and_the_fit_then_follows_resizes(qtbot, make_window):
    window = make_window()
    view = window.event_view
    qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.event_view.setFocus()

    _wheel(view, 3)
    qtbot.waitUntil(lambda: not _whole_and_centred(view), timeout=WAIT_MS)
    assert not view.fitted
    qtbot.keyClick(window, Qt.Key.Key_0)
    qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)
    assert view.fitted

    _wheel(view, 2)
    qtbot.waitUntil(lambda: not view.fitted, timeout=WAIT_MS)
    viewport, centre = view.graphics.viewport(), view.graphics.viewport().rect().center()
    # what a double-click sends: press, release, double-click, release
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)
    window.resize(800, 950)
    qtbot.waitUntil(lambda: _whole_and_centred(view), timeout=WAIT_MS)
    assert window.fit_action.shortcut().toString() == "0"


def test_status_bar_shows_source_rates_latency_drops_and_model(qtbot, make_window):
    window = make_window()
    qtbot.waitUntil(lambda: window.n_results >= 2, timeout=WAIT_MS)
    window.refresh_status()
    text = {name: label.text() for name, label in window.status_fields.items()}
    assert "moving_disc.raw" in text["source"] and "346×260" in text["source"]
    assert "ev/s" in text["events"] and "results/s" in text["results"]
    assert "p50" in text["latency"] and "p99" in text["latency"]
    assert "win" in text["dropped"] and "ev" in text["dropped"]
    assert window.status_fields["model"].toolTip() == window.pipeline.recognizer.model_id
    # at the default window size every field shows its whole text
    qtbot.waitUntil(lambda: all(label.width() >= label.sizeHint().width() for label in window.status_fields.values()),
                    timeout=WAIT_MS)


def _shows_whole_or_elided(label) -> bool:
    """The label shows its whole text, a prefix ending in '…', or (no room left by the
    fields) nothing, within its width: never a glyph cut in half."""
    text, full = label.text(), label.full_text()
    fits = label.fontMetrics().horizontalAdvance(text) <= max(0, label.contentsRect().width())
    return fits and (text in (full, "") or (text.endswith("…") and full.startswith(text[:-1])))


def test_the_end_of_a_recording_is_said_whole_not_cut(qtbot, tiny_model_name):
    from ezsr_live.gui.main_window import MainWindow

    args = build_parser().parse_args(["--replay", str(DEMO), "--speed", "max", *model_args(tiny_model_name),
                                      "--labels", LABELS])
    pipeline = build_run(args).pipeline
    window = MainWindow(pipeline)
    qtbot.addWidget(window)
    ended = []
    window.pipelineEnded.connect(ended.append)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)
    message, overlay = window.message, window.overlay
    assert ended == ["source ended: end of recording"] == [message.full_text()]
    assert overlay.shown_note() == "recording ended: Home replays it"
    room = overlay.width() - 2 * overlay.PADDING - 12
    assert overlay.fontMetrics().horizontalAdvance(overlay.shown_note()) <= room  # drawn whole
    qtbot.waitUntil(lambda: message.text() == message.full_text(), timeout=WAIT_MS)  # whole at the default size
    assert _shows_whole_or_elided(message) and message.toolTip() == message.full_text()
    for width in (1100, 1000, 700):  # narrower: it ends in '…' (the tooltip and the overlay have it all)
        window.resize(width, 600)
        qtbot.waitUntil(lambda: _shows_whole_or_elided(message) and message.width() <= width, timeout=WAIT_MS)
    assert window.overlay.shown_note() == "recording ended: Home replays it"
    window.close()


def test_after_the_end_seek_speed_and_home_replay_the_recording(qtbot, tiny_model_name):
    from ezsr_live.gui.main_window import MainWindow

    args = build_parser().parse_args(["--replay", str(DEMO), "--speed", "max", *model_args(tiny_model_name),
                                      "--labels", LABELS])
    pipeline = build_run(args).pipeline
    window = MainWindow(pipeline)
    qtbot.addWidget(window)
    window.show()
    window.start()
    source, controls = pipeline.source, window.controls
    qtbot.waitUntil(lambda: source.at_end, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.overlay.shown_note().startswith("recording ended"), timeout=WAIT_MS)
    assert not pipeline.finished  # the window's session goes on at the end of the recording

    _choose_speed(controls, "0.25×")  # no longer silently ignored: the replay runs at it
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    window.event_view.setFocus()
    results = _record_results(window)
    qtbot.keyClick(window, Qt.Key.Key_Home)
    qtbot.waitUntil(lambda: not source.at_end and len(results) >= 2, timeout=WAIT_MS)
    assert source.speed == 0.25 and source.position_us < 1_000_000  # from the start, slowly
    qtbot.waitUntil(lambda: window.overlay.shown_note() == "" and window.message.full_text() == "",
                    timeout=WAIT_MS)
    window.close()


def test_labels_added_and_removed_in_the_editor_change_the_next_results(qtbot, make_window):
    window = make_window("--top-k", "10")
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=WAIT_MS)
    editor = window.editor

    qtbot.keyClicks(editor.input, "triangle")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert editor.input.text() == "" and editor.message_text() == ""
    qtbot.waitUntil(lambda: "triangle" in _labels_of(results[-1]), timeout=WAIT_MS)
    assert "triangle" in window.overlay.shown_labels()

    editor.list.setCurrentRow([label for label, _ in editor.entries()].index("square"))
    qtbot.mouseClick(editor.remove_button, Qt.MouseButton.LeftButton)
    expected = (set(LABELS.split(",")) - {"square"}) | {"triangle"}
    qtbot.waitUntil(lambda: _labels_of(results[-1]) == expected, timeout=WAIT_MS)
    assert "square" not in window.overlay.shown_labels()


def test_empty_and_duplicate_labels_are_refused_with_an_inline_message(qtbot, make_window):
    window = make_window()
    editor = window.editor
    before = editor.entries()

    qtbot.keyClicks(editor.input, "   ")
    qtbot.keyClick(editor.input, Qt.Key.Key_Return)
    assert "empty" in editor.message_text() and editor.message.isVisibleTo(window)

    editor.input.clear()
    qtbot.keyClicks(editor.input, "Disc")
    qtbot.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    assert "already in the vocabulary" in editor.message_text()
    assert editor.input.text() == "Disc"  # kept, to be corrected
    assert editor.entries() == before

    # renaming onto an existing label is refused the same way
    item = editor.list.item(0)
    item.setText("bar")
    assert "already in the vocabulary" in editor.message_text()
    assert editor.entries() == before


def test_disabling_a_label_takes_it_out_of_the_results(qtbot, make_window):
    window = make_window("--top-k", "10")
    results = _record_results(window)
    editor = window.editor
    editor.list.item(1).setCheckState(Qt.CheckState.Unchecked)  # "square"
    assert ("square", False) in editor.entries()
    qtbot.waitUntil(lambda: bool(results) and _labels_of(results[-1]) == set(LABELS.split(",")) - {"square"},
                    timeout=WAIT_MS)


def test_space_pauses_the_replay_right_steps_the_next_window_and_space_resumes_from_there(qtbot, make_window):
    window = make_window()
    source = window.pipeline.source
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=WAIT_MS)
    window.activateWindow()
    window.event_view.setFocus()

    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.controls.paused and window.controls.step_button.isEnabled()
    # the recording itself stops, not only the picture: its clock holds
    qtbot.waitUntil(lambda: source.holding, timeout=WAIT_MS)
    qtbot.wait(400)  # the last window before the pause may still be on its way
    position, paused_at = source.position_us, len(results)
    qtbot.wait(1200)
    assert source.position_us == position and len(results) == paused_at
    # the note stays while the last result arrived and after
    assert window.overlay.shown_note().startswith("paused")

    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: len(results) == paused_at + 1, timeout=WAIT_MS)
    qtbot.wait(400)
    assert len(results) == paused_at + 1  # exactly one window...
    # ...the next one (50 ms of event time on), not the newest
    assert 49_000 < results[-1].t_us - results[-2].t_us <= 50_000
    assert window.overlay.shown_note().startswith("paused")

    stepped = results[-1]
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.controls.paused
    qtbot.waitUntil(lambda: len(results) >= paused_at + 3, timeout=WAIT_MS)
    # it continues from the step: no jump over the time spent paused
    assert 0 < results[paused_at + 1].t_us - stepped.t_us < 500_000
    assert window.overlay.shown_note() == ""


def test_ctrl_q_quits(qtbot, make_window):
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)  # shortcuts act in the active window
    window.event_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)


def _choose_speed(controls, text: str) -> None:
    controls.speed_combo.setCurrentIndex(controls.speed_combo.findText(text))


def test_the_speed_control_changes_the_replay_pace_while_running(qtbot, make_window):
    window = make_window()
    source, controls = window.pipeline.source, window.controls
    assert controls.speed_combo.isEnabled() and controls.speed_combo.currentText() == "1×"
    qtbot.waitUntil(lambda: window.n_results >= 1, timeout=WAIT_MS)
    _choose_speed(controls, "max")
    assert source.speed is None
    # 20 passes of the 2 s recording: 40 s at 1x, far less as fast as possible
    qtbot.waitUntil(lambda: source.passes >= 20, timeout=WAIT_MS)
    _choose_speed(controls, "0.25×")
    assert source.speed == 0.25
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=WAIT_MS)  # still running at the new pace


def test_typing_a_position_seeks_in_the_recording(qtbot, make_window):
    window = make_window()
    source, controls = window.pipeline.source, window.controls
    assert controls.seek_slider.isEnabled() and controls.seek_spin.isEnabled()
    # the slider spans the whole 2 s recording long before the first pass has ended
    qtbot.waitUntil(lambda: controls.seek_slider.maximum() == 1999, timeout=WAIT_MS)
    assert source.passes == 0
    qtbot.waitUntil(lambda: source.position_us > 1_200_000, timeout=WAIT_MS)
    passes = source.passes
    controls.seek_spin.setFocus()
    controls.seek_spin.selectAll()
    qtbot.keyClicks(controls.seek_spin, "0.2")
    qtbot.keyClick(controls.seek_spin, Qt.Key.Key_Return)
    window.event_view.setFocus()
    window._show_position()
    assert 200 <= controls.seek_slider.value() < 300  # at once, not the old place until the replay gets there
    # back near 0.2 s within the same pass: the seek, not the loop starting over
    qtbot.waitUntil(lambda: 200_000 <= source.position_us < 900_000 and source.passes == passes, timeout=WAIT_MS)
    window.event_view.setFocus()
    window.refresh_status()
    assert 200 <= controls.seek_slider.value() < 1_200  # the slider follows (ms), the replay running on
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=WAIT_MS)  # windows keep coming after the seek


def test_closing_the_window_stops_every_thread_within_two_seconds(qtbot, make_window, capfd):
    window = make_window()
    qtbot.waitUntil(lambda: window.event_view.frames_painted >= 1 and window.n_results >= 1, timeout=WAIT_MS)
    assert pipeline_threads() and window.renderer.isRunning()
    window.close()
    qtbot.waitUntil(lambda: not pipeline_threads(), timeout=2000)
    # a finished QThread can be destroyed safely: no "QThread: Destroyed while thread is still running"
    assert window.renderer.isFinished() and not window.pipeline.running
    assert "QThread" not in capfd.readouterr().err


def test_the_screenshot_action_saves_the_window_as_png(qtbot, make_window, tmp_path):
    window = make_window()
    qtbot.waitUntil(lambda: window.event_view.frames_painted >= 1, timeout=WAIT_MS)
    path = tmp_path / "shot.png"
    assert window.save_screenshot(path)
    image = QImage(str(path))
    assert not image.isNull() and (image.width(), image.height()) == (window.width(), window.height())
    assert window.screenshot_action.text().startswith("Save &screenshot")


def _app_args(tiny_model_name: str, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["--replay", str(DEMO), "--loop", *model_args(tiny_model_name), *extra])


def test_run_app_saves_a_screenshot_after_the_first_results_and_exits(qtbot, tiny_model_name, tmp_path,
                                                                       private_settings):
    path = tmp_path / "window.png"
    args = _app_args(tiny_model_name, "--labels", LABELS, "--smooth", "3", "--screenshot", str(path))
    assert run_gui(args) == 0
    assert not QImage(str(path)).isNull()
    assert not pipeline_threads()
    # the window remembered its vocabulary for the next run
    ini = configparser.ConfigParser()
    ini.read(next(private_settings.rglob("*.ini")))
    assert "star" in ini["vocabulary"]["labels"]


def test_run_app_restores_the_last_vocabulary_unless_labels_are_given(qtbot, tiny_model_name):
    assert run_gui(_app_args(tiny_model_name, "--labels", "cat,dog", "--max-results", "2")) == 0
    args = _app_args(tiny_model_name, "--max-results", "2", "--top-k", "5")  # default labels
    import ezsr_live.gui.app as app_module

    seen = {}
    original = app_module.MainWindow

    class Spy(original):  # type: ignore[misc, valid-type]
        # the editor is built once the model (loaded in the background) is attached
        def attach_recognizer(self, recognizer):
            super().attach_recognizer(recognizer)
            seen["labels"] = self.editor.active_labels()

    app_module.MainWindow = Spy
    try:
        assert run_gui(args) == 0
    finally:
        app_module.MainWindow = original
    assert seen["labels"] == ["cat", "dog"]
