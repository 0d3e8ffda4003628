"""The APS panel: a DAVIS recording's intensity frames beside its events, in step with
the replay. No sample holds frames, so one is written here with dv-processing's writer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import DEMO

WAIT_MS = 20_000
T0 = 1_700_000_000_000_000
FRAME_EVERY_US = 100_000


@pytest.fixture
def davis_recording(tmp_path: Path) -> tuple[Path, list[tuple[int, np.ndarray]]]:
    """2 s of events from a DAVIS346 and a frame every 100 ms (offset, image), as dv writes them."""
    dv = pytest.importorskip("dv_processing")
    path = tmp_path / "davis_with_frames.aedat4"
    writer = dv.io.MonoCameraWriter(path.as_posix(), dv.io.MonoCameraWriter.DAVISConfig("DAVIS346_00000499", (346, 260)))
    rng = np.random.default_rng(3)
    frames = []
    for k in range(20):
        store = dv.EventStore()
        base = T0 + k * FRAME_EVERY_US
        for i in range(3000):
            store.push_back(base + i * 33, int(rng.integers(0, 346)), int(rng.integers(0, 260)), bool(i % 2))
        writer.writeEvents(store)
        image = (rng.integers(0, 256, (260, 346))).astype(np.uint8)
        offset = k * FRAME_EVERY_US + 500
        writer.writeFrame(dv.Frame(T0 + offset, image))
        frames.append((offset, image))
    del writer  # closes the file
    return path, frames


def test_the_aps_frames_of_a_davis_recording_are_shown_in_step_with_the_replay(qtbot, make_window, davis_recording):
    path, frames = davis_recording
    window = make_window(source=("--replay", str(path), "--loop"))
    panel = window.aps_panel
    assert panel.track is not None and panel.toggleViewAction().isEnabled()
    qtbot.waitUntil(lambda: panel.isVisible() and panel.shown is not None, timeout=WAIT_MS)
    window.controls.toggle_pause()
    source = window.pipeline.source
    qtbot.waitUntil(lambda: source.holding, timeout=WAIT_MS)
    qtbot.wait(300)
    panel.refresh()
    position = source.position_us
    expected = [image for offset, image in frames if offset <= position][-1]
    assert np.array_equal(panel.image_item.image, expected)
    assert panel.shown.offset_us <= position < panel.shown.offset_us + FRAME_EVERY_US

    window._seek(1_250_000)  # a seek (still paused): the panel follows, back or forth
    qtbot.waitUntil(lambda: panel.shown is not None and panel.shown.offset_us == 1_200_500, timeout=WAIT_MS)
    assert np.array_equal(panel.image_item.image, frames[12][1])


def test_without_frames_the_panel_stays_hidden(qtbot, make_window, samples_dir):
    window = make_window()
    assert window.aps_panel.track is None and not window.aps_panel.isVisible()
    assert not window.aps_panel.toggleViewAction().isEnabled()
    assert window.switcher.open(str(samples_dir / "dvxplorer_320x240.aedat4"), replay=True)
    assert window.aps_panel.track is None and not window.aps_panel.isVisible()
    assert DEMO.exists()
