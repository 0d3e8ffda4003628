"""The live event frame: a pyqtgraph ImageItem in an aspect-locked ViewBox."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ezsr_live.kernels.colour_schemes import BACKGROUND, argb_to_rgb, pack

from .bridge import RenderedFrame
from .topk_overlay import TopKOverlay

#: the overlay's distance from the view's top-left corner
_OVERLAY_MARGIN = 10
#: colour of the view around the sensor frame (letterbox)
_SURROUND = (44, 44, 52)


class _CountingImageItem(pg.ImageItem):
    """An ImageItem that shows the renderer's uint32 frames as they are and reports each
    paint (and how long it took) to its view.

    A frame is Qt's native ``Format_RGB32``, so a QImage over the buffer is drawn without
    a conversion; one QImage per frame buffer is made once and kept (pyqtgraph's own
    ``setImage`` would make a new one per frame from RGB bytes, which Qt then converts
    at each paint)."""

    def __init__(self, view: "EventView") -> None:
        super().__init__(axisOrder="row-major", autoDownsample=False)
        self._view = view
        self._qimages: dict[int, tuple[np.ndarray, QImage]] = {}

    def show_argb(self, frame: np.ndarray) -> None:
        """Show an (H, W) uint32 0xAARRGGBB frame (no copy: the buffer must stay valid
        until the next frame is shown)."""
        key = frame.__array_interface__["data"][0]
        cached = self._qimages.get(key)
        if cached is None or cached[0].shape != frame.shape:
            if len(self._qimages) > 8:  # buffers of an earlier renderer
                self._qimages.clear()
            cached = (frame, pg.functions.ndarray_to_qimage(frame, QImage.Format.Format_RGB32))
            self._qimages[key] = cached
        # the pixels as (H, W, 3) RGB, a view (bytes B, G, R, A reversed): what ImageItem
        # users read as ``image``
        image = frame.view(np.uint8).reshape(*frame.shape, 4)[..., 2::-1]
        if self.image is None or self.image.shape != image.shape:
            self.prepareGeometryChange()
        # what ImageItem.setImage would set, without its conversions
        self.image = image
        self.qimage = cached[1]
        self._renderRequired = False
        self._unrenderable = False
        self.update()

    def paint(self, painter, *args) -> None:  # type: ignore[override]
        start = time.perf_counter()
        super().paint(painter, *args)
        self._view._painted(time.perf_counter() - start)


class EventView(QWidget):
    """Shows :class:`~ezsr_live.gui.bridge.RenderedFrame` s at sensor resolution, with the
    top-k overlay in its corner. Counts frames painted and GUI-thread time per frame."""

    #: emitted once a delivered frame has been painted (the renderer may make the next)
    framePainted = Signal()

    def __init__(self, width: int, height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # lighter than the frame's own background, so that the sensor area stands out
        self.graphics = pg.GraphicsView(self, background=_SURROUND)
        self.graphics.setAntialiasing(False)
        self.viewbox = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.graphics.setCentralItem(self.viewbox)
        self.image_item = _CountingImageItem(self)
        self.viewbox.addItem(self.image_item)
        self._blank = np.full((height, width), pack(BACKGROUND), np.uint32)
        self.image_item.show_argb(self._blank)
        # auto-range (on until the user zooms, back with fit()) keeps the sensor frame
        # centred and whole; the pan/zoom limits follow the view's shape (_fit_limits)
        self._frame_size = (width, height)
        self.viewbox.setDefaultPadding(0.0)
        self.viewbox.sigResized.connect(self._resized)
        # Qt's double-click event itself, not pyqtgraph's click (sent only on the release)
        self.graphics.viewport().installEventFilter(self)
        self.graphics.setToolTip("wheel: zoom, drag: pan, double-click or 0: fit the frame")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.overlay = TopKOverlay(self.graphics)
        self.overlay.move(_OVERLAY_MARGIN, _OVERLAY_MARGIN)
        self.overlay.raise_()
        self.frames_delivered = 0
        self.frames_painted = 0
        self.paints = 0
        self.gui_seconds = 0.0  # GUI-thread time spent on frames: setImage + paint
        self._shown_seq = -1
        self._acked_seq = -1
        self._paint_walls: list[float] = []
        self.shown_frame: RenderedFrame | None = None  # the frame on screen (its events, scheme)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().showEvent(event)
        # centre the frame for the final layout (auto-range ran against the initial size)
        self.fit()

    # -- zoom ----------------------------------------------------------------------
    def fit(self) -> None:
        """Show the whole frame, centred, and keep it so through resizes (undoes zoom)."""
        self._fit_limits()
        # autoRange() alone would also switch auto-ranging off, after which a resize
        # keeps the frame at the top instead of centring it again
        self.viewbox.autoRange(padding=0.0)
        self.viewbox.enableAutoRange()

    @property
    def fitted(self) -> bool:
        """True until the user zooms or pans (then fit() brings it back)."""
        return all(self.viewbox.autoRangeEnabled())

    def _fit_limits(self) -> None:
        # pan/zoom limits of one frame around what a fitted view shows: fixed limits (one
        # frame around the frame) forbade the range that fits the frame into a narrow or
        # tall view, so the frame overflowed it (700x900 window: 1143 px in 306)
        width, height = self._frame_size
        view_w, view_h = self.viewbox.width(), self.viewbox.height()
        if view_w <= 0 or view_h <= 0:
            return
        scale = min(view_w / width, view_h / height)
        span_x, span_y = view_w / scale, view_h / scale
        margin_x, margin_y = (span_x - width) / 2 + width, (span_y - height) / 2 + height
        self.viewbox.setLimits(xMin=-margin_x, xMax=width + margin_x, yMin=-margin_y, yMax=height + margin_y)

    @Slot(object)
    def _resized(self, _viewbox=None) -> None:
        if self.fitted:
            self.fit()
        else:
            self._fit_limits()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt naming)
        if (event.type() == QEvent.Type.MouseButtonDblClick and watched is self.graphics.viewport()
                and event.button() == Qt.MouseButton.LeftButton):
            self.fit()
            return True
        return super().eventFilter(watched, event)

    @Slot(object)
    def show_frame(self, frame: RenderedFrame) -> None:
        """Display a rendered frame (called in the GUI thread; the renderer keeps at most two
        unpainted, so the buffer on screen is never the one it paints into)."""
        start = time.perf_counter()
        self.image_item.show_argb(frame.image)
        self.shown_frame = frame
        self._shown_seq = frame.seq
        self.frames_delivered += 1
        self.gui_seconds += time.perf_counter() - start

    def shown_rgb(self) -> np.ndarray:
        """The frame on screen as (H, W, 3) uint8 RGB (a copy)."""
        frame = self.shown_frame.image if self.shown_frame is not None else self._blank
        return argb_to_rgb(frame)

    def _painted(self, seconds: float) -> None:
        self.paints += 1
        self.gui_seconds += seconds
        if self._shown_seq != self._acked_seq:
            self._acked_seq = self._shown_seq
            self.frames_painted += 1
            now = time.perf_counter()
            self._paint_walls.append(now)
            if len(self._paint_walls) > 240:
                del self._paint_walls[:120]
            self.framePainted.emit()

    def painted_fps(self, span_s: float = 1.0) -> float:
        """Frames painted per second over the last ``span_s`` seconds."""
        if len(self._paint_walls) < 2:
            return 0.0
        newest = self._paint_walls[-1]
        recent = [w for w in self._paint_walls if newest - w <= span_s]
        if len(recent) < 2 or recent[-1] <= recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def set_sensor_size(self, width: int, height: int) -> None:
        """Another source: show its (blank) frame, fitted."""
        self._frame_size = (width, height)
        self._blank = np.full((height, width), pack(BACKGROUND), np.uint32)
        self.shown_frame = None
        self.image_item.show_argb(self._blank)
        self.fit()

    def reset_statistics(self) -> None:
        self.frames_delivered = self.frames_painted = self.paints = 0
        self.gui_seconds = 0.0
        self._paint_walls.clear()
