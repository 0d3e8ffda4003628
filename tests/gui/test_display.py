"""The view apart from recognition: its own accumulation, frame rate and colours."""
from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import Qt

from ezsr_live.kernels import ezsr_model_input
from ezsr_live.kernels.colour_schemes import BACKGROUND, SCHEMES, render_scheme
from ezsr_live.windows import WindowSpec

WAIT_MS = 20_000  # generous: the CPU is shared; nothing here measures speed
RECOGNITION_EVENTS = 15_000
VIEW_EVENTS = 2_000


def _lit_pixels(window) -> int:
    return int((window.event_view.shown_rgb() != BACKGROUND).any(axis=-1).sum())


def _recognised_by_the_model(window) -> list[tuple[str, float]]:
    """What the recogniser makes of the newest recognition window in the ring."""
    pipeline = window.pipeline
    events = pipeline.ring.newest(pipeline.settings.window).events
    frame = ezsr_model_input(events, pipeline.geometry, size=pipeline.recognizer.input_size)
    predictions = pipeline.recognizer.recognize(torch.from_numpy(frame)[None], k=pipeline.settings.top_k)[0]
    return [(p.label, p.probability) for p in predictions]


def _same_topk(result, expected) -> bool:
    return ([label for label, _ in result.topk] == [label for label, _ in expected]
            and np.allclose([p for _, p in result.topk], [p for _, p in expected], atol=1e-6))


def test_the_view_paints_its_accumulation_while_recognition_keeps_its_window(qtbot, make_window):
    window = make_window("--window-events", str(RECOGNITION_EVENTS), "--view-events", str(VIEW_EVENTS))
    results: list = []
    window.resultShown.connect(results.append)
    view = window.event_view
    qtbot.waitUntil(lambda: len(results) >= 2 and view.frames_painted >= 3, timeout=WAIT_MS)
    assert all(r.n_events == RECOGNITION_EVENTS for r in results)
    assert view.shown_frame.n_events == VIEW_EVENTS
    # the picture holds those 2,000 events, not the 15,000 recognised (some share a pixel)
    assert 0 < _lit_pixels(window) <= VIEW_EVENTS

    panel = window.display_panel
    panel.mode_combo.setCurrentText("milliseconds")
    panel.length_ms.setValue(5.0)
    assert window.renderer.settings.accumulation == WindowSpec.by_time_ms(5.0)
    qtbot.waitUntil(lambda: view.shown_frame.n_events not in (VIEW_EVENTS,) and view.frames_painted > 3,
                    timeout=WAIT_MS)
    n_before = len(results)
    qtbot.waitUntil(lambda: len(results) >= n_before + 2, timeout=WAIT_MS)
    assert all(r.n_events == RECOGNITION_EVENTS for r in results)
    assert window.pipeline.settings.window == WindowSpec.by_events(RECOGNITION_EVENTS)


def test_recognition_results_do_not_depend_on_the_view_settings(qtbot, make_window):
    window = make_window("--window-events", str(RECOGNITION_EVENTS), "--view-events", str(VIEW_EVENTS))
    results: list = []
    window.resultShown.connect(results.append)
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=WAIT_MS)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause: the ring then holds still
    source = window.pipeline.source
    qtbot.waitUntil(lambda: source.holding, timeout=WAIT_MS)
    qtbot.wait(400)
    panel = window.display_panel
    settings = [("event_count", 300.0), ("time_surface", 2.0), ("polarity", 144.0)]
    for scheme, fps in settings:
        panel.scheme_combo.setCurrentIndex(panel.scheme_combo.findData(scheme))
        panel.fps.setValue(fps)
        assert window.renderer.settings.scheme == scheme
        n = len(results)
        qtbot.keyClick(window, Qt.Key.Key_Right)  # exactly one more recognition window
        qtbot.waitUntil(lambda: len(results) == n + 1, timeout=WAIT_MS)
        qtbot.wait(200)
        assert results[-1].n_events == RECOGNITION_EVENTS
        assert _same_topk(results[-1], _recognised_by_the_model(window))


def test_each_colour_scheme_is_painted_as_its_kernel_paints_it_with_its_legend(qtbot, make_window):
    window = make_window("--view-events", str(VIEW_EVENTS), "--colours", "time_surface", "--decay-ms", "3")
    panel, view = window.display_panel, window.event_view
    assert window.renderer.settings.scheme == "time_surface"
    assert "τ = 3 ms" in panel.legend.entries()[0].text
    qtbot.waitUntil(lambda: window.n_results >= 1 and view.frames_painted >= 1, timeout=WAIT_MS)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Space)  # paused: the newest events stay put
    qtbot.waitUntil(lambda: window.pipeline.source.holding, timeout=WAIT_MS)
    for scheme in SCHEMES:
        panel.scheme_combo.setCurrentIndex(panel.scheme_combo.findData(scheme))
        assert panel.legend.entries() == SCHEMES[scheme].legend(3.0, panel.saturation.value())
        qtbot.waitUntil(lambda: view.shown_frame is not None and view.shown_frame.scheme == scheme,
                        timeout=WAIT_MS)
        frame = view.shown_frame
        events = window.pipeline.ring.newest(WindowSpec.by_events(VIEW_EVENTS)).events
        expected = render_scheme(events, window.pipeline.geometry, scheme, decay_us=3_000.0,
                                 saturation=panel.saturation.value(), t_ref=frame.t_end_us - 1)
        assert (frame.image == expected).all()


def test_a_large_vocabulary_shows_its_encoding_progress_and_switches_whole(qtbot, make_window):
    from .conftest import LABELS

    window = make_window("--templates", "openai")  # 80 prompts a label: encoding takes many results
    results: list = []
    window.resultShown.connect(results.append)
    qtbot.waitUntil(lambda: len(results) >= 1, timeout=WAIT_MS)
    old, new = set(LABELS.split(",")), [f"thing number {i}" for i in range(150)]
    progress = window.vocabulary_progress
    start = len(results)
    assert window.editor.set_labels(new)
    qtbot.waitUntil(lambda: progress.isVisible(), timeout=WAIT_MS)
    assert progress.label.text().startswith("encoding labels ") and progress.label.text().endswith("/150…")
    qtbot.waitUntil(lambda: not progress.isVisible() and bool(results)
                    and {lb for lb, _ in results[-1].topk} <= set(new), timeout=60_000)
    reports = [(r, t) for r, t in progress.seen if t == 150]  # not the start's own 5 labels
    assert reports[-1] == (150, 150) and any(0 < r < 150 for r, _ in reports)
    assert [r for r, _ in reports] == sorted(r for r, _ in reports)
    # every result meanwhile is of one vocabulary, the old one until the new one is whole
    kinds = ["old" if {lb for lb, _ in r.topk} <= old else "new" if {lb for lb, _ in r.topk} <= set(new) else "mixed"
             for r in results[start:]]
    assert "mixed" not in kinds and kinds == sorted(kinds, key=["old", "new"].index)
    assert kinds.count("old") >= 3  # results kept coming while it encoded


def test_the_view_controls_are_remembered_and_the_command_line_wins(qtbot, make_window):
    from ezsr_live.cli.live import build_parser, remembered_controls
    from ezsr_live.gui.persistence import RESTORABLE

    window = make_window()
    panel = window.display_panel
    panel.scheme_combo.setCurrentIndex(panel.scheme_combo.findData("event_count"))
    panel.saturation.setValue(20)
    panel.decay_ms.setValue(4.5)
    panel.fps.setValue(30.0)
    panel.mode_combo.setCurrentText("events")
    panel.length_events.setValue(5000)
    chosen = panel.settings
    assert (chosen.scheme, chosen.saturation, chosen.decay_ms, chosen.fps, chosen.accumulation_events) == (
        "event_count", 20, 4.5, 30.0, 5000)
    window.close()

    again = make_window(restore_controls=RESTORABLE)
    assert again.display_panel.settings == chosen == again.renderer.settings
    assert again.display_panel.scheme_combo.currentData() == "event_count"
    assert not again.display_panel.length_events.isHidden() and again.display_panel.length_events.value() == 5000
    view = again.event_view
    qtbot.waitUntil(lambda: view.shown_frame is not None and view.shown_frame.scheme == "event_count"
                    and view.shown_frame.n_events == 5000, timeout=WAIT_MS)
    again.close()

    # an option on the command line wins over what was remembered; the rest comes back
    extra = ("--colours", "time_surface", "--view-ms", "7")
    args = build_parser().parse_args(["--replay", "x.raw", *extra])
    keys = remembered_controls(args)
    assert {"fps", "saturation", "decay_ms"} <= keys and not {"scheme", "accumulation"} & keys
    third = make_window(*extra, restore_controls=keys)
    shown = third.display_panel.settings
    assert (shown.scheme, shown.accumulation, shown.fps, shown.saturation, shown.decay_ms) == (
        "time_surface", WindowSpec.by_time_ms(7.0), 30.0, 20, 4.5)
    assert third.renderer.settings == shown


def _remember_time_surface_at_30_fps_and_a_threshold(make_window) -> None:
    """One run whose controls differ from their defaults, closed: the next run remembers them."""
    window = make_window()
    panel = window.display_panel
    panel.scheme_combo.setCurrentIndex(panel.scheme_combo.findData("time_surface"))
    panel.fps.setValue(30.0)
    window.overlay_control.threshold_spin.setValue(0.35)
    window.close()


def _shown(window) -> tuple[str, float, float]:
    assert window.renderer.settings == window.display_panel.settings
    return window.display_panel.settings.scheme, window.display_panel.settings.fps, window.overlay_control.threshold


def test_an_option_given_with_its_default_value_wins_over_the_remembered_one(qtbot, make_window, tmp_path):
    _remember_time_surface_at_30_fps_and_a_threshold(make_window)
    again = make_window(remembered=True)  # nothing given: what was remembered comes back
    assert _shown(again) == ("time_surface", 30.0, 0.35)
    again.close()

    # typed with the values that are also the defaults: given all the same, so they win
    typed = make_window("--colours", "polarity", "--view-fps", "60", "--threshold", "0", remembered=True)
    assert _shown(typed) == ("polarity", 60.0, 0.0)
    qtbot.waitUntil(lambda: typed.event_view.shown_frame is not None
                    and typed.event_view.shown_frame.scheme == "polarity", timeout=WAIT_MS)
    assert typed.pipeline.settings.min_confidence == 0.0
    typed.close()

    # a --config file's value counts as given too (the user wrote it), at the default or not
    _remember_time_surface_at_30_fps_and_a_threshold(make_window)
    config = tmp_path / "ezsr.toml"
    config.write_text('colours = "polarity"\nview-fps = 60.0\n')
    configured = make_window("--config", str(config), remembered=True)
    assert _shown(configured) == ("polarity", 60.0, 0.35)  # the threshold was not in the file
    configured.close()
    # and the command line wins over the file
    both = make_window("--config", str(config), "--colours", "event_count", remembered=True)
    assert _shown(both) == ("event_count", 60.0, 0.35)
