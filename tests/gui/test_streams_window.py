"""Several streams in the window: a tab per stream, switched with the tab bar (pytest-qt)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from ezsr_live.cli.live import build_parser, build_run
from ezsr_live.gui.streams import StreamWindow
from tests.helpers import DEMO_SHAPES

from .conftest import DEMO, LABELS, model_args, pipeline_threads

WAIT_MS = 30_000  # generous: the CPU is shared; nothing here measures speed


def test_switching_streams_shows_each_streams_own_events_and_labels(qtbot, tiny_model_name):
    run, window = _two_streams_window(qtbot, tiny_model_name)
    try:
        seen: dict[int, int] = {0: 0, 1: 0}
        window.resultShown.connect(lambda r: seen.__setitem__(r.stream, seen[r.stream] + 1))
        assert window.tabs.count() == 2 and window.tabs.tabText(1) == f"1: {DEMO_SHAPES.name}"
        first, second = window.views
        qtbot.waitUntil(lambda: first.event_view.frames_painted >= 2 and min(seen.values()) >= 2, timeout=WAIT_MS)
        assert window.current is first and first.isVisible() and not second.isVisible()

        with qtbot.waitSignal(window.streamChanged) as changed:  # a click on the second tab
            bar = window.tabs.tabBar()
            qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
        assert changed.args == [1]
        assert window.current is second and second.isVisible() and not first.isVisible()
        # the shown view is the second stream's: its sensor, its results, frames painted now
        qtbot.waitUntil(lambda: second.event_view.frames_painted >= 2 and second.n_results >= 2, timeout=WAIT_MS)
        assert second.event_view.image_item.image.shape == (run.streams[1].geometry.height,
                                                           run.streams[1].geometry.width, 3)
        assert first.event_view.image_item.image.shape == (260, 346, 3)
        assert {r for r, _ in second.last_result.topk} <= set(LABELS.split(","))
        assert second.last_result.stream == 1 and first.last_result.stream == 0

        # the keys act on the stream shown: Space pauses the second replay, not the first
        window.activateWindow()
        second.event_view.setFocus()
        qtbot.keyClick(window, Qt.Key.Key_Space)
        assert second.controls.paused and not first.controls.paused
        qtbot.waitUntil(lambda: run.streams[1].source.holding, timeout=WAIT_MS)
        assert not run.streams[0].source.paused
    finally:
        window.close()
    assert not pipeline_threads()


def _shown(editor) -> list[tuple[str, bool]]:
    """What the editor's list widget shows: each row's text and tick."""
    rows = [editor.list.item(i) for i in range(editor.list.count())]
    return [(row.text(), row.checkState() == Qt.CheckState.Checked) for row in rows]


def test_a_label_edit_in_one_tab_shows_in_every_tabs_list(qtbot, tiny_model_name):
    run, window = _two_streams_window(qtbot, tiny_model_name, "--top-k", "10")
    try:
        first, second = window.views
        qtbot.waitUntil(lambda: first.n_results >= 1 and second.n_results >= 1, timeout=WAIT_MS)
        window.select(1)
        editor = second.editor
        assert editor.add_text("kite") == ["kite"]
        assert editor.set_enabled("bar", False)
        assert editor.rename("ring", "hoop")
        expected = [("disc", True), ("square", True), ("bar", False), ("hoop", True), ("star", True),
                    ("kite", True)]
        assert editor.entries() == expected == first.editor.entries()
        assert _shown(first.editor) == expected == _shown(editor)
        assert first.editor.count.text() == "5 of 6 labels enabled"
        # the vocabulary is the engine's, shared: the first stream's results use it
        active = {label for label, enabled in expected if enabled}
        qtbot.waitUntil(lambda: set(run.streams[0].recognizer.vocabulary.labels) == active, timeout=WAIT_MS)
        n = first.n_results
        qtbot.waitUntil(lambda: first.n_results >= n + 2 and {r for r, _ in first.last_result.topk} == active,
                        timeout=WAIT_MS)

        assert editor.set_templates_text("a {} on a screen.")
        assert first.editor.templates_edit.toPlainText() == "a {} on a screen."
        window.select(0)
        assert first.editor.set_enabled("bar", True) and first.editor.remove(["kite"])
        assert second.editor.entries() == _shown(second.editor) == [
            ("disc", True), ("square", True), ("bar", True), ("hoop", True), ("star", True)]
    finally:
        window.close()
    assert not pipeline_threads()


def test_each_tab_remembers_its_own_controls_and_the_window_its_geometry_once(qtbot, tiny_model_name,
                                                                             private_settings):
    import configparser

    from ezsr_live.cli.live import parse_command_line, remembered_controls
    from ezsr_live.gui.main_window import MainWindow

    argv = ["--replay", str(DEMO), "--replay", str(DEMO_SHAPES), "--loop", *model_args(tiny_model_name),
            "--labels", LABELS]

    def open_window() -> StreamWindow:
        args = parse_command_line(argv)
        window = StreamWindow(build_run(args).streams, restore_vocabulary=True,
                              restore_controls=remembered_controls(args))
        qtbot.addWidget(window)
        window.show()
        window.start()
        return window

    def choose(view, scheme: str, threshold: float) -> None:
        panel = view.display_panel
        panel.scheme_combo.setCurrentIndex(panel.scheme_combo.findData(scheme))
        view.overlay_control.threshold_spin.setValue(threshold)

    def shown(view) -> tuple[str, float]:
        return view.display_panel.settings.scheme, view.overlay_control.threshold

    window = open_window()
    try:
        first, second = window.views
        choose(first, "event_count", 0.35)  # the first tab is changed, and closed before the second
        choose(second, "time_surface", 0.6)
        assert second.editor.add_text("kite") == ["kite"]  # one vocabulary, edited in the second tab
        window.resize(700, 500)  # (Qt's offscreen screen is 800x600: the height comes back as the screen allows)
        assert window.width() == 700
    finally:
        window.close()
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(next(private_settings.rglob("*.ini")))
    geometry = [f"{section}/{key}" for section in ini.sections() for key in ini[section] if "geometry" in key]
    assert geometry == ["streams/geometry"]  # the window's, once; its pages wrote none

    window = open_window()
    try:
        first, second = window.views
        assert shown(first) == ("event_count", 0.35) and shown(second) == ("time_surface", 0.6)
        assert first.renderer.settings.scheme == "event_count" and second.renderer.settings.scheme == "time_surface"
        assert window.width() == 700  # not the default 1280, nor a page's width
        assert "kite" in first.editor.active_labels() and "kite" in second.editor.active_labels()
    finally:
        window.close()

    # a window of one stream is the first stream's: it comes back with the first tab's controls
    args = parse_command_line(argv[:2] + argv[5:])
    single = MainWindow(build_run(args).pipeline, restore_controls=remembered_controls(args))
    qtbot.addWidget(single)
    try:
        assert shown(single) == ("event_count", 0.35)
    finally:
        single.close()
    assert not pipeline_threads()


def _two_streams_window(qtbot, tiny_model_name, *options: str):
    """The two demo recordings, looped, in one started window: (run, window)."""
    args = build_parser().parse_args(["--replay", str(DEMO), "--replay", str(DEMO_SHAPES), "--loop", *options,
                                      *model_args(tiny_model_name), "--labels", LABELS])
    run = build_run(args)
    window = StreamWindow(run.streams)
    qtbot.addWidget(window)
    window.show()
    window.start()
    return run, window
