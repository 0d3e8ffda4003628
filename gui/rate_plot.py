"""A dock with the ON and OFF event rates over the last seconds (pyqtgraph PlotWidget).

The counting is the engine's (:class:`~ezsr_live.runtime.rates.EventRateCounter`, fed by
the source thread per packet); this dock only reads its bins a few times a second.
The x axis is sensor time in seconds before the newest bin; bins still filling are not
drawn while the source runs (they would always look like a drop).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QDockWidget, QWidget

from ezsr_live.kernels.display import DisplayColors
from ezsr_live.runtime.rates import RateHistory
from ezsr_live.sources import HoldsAtEnd

#: the plot is redrawn at this rate
REFRESH_MS = 250


class RatePlotDock(QDockWidget):
    """Two curves, ON and OFF events per second, of ``pipeline().rates``."""

    def __init__(self, pipeline: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__("Event rate", parent)
        self.setObjectName("rate_plot_dock")  # saveState/restoreState find it by name
        self._pipeline = pipeline
        self.plot = pg.PlotWidget(background=(30, 30, 36))
        self.plot.setLabel("left", "events/s")
        self.plot.setLabel("bottom", "sensor time before the newest bin", units="s")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(8, 8))
        colours = DisplayColors()
        self.on_curve = self.plot.plot(name="ON", pen=pg.mkPen(colours.on, width=2))
        self.off_curve = self.plot.plot(name="OFF", pen=pg.mkPen(colours.off, width=2))
        self.plot.setMinimumHeight(140)
        self.setWidget(self.plot)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea)
        self.shown_history: RateHistory | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.visibilityChanged.connect(self._visibility)

    @Slot(bool)
    def _visibility(self, visible: bool) -> None:
        # hidden, it costs nothing (the engine counts anyway: one pass per packet)
        if visible:
            self._timer.start()
            self.refresh()
        else:
            self._timer.stop()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def refresh(self) -> None:
        """Redraw from the engine's counter."""
        pipeline = self._pipeline()
        history = pipeline.rates.snapshot()
        if len(history.start_us) and not pipeline.finished and not _source_at_end(pipeline):
            history = RateHistory(history.bin_us, history.start_us[:-1], history.on[:-1], history.off[:-1])
        self.shown_history = history
        if not len(history.start_us):
            self.on_curve.setData([], [])
            self.off_curve.setData([], [])
            return
        end_us = history.start_us[-1] + history.bin_us
        x = (history.start_us + history.bin_us / 2 - end_us) / 1e6
        self.on_curve.setData(x, history.on_rate.astype(np.float64))
        self.off_curve.setData(x, history.off_rate.astype(np.float64))


def _source_at_end(pipeline: Any) -> bool:
    source = pipeline.source
    return isinstance(source, HoldsAtEnd) and source.at_end
