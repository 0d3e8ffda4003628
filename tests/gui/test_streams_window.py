"""Several streams in the window: a tab per stream, switched with the tab bar (pytest-qt)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from ezsr_live.cli.live import build_parser, build_run
from ezsr_live.gui.streams import StreamWindow
from tests.helpers import DEMO_SHAPES

from .conftest import DEMO, LABELS, model_args, pipeline_threads

WAIT_MS = 30_000  # generous: the CPU is shared; nothing here measures speed


def test_switching_streams_shows_each_streams_own_events_and_labels(qtbot, tiny_model_name):
    args = build_parser().parse_args(["--replay", str(DEMO), "--replay", str(DEMO_SHAPES), "--loop",
                                      *model_args(tiny_model_name), "--labels", LABELS])
    run = build_run(args)
    window = StreamWindow(run.streams)
    qtbot.addWidget(window)
    window.show()
    window.start()
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
