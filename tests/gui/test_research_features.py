"""Researcher features of the window, through the real window (offscreen) on real
recordings: ROI-restricted recognition, the Record button, opening another source,
the movable/hideable overlay with its threshold, the event-rate plot, remembered controls."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QPoint, Qt

from ezsr_live.drivers import open_reader
from ezsr_live.events import Roi
from ezsr_live.kernels import ezsr_model_input

from .conftest import DEMO, pipeline_threads

WAIT_MS = 20_000


def _record_results(window) -> list:
    seen: list = []
    window.resultShown.connect(seen.append)
    return seen


def _pause(qtbot, window) -> None:
    window.controls.toggle_pause()
    qtbot.waitUntil(lambda: window.pipeline.source.holding, timeout=WAIT_MS)
    qtbot.wait(400)  # the last window before the pause may still be on its way


def _step(qtbot, window, results: list):
    before = len(results)
    window.controls.request_step()
    qtbot.waitUntil(lambda: len(results) == before + 1, timeout=WAIT_MS)
    qtbot.wait(200)
    assert len(results) == before + 1
    return results[-1]


def _recognise_by_hand(pipeline, events, geometry):
    """The recogniser's own answer on a frame built from ``events`` as a sensor of ``geometry``."""
    frame = ezsr_model_input(events, geometry, size=pipeline.recognizer.input_size)
    predictions = pipeline.recognizer.recognize(torch.from_numpy(frame)[None], k=pipeline.settings.top_k)[0]
    return [(p.label, float(p.probability)) for p in predictions]


def _same_topk(result, expected) -> bool:
    return ([label for label, _ in result.topk] == [label for label, _ in expected]
            and np.allclose([p for _, p in result.topk], [p for _, p in expected], atol=1e-5))


def test_a_roi_drawn_on_the_view_restricts_recognition_to_the_cropped_box(qtbot, make_window):
    window = make_window("--window-events", "4000")
    pipeline = window.pipeline
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=WAIT_MS)
    _pause(qtbot, window)
    window.activateWindow()
    window.event_view.setFocus()

    qtbot.keyClick(window, Qt.Key.Key_R)  # draws a box over the middle of the sensor
    item = window.roi_control._item
    assert item is not None and window.roi_control.action.isChecked()
    item.setPos((37, 21))  # then the user drags and resizes it
    item.setSize((150, 120))  # (the drag's end: sigRegionChangeFinished)
    roi = Roi(37, 21, 150, 120)
    qtbot.waitUntil(lambda: window.roi_control.roi == roi, timeout=WAIT_MS)

    boxed = _step(qtbot, window, results)
    window_events = pipeline.ring.newest(pipeline.settings.window)
    assert pipeline.settings.roi == roi and len(window_events) == boxed.n_events == 4000
    events = window_events.events
    inside = (events["x"] >= 37) & (events["x"] < 187) & (events["y"] >= 21) & (events["y"] < 141)
    assert 0 < inside.sum() < len(events)  # the box holds some of the window, not all
    crop = events[inside].copy()
    crop["x"] -= 37
    crop["y"] -= 21
    assert _same_topk(boxed, _recognise_by_hand(pipeline, crop, (150, 120)))
    assert not _same_topk(boxed, _recognise_by_hand(pipeline, events, pipeline.geometry))

    qtbot.keyClick(window, Qt.Key.Key_R)  # removes it: the whole sensor again
    assert window.roi_control.roi is None and window.roi_control._item is None
    whole = _step(qtbot, window, results)
    assert pipeline.settings.roi is None
    events = pipeline.ring.newest(pipeline.settings.window).events
    assert _same_topk(whole, _recognise_by_hand(pipeline, events, pipeline.geometry))


def test_shift_drag_on_the_view_draws_a_roi_from_corner_to_corner(qtbot, make_window):
    window = make_window()
    view = window.event_view
    qtbot.waitUntil(lambda: view.frames_painted > 0, timeout=WAIT_MS)
    viewport = view.graphics.viewport()

    def on_screen(x: float, y: float) -> QPoint:
        from PySide6.QtCore import QPointF

        return view.graphics.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y)))

    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, shift, on_screen(50, 40))
    qtbot.mouseMove(viewport, on_screen(120, 90))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, shift, on_screen(250, 200))
    roi = window.roi_control.roi
    assert roi is not None and window.roi_control.action.isChecked()
    # a screen pixel is more than a sensor pixel here: the corners land within one of them
    assert abs(roi.x - 50) <= 1 and abs(roi.y - 40) <= 1 and abs(roi.width - 200) <= 2 and abs(roi.height - 160) <= 2
    qtbot.waitUntil(lambda: window.pipeline.settings.roi == roi, timeout=WAIT_MS)
    assert view.fitted  # the drag drew; it did not pan the view


def test_a_roi_given_as_an_option_is_drawn_and_used(qtbot, make_window):
    window = make_window("--roi", "10,20,100,80")
    assert window.roi_control.roi == Roi(10, 20, 100, 80) == window.pipeline.settings.roi
    assert window.roi_control.item_rect() == (10, 20, 100, 80)


def test_the_record_button_records_exactly_what_the_source_delivered(qtbot, make_window, tmp_path):
    window = make_window()
    pipeline = window.pipeline
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=WAIT_MS)
    _pause(qtbot, window)
    delivered: list[np.ndarray] = []
    pipeline.add_tap(lambda packet: delivered.append(packet.copy()))
    path = tmp_path / "clip.aedat4"
    window.recording.choose_path = lambda: str(path)
    qtbot.mouseClick(window.recording.button, Qt.MouseButton.LeftButton)
    assert window.recording.recording and window.recording.button.text() == "Stop recording"
    for _ in range(3):
        _step(qtbot, window, results)
    qtbot.mouseClick(window.recording.button, Qt.MouseButton.LeftButton)
    assert not window.recording.recording
    sent = np.concatenate(delivered)
    assert len(sent) > 1000
    assert window.message.full_text() == f"recorded {len(sent):,} events to {path}"
    with open_reader(path) as reader:
        assert (reader.geometry.width, reader.geometry.height) == (346, 260)
        recorded = np.concatenate(list(reader))
    for name in ("t", "x", "y", "p"):
        assert np.array_equal(recorded[name], sent[name]), name


def test_recording_into_an_unwritable_place_says_so_in_one_line(qtbot, make_window, tmp_path):
    window = make_window()
    window.recording.choose_path = lambda: str(tmp_path / "no" / "such" / "dir" / "clip.aedat4")
    qtbot.mouseClick(window.recording.button, Qt.MouseButton.LeftButton)
    assert not window.recording.recording and window.recording.button.text() == "Record"
    text = window.message.full_text()
    assert text.startswith("cannot record:") and "\n" not in text
    assert window.pipeline.running


def test_open_recording_switches_the_running_window_to_another_file(qtbot, make_window, samples_dir):
    window = make_window()
    old = window.pipeline
    qtbot.waitUntil(lambda: window.n_results >= 2, timeout=WAIT_MS)

    window.switcher.choose_recording = lambda: str(samples_dir / "no_such_file.raw")
    window.switcher.recording_action.trigger()
    text = window.message.full_text()
    assert text.startswith("cannot open") and "no_such_file.raw" in text and "\n" not in text
    shown = window.n_results
    qtbot.waitUntil(lambda: window.n_results >= shown + 2, timeout=WAIT_MS)  # the old source goes on
    assert window.pipeline is old and old.running

    window.switcher.choose_camera = lambda: "nosuchcamera"
    window.switcher.camera_action.trigger()
    assert window.message.full_text().startswith("cannot open nosuchcamera") and old.running

    second = samples_dir / "dvxplorer_320x240.aedat4"
    window.switcher.choose_recording = lambda: str(second)
    window.switcher.recording_action.trigger()
    assert window.pipeline is not old and not old.running
    new = window.pipeline
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2 and window.event_view.frames_painted > 0
                    and window.event_view.image_item.image.shape == (240, 320, 3), timeout=WAIT_MS)
    assert window.status_fields["source"].toolTip() == "dvxplorer_320x240.aedat4 320×240"
    assert "dvxplorer_320x240.aedat4" in window.windowTitle()
    assert new.source.info.name.endswith("dvxplorer_320x240.aedat4")
    assert sorted(pipeline_threads()) == ["ezsr-source", "ezsr-worker"]  # the old ones ended
    window.close()
    assert pipeline_threads() == []


SWITCHED_TO = "dvxplorer_320x240.aedat4"


def _switch_and_check_the_recording(qtbot, window, path, delivered: list, samples_dir) -> None:
    """Open another recording; the running one must be finished then: button off, the
    status bar saying where it went and why, the file holding exactly what was delivered."""
    second = str(samples_dir / SWITCHED_TO)
    assert window.switcher.open(second, replay=True)
    button = window.recording.button
    assert not window.recording.recording and not button.isChecked() and button.text() == "Record"
    sent = np.concatenate(delivered)
    assert len(sent) > 1000
    assert window.message.full_text() == (
        f"opened {second}; recording stopped (another source was opened; it cannot go on into the same file): "
        f"{len(sent):,} events saved to {path}")
    with open_reader(path) as reader:  # complete now, while the window runs on
        assert (reader.geometry.width, reader.geometry.height) == (346, 260)
        recorded = np.concatenate(list(reader))
    for name in ("t", "x", "y", "p"):
        assert np.array_equal(recorded[name], sent[name]), name
    size = path.stat().st_size
    new = window.pipeline
    qtbot.waitUntil(lambda: new.events_in > 10_000, timeout=WAIT_MS)
    assert path.stat().st_size == size  # the new source's events go nowhere
    assert window.message.full_text().endswith(f"saved to {path}")  # no timeout took the message away


def test_opening_another_source_finishes_the_command_line_recording(qtbot, tiny_model_name, tmp_path,
                                                                     samples_dir):
    from ezsr_live.cli.live import build_parser, build_run
    from ezsr_live.gui.main_window import MainWindow

    from .conftest import LABELS, model_args

    path = tmp_path / "recorded.aedat4"
    args = build_parser().parse_args(["--replay", str(DEMO), "--loop", *model_args(tiny_model_name),
                                      "--labels", LABELS, "--record", str(path)])
    run = build_run(args)
    delivered: list[np.ndarray] = []
    run.pipeline.add_tap(lambda packet: delivered.append(packet.copy()))  # from the first packet, as --record
    window = MainWindow(run.pipeline, recording=run.recorder)
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        button = window.recording.button
        assert window.recording.recording and button.isChecked() and button.text() == "Stop recording"
        qtbot.waitUntil(lambda: window.n_results >= 2, timeout=WAIT_MS)
        assert not window.switcher.open(str(samples_dir / "no_such_file.raw"), replay=True)
        assert window.recording.recording  # nothing replaced, nothing stopped
        _switch_and_check_the_recording(qtbot, window, path, delivered, samples_dir)
    finally:
        window.close()
        run.close()
    assert run.pipeline.error is None


def test_the_window_shows_a_command_line_recording_on_its_record_button(qtbot, tiny_model_name, tmp_path):
    import ezsr_live.gui.app as app_module
    from ezsr_live.cli.live import build_parser, run_gui

    from .conftest import LABELS, model_args

    path = tmp_path / "recorded.aedat4"
    args = build_parser().parse_args(["--replay", str(DEMO), *model_args(tiny_model_name), "--labels", LABELS,
                                      "--record", str(path), "--max-results", "3"])
    seen = {}
    original = app_module.MainWindow

    class Spy(original):  # type: ignore[misc, valid-type]
        def start(self):
            super().start()
            seen["button"] = (self.recording.recording, self.recording.button.text())

    app_module.MainWindow = Spy
    try:
        assert run_gui(args) == 0
    finally:
        app_module.MainWindow = original
    assert seen["button"] == (True, "Stop recording")
    with open_reader(path) as reader:  # finished when the window closed
        assert sum(len(packet) for packet in reader) > 1000


def test_opening_another_source_finishes_the_record_buttons_recording(qtbot, make_window, tmp_path, samples_dir):
    window = make_window()
    results = _record_results(window)
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=WAIT_MS)
    _pause(qtbot, window)
    delivered: list[np.ndarray] = []
    window.pipeline.add_tap(lambda packet: delivered.append(packet.copy()))
    path = tmp_path / "clip.aedat4"
    window.recording.choose_path = lambda: str(path)
    qtbot.mouseClick(window.recording.button, Qt.MouseButton.LeftButton)
    assert window.recording.recording
    for _ in range(2):
        _step(qtbot, window, results)
    _switch_and_check_the_recording(qtbot, window, path, delivered, samples_dir)


def test_overlay_threshold_says_none_of_these_and_the_overlay_moves_and_hides(qtbot, make_window):
    window = make_window("--threshold", "0.99")
    overlay, control = window.overlay, window.overlay_control
    assert control.threshold == 0.99 == window.pipeline.settings.min_confidence
    qtbot.waitUntil(lambda: window.n_results >= 2, timeout=WAIT_MS)
    # five labels on a random tiny model: the best is far below 99 %
    assert overlay.none_of_these and overlay.shown_labels() == []
    assert overlay.shown_note().startswith("none of these")
    control.threshold_spin.setValue(0.0)
    qtbot.waitUntil(lambda: len(overlay.shown_labels()) == 5, timeout=WAIT_MS)
    assert not overlay.none_of_these
    qtbot.waitUntil(lambda: window.pipeline.settings.min_confidence == 0.0, timeout=WAIT_MS)

    start = overlay.pos()
    qtbot.mousePress(overlay, Qt.MouseButton.LeftButton, pos=QPoint(20, 10))
    qtbot.mouseMove(overlay, QPoint(120, 90))
    qtbot.mouseRelease(overlay, Qt.MouseButton.LeftButton, pos=QPoint(120, 90))
    assert overlay.pos() == start + QPoint(100, 80)

    window.activateWindow()
    window.event_view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert not overlay.isVisible() and not control.show_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_O)
    assert overlay.isVisible()


def _counts_per_bin(events: np.ndarray, starts: np.ndarray, bin_us: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.append(starts, starts[-1] + bin_us)
    return (np.histogram(events["t"][events["p"] != 0], bins=edges)[0],
            np.histogram(events["t"][events["p"] == 0], bins=edges)[0])


def test_the_event_rate_plot_shows_the_recordings_on_and_off_counts_per_bin(qtbot, make_window):
    window = make_window(source=("--replay", str(DEMO), "--speed", "max"))
    dock = window.rate_dock
    assert not dock.isVisible()
    dock.toggleViewAction().trigger()  # View → Event rate
    qtbot.waitUntil(lambda: dock.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.pipeline.source.at_end, timeout=WAIT_MS)
    dock.refresh()
    with open_reader(DEMO) as reader:
        events = np.concatenate(list(reader))
    history = dock.shown_history
    bin_us = history.bin_us
    first, last = events["t"].min() // bin_us, events["t"].max() // bin_us
    assert list(history.start_us) == [b * bin_us for b in range(first, last + 1)]
    on, off = _counts_per_bin(events, history.start_us, bin_us)
    x_on, y_on = dock.on_curve.getData()
    x_off, y_off = dock.off_curve.getData()
    assert np.allclose(y_on, on * 1e6 / bin_us) and np.allclose(y_off, off * 1e6 / bin_us)
    assert on.sum() + off.sum() == len(events)
    assert np.all(np.diff(x_on) > 0) and x_on[-1] < 0 and np.array_equal(x_on, x_off)


def test_every_control_is_remembered_between_runs(qtbot, make_window, tmp_path, private_settings):
    from ezsr_live.gui.persistence import RESTORABLE
    from ezsr_live.windows import WindowSpec

    window = make_window()
    qtbot.waitUntil(lambda: window.n_results >= 1, timeout=WAIT_MS)
    window.controls.top_k.setValue(3)
    window.overlay_control.threshold_spin.setValue(0.35)
    window.roi_control.set_roi(Roi(5, 6, 200, 100))
    window.controls.set_window_spec(WindowSpec.by_events(3000))
    window.controls.select_speed(2.0)
    window.overlay_control.set_visible(False)
    window.overlay.move(QPoint(40, 50))
    window.rate_dock.show()
    labels_file = tmp_path / "labels.txt"
    assert window.editor.save_file(str(labels_file))
    window.resize(700, 900)  # (Qt's offscreen screen is 800x600: a wider one would come back clamped)
    window.close()
    assert list(private_settings.rglob("*.ini"))  # a per-user file, here in the test's folder

    again = make_window(restore_controls=RESTORABLE)
    qtbot.waitUntil(lambda: again.n_results >= 1, timeout=WAIT_MS)
    assert again.controls.top_k.value() == 3 and again.pipeline.settings.top_k == 3
    assert again.overlay_control.threshold == 0.35
    assert again.roi_control.roi == Roi(5, 6, 200, 100) and again.roi_control.item_rect() == (5, 6, 200, 100)
    assert again.controls.window_spec() == WindowSpec.by_events(3000)
    assert again.controls.speed_combo.currentData() == 2.0 and again.pipeline.source.speed == 2.0
    assert not again.overlay.isVisible() and again.overlay.pos() == QPoint(40, 50)
    assert again.rate_dock.isVisible()
    assert again.editor.last_file == str(labels_file)
    assert again.width() == 700
    qtbot.waitUntil(lambda: again.pipeline.settings.roi == Roi(5, 6, 200, 100)
                    and again.pipeline.settings.min_confidence == 0.35
                    and again.pipeline.settings.window == WindowSpec.by_events(3000), timeout=WAIT_MS)
    again.close()

    # what the command line says wins over what was remembered
    from ezsr_live.cli.live import build_parser, remembered_controls

    args = build_parser().parse_args(["--replay", str(DEMO), "--top-k", "4", "--roi", "0,0,10,10"])
    assert remembered_controls(args) == set(RESTORABLE) - {"top_k", "roi"}
    third = make_window("--top-k", "4", restore_controls=remembered_controls(args))
    assert third.controls.top_k.value() == 4 and third.overlay_control.threshold == 0.35
