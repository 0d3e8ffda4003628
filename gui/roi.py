"""The region of interest drawn on the event view: recognition sees only that box.

A :class:`pyqtgraph.RectROI` on the view's ViewBox, kept inside the sensor and on
whole pixels; each finished drag or resize hands the box to the pipeline (the engine
crops and resizes the events of the box before the encoder, ``RuntimeSettings.roi``).
R (or the button) draws one over the middle of the sensor, or removes it; Shift+drag
on the view draws one from corner to corner.
"""
from __future__ import annotations

from typing import Callable

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QPushButton, QWidget

from ezsr_live.events import Geometry, Roi

#: the box's pen: bright, dashed, so that it stands out on either polarity
_PEN = pg.mkPen((255, 220, 0), width=2, style=Qt.PenStyle.DashLine)


class RoiControl(QObject):
    """The ROI box, its toggle (:attr:`action`, :attr:`button`) and where it is applied."""

    roiChanged = Signal(object)  # Roi or None

    def __init__(self, viewbox: pg.ViewBox, geometry: Geometry, apply: Callable[[Roi | None], None],
                 parent: QWidget, viewport: QWidget | None = None) -> None:
        super().__init__(parent)
        self._viewbox = viewbox
        self._drag_from: QPointF | None = None
        if viewport is not None:
            viewport.installEventFilter(self)
        self._geometry = geometry
        self._apply = apply
        self._item: pg.RectROI | None = None
        self._roi: Roi | None = None
        self.action = QAction("Region of &interest (recognise only inside it)", parent)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("R"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.toggled.connect(self._toggled)
        parent.addAction(self.action)
        self.button = QPushButton("ROI")
        self.button.setCheckable(True)
        self.button.setToolTip("recognise only inside a box: drag it, resize it by its corner (R)")
        self.button.toggled.connect(self.action.setChecked)
        self.action.toggled.connect(self.button.setChecked)

    @property
    def roi(self) -> Roi | None:
        return self._roi

    def set_roi(self, roi: Roi | None) -> None:
        """Show ``roi`` (None: remove the box) and restrict recognition to it."""
        if roi is not None:
            roi = roi.check_inside(self._geometry)
        self._remove_item()
        if roi is not None:
            item = pg.RectROI((roi.x, roi.y), (roi.width, roi.height), pen=_PEN, movable=True, rotatable=False,
                              maxBounds=QRectF(0, 0, self._geometry.width, self._geometry.height),
                              snapSize=1.0, scaleSnap=True, translateSnap=True)
            item.setZValue(10)
            item.sigRegionChangeFinished.connect(self._dragged)
            self._viewbox.addItem(item)
            self._item = item
        self._set(roi)
        self.action.blockSignals(True)
        self.action.setChecked(roi is not None)
        self.action.blockSignals(False)
        self.button.blockSignals(True)
        self.button.setChecked(roi is not None)
        self.button.blockSignals(False)

    def set_geometry(self, geometry: Geometry) -> None:
        """A new sensor: a box that no longer fits is removed."""
        self._geometry = geometry
        roi = self._roi
        fits = roi is not None and roi.x + roi.width <= geometry.width and roi.y + roi.height <= geometry.height
        self.set_roi(roi if fits else None)

    def item_rect(self) -> tuple[float, float, float, float] | None:
        """The drawn box as (x, y, width, height) in sensor pixels (None: none drawn)."""
        if self._item is None:
            return None
        pos, size = self._item.pos(), self._item.size()
        return pos.x(), pos.y(), size.x(), size.y()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt naming)
        # Shift+drag draws a box; without Shift the view pans and zooms as before
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton \
                and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._drag_from = self._sensor_point(event.position())
            return True
        if self._drag_from is not None and kind == QEvent.Type.MouseMove:
            return True
        if self._drag_from is not None and kind == QEvent.Type.MouseButtonRelease:
            start, end = self._drag_from, self._sensor_point(event.position())
            self._drag_from = None
            x0, x1 = sorted((start.x(), end.x()))
            y0, y1 = sorted((start.y(), end.y()))
            x, y = int(round(x0)), int(round(y0))
            w, h = int(round(x1)) - x, int(round(y1)) - y
            if w >= 2 and h >= 2:
                self.set_roi(Roi(x, y, w, h))
            return True
        return super().eventFilter(watched, event)

    def _sensor_point(self, widget_pos: QPointF) -> QPointF:
        """A point of the view widget in sensor pixels, clamped to the sensor."""
        point = self._viewbox.mapSceneToView(QPointF(widget_pos))
        return QPointF(min(max(point.x(), 0.0), self._geometry.width), min(max(point.y(), 0.0), self._geometry.height))

    @Slot(bool)
    def _toggled(self, on: bool) -> None:
        if on and self._roi is None:
            w, h = self._geometry.width, self._geometry.height
            self.set_roi(Roi(w // 4, h // 4, max(1, w // 2), max(1, h // 2)))
        elif not on and self._roi is not None:
            self.set_roi(None)

    @Slot(object)
    def _dragged(self, item: pg.RectROI) -> None:
        pos, size = item.pos(), item.size()
        x, y = max(0, round(pos.x())), max(0, round(pos.y()))
        w = max(1, min(round(size.x()), self._geometry.width - x))
        h = max(1, min(round(size.y()), self._geometry.height - y))
        self._set(Roi(x, y, w, h))

    def _set(self, roi: Roi | None) -> None:
        if roi == self._roi:
            return
        self._roi = roi
        self._apply(roi)
        self.roiChanged.emit(roi)

    def _remove_item(self) -> None:
        if self._item is not None:
            self._viewbox.removeItem(self._item)
            self._item = None
