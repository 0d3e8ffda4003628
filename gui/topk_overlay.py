"""The live top-k labels as bars with text, drawn over the event view."""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QWidget

#: (minimum probability, bar colour): confident labels green, plausible amber, weak grey
CONFIDENCE_COLOURS: tuple[tuple[float, QColor], ...] = (
    (0.5, QColor(70, 200, 110)),
    (0.2, QColor(235, 175, 50)),
    (0.0, QColor(120, 130, 150)),
)


def confidence_colour(probability: float) -> QColor:
    """The bar colour for a probability."""
    for threshold, colour in CONFIDENCE_COLOURS:
        if probability >= threshold:
            return colour
    return CONFIDENCE_COLOURS[-1][1]


#: what the overlay says when the best label is below the confidence threshold
NONE_OF_THESE = "none of these"


class TopKOverlay(QWidget):
    """Translucent panel: one row per label, a bar as long as its probability.

    Dragging it with the left button moves it within the view (:attr:`moved` says
    where to); below :attr:`threshold` the best label's probability shows
    :data:`NONE_OF_THESE` instead of the rows."""

    #: emitted after a drag, with the new top-left corner in the parent's coordinates
    moved = Signal(QPoint)

    ROW_HEIGHT = 24
    PADDING = 8
    WIDTH = 320
    #: a longer note widens the panel up to this, then it is elided
    MAX_WIDTH = 480

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setToolTip("drag to move; O hides it")
        self._drag_from: QPoint | None = None
        self._entries: list[tuple[str, float]] = []
        self._all_entries: list[tuple[str, float]] = []
        self.threshold = 0.0
        # the caller's note ("paused", "recording ended") stays until the caller
        # replaces it: results arriving meanwhile (the last window before a pause) must
        # not wipe it; without one, the overlay says why it has no bars
        self._note = ""
        self._received = False
        self._below = False
        self._cache: QPixmap | None = None
        font = QFont(self.font())
        font.setPointSize(11)
        font.setBold(True)
        self.setFont(font)
        self._fit()

    # -- public --------------------------------------------------------------------
    def set_entries(self, entries: Sequence[tuple[str, float]]) -> None:
        """Show these (label, probability) rows, best first."""
        self._all_entries = [(str(label), float(p)) for label, p in entries]
        self._received = True
        self._apply_threshold()

    def set_threshold(self, threshold: float) -> None:
        """Below this top-1 probability the panel says :data:`NONE_OF_THESE`."""
        self.threshold = float(threshold)
        self._apply_threshold()

    def _apply_threshold(self) -> None:
        entries = self._all_entries
        below = bool(entries) and entries[0][1] < self.threshold
        self._entries = [] if below else list(entries)
        self._below = below
        self._fit()
        self._redraw()

    @property
    def none_of_these(self) -> bool:
        """True while the best label is below the threshold."""
        return self._below

    # -- dragging ------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt naming)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position().toPoint()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt naming)
        if self._drag_from is None:
            return super().mouseMoveEvent(event)
        self.move_within_parent(self.mapToParent(event.position().toPoint() - self._drag_from))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt naming)
        if self._drag_from is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            self.moved.emit(self.pos())
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def move_within_parent(self, corner: QPoint) -> None:
        """Move the top-left corner to ``corner``, kept inside the parent widget."""
        parent = self.parentWidget()
        if parent is not None:
            corner = QPoint(max(0, min(corner.x(), parent.width() - self.width())),
                            max(0, min(corner.y(), parent.height() - self.height())))
        self.move(corner)

    def set_note(self, note: str) -> None:
        """A line of text shown under the bars (e.g. 'paused') until the next call."""
        self._note = note
        self._fit()
        self._redraw()

    def shown_note(self) -> str:
        """The line shown under the bars ("" for none)."""
        if self._note:
            return self._note
        if self._below:
            return f"{NONE_OF_THESE} (best {100 * self._all_entries[0][1]:.0f}% < {100 * self.threshold:.0f}%)"
        if not self._entries:
            return "no labels" if self._received else "waiting for results…"
        return ""

    def shown_labels(self) -> list[str]:
        """The labels currently shown, top row first."""
        return [label for label, _ in self._entries]

    def shown_entries(self) -> list[tuple[str, float]]:
        return list(self._entries)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        note = self.shown_note()
        rows = len(self._entries) + (1 if note else 0)
        width = self.WIDTH
        if note:
            needed = QFontMetrics(self.font()).horizontalAdvance(note) + 2 * self.PADDING + 12
            width = min(self.MAX_WIDTH, max(width, needed))
        return QSize(width, 2 * self.PADDING + max(1, rows) * self.ROW_HEIGHT)

    # -- drawing -------------------------------------------------------------------
    def _fit(self) -> None:
        self.resize(self.sizeHint())

    def _redraw(self) -> None:
        self._cache = None  # what changed is drawn anew at the next paint
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        self._cache = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt naming)
        # the overlay sits over the event view, so Qt repaints it with every frame the
        # view paints (60+ a second): drawing the bars anew each time cost ~10 ms of the
        # GUI thread per frame; they are drawn once per change, then only copied
        ratio = self.devicePixelRatioF()
        cache = self._cache
        if cache is None or cache.size() != self.size() * ratio:
            cache = QPixmap(self.size() * ratio)
            cache.setDevicePixelRatio(ratio)
            cache.fill(Qt.GlobalColor.transparent)
            self._draw(cache)
            self._cache = cache
        painter = QPainter(self)
        painter.drawPixmap(0, 0, cache)
        painter.end()

    def _draw(self, device: QPixmap) -> None:
        painter = QPainter(device)
        painter.setFont(self.font())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(QRectF(self.rect()), 6, 6)
        metrics = QFontMetrics(self.font())
        inner = self.width() - 2 * self.PADDING
        y = self.PADDING
        for label, p in self._entries:
            row = QRectF(self.PADDING, y + 2, inner, self.ROW_HEIGHT - 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 28))
            painter.drawRoundedRect(row, 3, 3)
            bar = QRectF(row)
            bar.setWidth(max(2.0, row.width() * min(1.0, max(0.0, p))))
            colour = confidence_colour(p)
            colour.setAlpha(200)
            painter.setBrush(colour)
            painter.drawRoundedRect(bar, 3, 3)
            painter.setPen(QColor(255, 255, 255))
            text_rect = row.adjusted(6, 0, -6, 0)
            percent = f"{100 * p:5.1f}%"
            name = metrics.elidedText(label, Qt.TextElideMode.ElideRight,
                                      int(text_rect.width()) - metrics.horizontalAdvance(percent) - 12)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, percent)
            y += self.ROW_HEIGHT
        note = self.shown_note()
        if note:
            painter.setPen(QColor(220, 220, 220))
            # a long note (an error) ends in '…' rather than being cut at the panel's edge
            note = metrics.elidedText(note, Qt.TextElideMode.ElideRight, inner - 12)
            painter.drawText(QRectF(self.PADDING + 6, y, inner - 6, self.ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, note)
        painter.end()
