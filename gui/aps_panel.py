"""An optional dock with the APS frames of a DAVIS recording, in step with the replay."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QDockWidget, QWidget

from ezsr_live.drivers.aps_frames import ApsFrame, ApsFrameTrack, open_frame_track
from ezsr_live.sources import Described, Seekable

#: the frame shown follows the replay's position at this rate
REFRESH_MS = 40


class ApsPanel(QDockWidget):
    """Shows the frame of ``pipeline()``'s recording at the replay's position; hidden
    (and its View menu entry disabled) when the recording has no frames."""

    def __init__(self, pipeline: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__("APS frames", parent)
        self.setObjectName("aps_dock")
        self._pipeline = pipeline
        self.graphics = pg.GraphicsLayoutWidget()
        self.viewbox = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image_item)
        self.setWidget(self.graphics)
        self.setMinimumWidth(220)
        self.track: ApsFrameTrack | None = None
        self.shown: ApsFrame | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def attach(self, pipeline: Any) -> None:
        """A new source: find its frames (None for cameras and files without them)."""
        source = pipeline.source
        info = source.info if isinstance(source, Described) else None
        self.track = open_frame_track(info.name) if info is not None and isinstance(source, Seekable) else None
        self.shown = None
        self.toggleViewAction().setEnabled(self.track is not None)
        if self.track is None:
            self._timer.stop()
            self.hide()
            return
        self.show()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def refresh(self) -> None:
        source = self._pipeline().source
        if self.track is None or not self.isVisible() or not isinstance(source, Seekable):
            return
        frame = self.track.frame_at(int(source.position_us))
        if frame is not None and frame is not self.shown:
            self.shown = frame
            self.image_item.setImage(np.asarray(frame.image), autoLevels=False, levels=(0, 255))
            if self.viewbox.autoRangeEnabled()[0]:
                self.viewbox.autoRange(padding=0.0)


def add_aps_panel(window: Any) -> ApsPanel:
    """Create the panel beside the events (right dock area) of ``window``."""
    panel = ApsPanel(lambda: window.pipeline, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
    panel.hide()
    return panel
