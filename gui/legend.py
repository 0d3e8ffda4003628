"""The colour legend of the event view: what each colour of the chosen scheme means."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ezsr_live.kernels.colour_schemes import SCHEMES, LegendEntry

_SWATCH = 14
_ROW = 20
_RAMP_W = 90
_PAD = 4


class ColourLegend(QWidget):
    """Draws :meth:`ColourScheme.legend` entries: a swatch or a ramp, then the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._entries: tuple[LegendEntry, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_scheme(self, scheme: str, decay_ms: float, saturation: int) -> None:
        self._entries = SCHEMES[scheme].legend(decay_ms, saturation)
        rows = sum(2 if entry.ends != ("", "") else 1 for entry in self._entries)
        self.setFixedHeight(rows * _ROW + 2 * _PAD)
        self.setToolTip("\n".join(entry.text for entry in self._entries))
        self.update()

    def entries(self) -> tuple[LegendEntry, ...]:
        return self._entries

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt naming)
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        y = _PAD
        for entry in self._entries:
            box = QRect(_PAD, y + (_ROW - _SWATCH) // 2, _SWATCH if len(entry.colours) == 1 else _RAMP_W, _SWATCH)
            if len(entry.colours) == 1:
                painter.fillRect(box, QColor(*entry.colours[0]))
            else:
                gradient = QLinearGradient(box.left(), 0, box.right(), 0)
                last = len(entry.colours) - 1
                for i, colour in enumerate(entry.colours):
                    gradient.setColorAt(i / last, QColor(*colour))
                painter.fillRect(box, gradient)
            painter.drawRect(box.adjusted(0, 0, -1, -1))
            text_x = box.right() + 2 * _PAD
            painter.drawText(QRect(text_x, y, self.width() - text_x, _ROW),
                             int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                             metrics.elidedText(entry.text, Qt.TextElideMode.ElideRight, self.width() - text_x))
            y += _ROW
            if entry.ends != ("", ""):
                left, right = entry.ends
                row = QRect(_PAD, y, _RAMP_W, _ROW)
                painter.drawText(row, int(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft), left)
                painter.drawText(QRect(_PAD, y, _RAMP_W + 4 * _PAD + metrics.horizontalAdvance(right), _ROW),
                                 int(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight), right)
                y += _ROW
        painter.end()
