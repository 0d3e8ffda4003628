"""Every control's value between runs, in the user's settings file (QSettings, INI).

Window geometry, docks and the vocabulary are restored as before; the controls below
come back unless the command line chose them (the CLI passes which to restore). Stored
as text, so that the INI file stays readable and a value from an older or newer
version that no longer parses is skipped, never fatal.

In a window of several streams each tab (a MainWindow page) keeps its controls and docks
under its stream's keys (:func:`stream_prefix`: the first stream's are the single-stream
window's own); the vocabulary, shared by the tabs, is the first tab's; the window's
geometry is the outer window's, saved once by it (``KEY_STREAMS_GEOMETRY``).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Collection

from PySide6.QtCore import QPoint, QSettings

from ezsr_live.events import Roi
from ezsr_live.windows import WindowSpec

from .settings import KEY_DISABLED, KEY_GEOMETRY, KEY_LABELS, KEY_STATE, string_list

log = logging.getLogger(__name__)

#: every control that can be remembered, and the keys they are stored under
RESTORABLE = ("top_k", "threshold", "roi", "window", "speed", "overlay", "labels_file",
              "accumulation", "fps", "scheme", "decay_ms", "saturation")


def stream_prefix(stream: int | None) -> str:
    """Where stream ``stream``'s controls are kept: the first stream's (and a window of
    one stream's) at the top, stream i's under ``stream<i>/``."""
    return f"stream{stream}/" if stream else ""


def _window_text(spec: WindowSpec) -> str:
    return f"events:{spec.n_events}" if spec.n_events is not None else f"ms:{spec.duration_us / 1000:g}"


def _window_parse(text: str) -> WindowSpec:
    kind, value = text.split(":", 1)
    return WindowSpec.by_events(int(value)) if kind == "events" else WindowSpec.by_time_ms(float(value))


def _accumulation(spec: WindowSpec) -> dict[str, Any]:
    """The view's accumulation fields for ``spec`` (the other length stays as it is)."""
    if spec.n_events is not None:
        return {"accumulation_events": spec.n_events}
    return {"accumulation_ms": spec.duration_us / 1000, "accumulation_events": None}


class WindowPersistence:
    """Saves and restores the controls of one MainWindow; with ``stream``, of the page
    that shows that stream in a window of several (its geometry is the outer window's)."""

    def __init__(self, window: Any, settings: QSettings, stream: int | None = None) -> None:
        self.window = window
        self.settings = settings
        self.stream = stream
        self._prefix = stream_prefix(stream)

    def _key(self, name: str) -> str:
        return self._prefix + name

    @property
    def _owns_geometry(self) -> bool:
        return self.stream is None

    @property
    def _owns_vocabulary(self) -> bool:
        # the tabs share one recogniser; the first tab's list is the one restored
        return not self.stream

    def restore_window(self, restore_vocabulary: bool) -> None:
        """Geometry and docks, and the vocabulary if asked."""
        w, s = self.window, self.settings
        geometry = s.value(KEY_GEOMETRY) if self._owns_geometry else None
        if geometry is not None:
            w.restoreGeometry(geometry)
        state = s.value(self._key(KEY_STATE))
        if state is not None:
            w.restoreState(state)
        if restore_vocabulary:
            self.restore_vocabulary()

    def restore_vocabulary(self) -> None:
        """The last session's labels, into the window's label editor."""
        labels = string_list(self.settings, KEY_LABELS)
        if labels and self.window.editor is not None:
            self.window.editor.set_labels(labels, string_list(self.settings, KEY_DISABLED))

    def save(self) -> None:
        """Everything this window owns, written to the file at once."""
        w, s, key = self.window, self.settings, self._key
        if self._owns_geometry:
            s.setValue(KEY_GEOMETRY, w.saveGeometry())
        s.setValue(key(KEY_STATE), w.saveState())
        if w.editor is not None:  # closed before the model loaded: keep the last session's
            if self._owns_vocabulary:
                entries = w.editor.entries()
                s.setValue(KEY_LABELS, [label for label, _ in entries])
                s.setValue(KEY_DISABLED, [label for label, enabled in entries if not enabled])
            s.setValue(key("vocabulary/file"), w.editor.last_file or "")
        s.setValue(key("controls/top_k"), str(w.controls.top_k.value()))
        s.setValue(key("controls/threshold"), f"{w.overlay_control.threshold:g}")
        roi = w.roi_control.roi
        s.setValue(key("controls/roi"), str(roi) if roi is not None else "")
        s.setValue(key("controls/window"), _window_text(w.controls.window_spec()))
        speed = w.controls.speed_combo.currentData()
        s.setValue(key("controls/speed"), "max" if speed is None else f"{speed:g}")
        s.setValue(key("overlay/visible"), "true" if w.overlay_control.show_action.isChecked() else "false")
        pos = w.overlay.pos()
        s.setValue(key("overlay/position"), f"{pos.x()},{pos.y()}")
        view = w.display_panel.settings
        s.setValue(key("view/accumulation"), _window_text(view.accumulation))
        s.setValue(key("view/fps"), f"{view.fps:g}")
        s.setValue(key("view/scheme"), view.scheme)
        s.setValue(key("view/decay_ms"), f"{view.decay_ms:g}")
        s.setValue(key("view/saturation"), str(view.saturation))
        s.sync()

    def restore(self, keys: Collection[str]) -> None:
        """Bring back the controls named in ``keys`` (see :data:`RESTORABLE`)."""
        for key in RESTORABLE:
            if key in keys:
                self._restore_one(key)

    def _text(self, key: str) -> str | None:
        value = self.settings.value(key)
        return None if value is None or str(value) == "" else str(value)

    def _restore_one(self, key: str) -> None:
        w = self.window
        steps: dict[str, tuple[str, Callable[[str], None]]] = {
            "top_k": ("controls/top_k", lambda t: w.controls.top_k.setValue(int(t))),
            "threshold": ("controls/threshold", lambda t: w.overlay_control.set_threshold(float(t))),
            "roi": ("controls/roi", lambda t: w.roi_control.set_roi(Roi.parse(t))),
            "window": ("controls/window", lambda t: w.controls.set_window_spec(_window_parse(t))),
            "speed": ("controls/speed", self._restore_speed),
            "overlay": ("overlay/visible", self._restore_overlay),
            "labels_file": ("vocabulary/file", self._restore_labels_file),
            "accumulation": ("view/accumulation", lambda t: self._restore_view(**_accumulation(_window_parse(t)))),
            "fps": ("view/fps", lambda t: self._restore_view(fps=float(t))),
            "scheme": ("view/scheme", lambda t: self._restore_view(scheme=t)),
            "decay_ms": ("view/decay_ms", lambda t: self._restore_view(decay_ms=float(t))),
            "saturation": ("view/saturation", lambda t: self._restore_view(saturation=int(t))),
        }
        name, apply = steps[key]
        name = self._key(name)
        text = self._text(name)
        if text is None:
            return
        try:
            apply(text)
        except (ValueError, TypeError) as exc:  # a stale or foreign value: keep the default
            log.debug("remembered %s=%r not restored: %s", name, text, exc)

    def _restore_view(self, **changes: Any) -> None:
        panel = self.window.display_panel
        panel.set_settings(panel.settings.replace(**changes))  # checked there: a bad value raises

    def _restore_speed(self, text: str) -> None:
        controls = self.window.controls
        if controls.speed_combo.isEnabled():
            controls.select_speed(None if text == "max" else float(text))

    def _restore_overlay(self, text: str) -> None:
        w = self.window
        w.overlay_control.set_visible(text == "true")
        position = self._text(self._key("overlay/position"))
        if position is not None:
            x, y = (int(v) for v in position.split(","))
            w.overlay.move(QPoint(max(0, x), max(0, y)))  # the view is not laid out yet: no clamping

    def _restore_labels_file(self, text: str) -> None:
        if self.window.editor is not None:
            self.window.editor.last_file = text
