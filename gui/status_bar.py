"""The status bar: a message field that elides whole glyphs, and fixed-width figure fields."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar

#: the status bar's fields, in order, each with the widest text its figures produce in
#: practice: the field keeps that width, so changing figures neither jitter nor get cut
STATUS_FIELDS: dict[str, str] = {
    "source": "",  # elided to STATUS_NAME_MAX_PX, the full text in the tooltip
    "events": "888.88 Mev/s",
    "results": "888.8 results/s",
    "latency": "p50 8888 / p99 8888 ms",
    "dropped": "skipped 8888 win / 888888 ev",
    "display": "view 888 fps",
    "model": "",
}
#: longest the source and model names may be before they are elided
STATUS_NAME_MAX_PX = 260


def _rate(value: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


class ElidedLabel(QLabel):
    """A label that shows as much of its text as fits, ending in '…' (never a glyph cut
    in half, as QStatusBar's own message area did: 'source ended' read 'source endec'),
    with the whole text in its tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        # as wide as the status bar leaves it, never wider: it must not push the window
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width()
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, width)))


def build_status_bar(status_bar: QStatusBar) -> tuple[ElidedLabel, dict[str, QLabel]]:
    """Fill ``status_bar``: the message field, then one label per :data:`STATUS_FIELDS`."""
    status_bar.setStyleSheet("QStatusBar::item { border: none; border-left: 1px solid palette(mid); }")
    # messages ("source ended: ...", refused settings) in a label of their own rather
    # than QStatusBar.showMessage, which clips them where the fields begin
    message = ElidedLabel()
    message.setObjectName("status_message")
    message.setContentsMargins(6, 0, 6, 0)
    status_bar.addWidget(message, 1)
    fields: dict[str, QLabel] = {}
    for name, widest in STATUS_FIELDS.items():
        label = QLabel()
        label.setObjectName(f"status_{name}")
        label.setContentsMargins(6, 0, 6, 0)
        if widest:
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(widest) + 12)
        fields[name] = label
        status_bar.addPermanentWidget(label)
    return message, fields


def set_name_field(label: QLabel, text: str) -> None:
    """A name (source, model), elided in the middle, whole in the tooltip."""
    label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, STATUS_NAME_MAX_PX))
    label.setToolTip(text)


def show_result_fields(fields: dict[str, QLabel], r: Any) -> None:
    """The figures of the newest result."""
    fields["events"].setText(_rate(r.event_rate, "ev/s"))
    fields["results"].setText(f"{r.fps:.1f} results/s")
    fields["latency"].setText(f"p50 {r.latency_p50_ms:.0f} / p99 {r.latency_p99_ms:.0f} ms")
    fields["latency"].setToolTip("latency, last event of a window to its result: median / 99th percentile")
    fields["dropped"].setText(f"skipped {r.windows_skipped} win / {r.events_dropped} ev")
    fields["dropped"].setToolTip(f"{r.windows_skipped} windows skipped by the worker (latest wins), "
                                 f"{r.events_dropped} events dropped before the ring")
