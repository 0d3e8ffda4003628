"""Settings of a live run that may change while it runs (GUI, API), and their checks.

The defaults and bounds are those of :mod:`ezsr_live.settings`; :func:`check_changes`
applies them to every change (``Pipeline.update``), as the command line and the
config file do at start.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from ezsr_live.events import Roi
from ezsr_live.settings import (
    DEFAULT_WINDOW_MS,
    MIN_CONFIDENCE,
    WINDOW_EVENTS,
    WINDOW_MS,
    RecognitionSettings,
    SettingError,
    WindowSettings,
    all_settings,
    shown,
)
from ezsr_live.windows import WindowSpec


@dataclass
class RuntimeSettings:
    """Settings that may change while running (GUI, API); applied at the next window.
    ``knn_k``/``knn_tau``/``knn_alpha`` None: as the translator was configured."""

    window: WindowSpec = field(default_factory=lambda: WindowSpec.by_time_ms(DEFAULT_WINDOW_MS))
    top_k: int = RecognitionSettings.top_k
    # resize: the live default; direct: N-ImageNet evaluation
    coords: Literal["resize", "direct"] = WindowSettings.coords
    knn_enabled: bool = True
    knn_k: int | None = None
    knn_tau: float | None = None
    knn_alpha: float | None = None
    paused: bool = False
    #: recognise only the events inside this box of the sensor (None: the whole sensor)
    roi: Roi | None = None
    #: a top-1 probability below this is shown as "none of these" (0: always a label)
    min_confidence: float = MIN_CONFIDENCE.default

    def as_changes(self) -> dict[str, Any]:
        """Every field, as a change that :func:`check_changes` reads."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


_FLAGS = ("knn_enabled", "paused")
_AS_CONFIGURED = ("knn_k", "knn_tau", "knn_alpha")


def check_window(window: object, ring_capacity: int | None = None, name: str = "window") -> WindowSpec:
    """A :class:`WindowSpec` within the window settings' bounds (and the ring's capacity)."""
    if not isinstance(window, WindowSpec):
        raise SettingError(f"{name}: must be a WindowSpec, got {shown(window)}")
    if window.n_events is not None:
        WINDOW_EVENTS.check(window.n_events, name)
        if ring_capacity is not None and window.n_events > ring_capacity:
            raise SettingError(f"{name}: a window of {window.n_events:,} events exceeds the ring's {ring_capacity:,}")
    else:
        WINDOW_MS.check(window.span_us / 1000.0, name)
    return window


def check_changes(changes: Mapping[str, Any], ring_capacity: int | None = None) -> dict[str, Any]:
    """``changes`` to :class:`RuntimeSettings`, checked; :class:`SettingError` (a
    ValueError) naming the first refused one."""
    fields = {f.name for f in dataclasses.fields(RuntimeSettings)}
    unknown = set(changes) - fields
    if unknown:
        raise SettingError(f"unknown settings: {', '.join(sorted(unknown))}")
    declared = all_settings()
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "window":
            out[name] = check_window(value, ring_capacity)
        elif name == "roi":
            # whether it lies inside the sensor is the pipeline's check: it knows the geometry
            if value is not None and not isinstance(value, Roi):
                raise SettingError(f"roi: must be a Roi or None, got {shown(value)}")
            out[name] = value
        elif name in _FLAGS:
            if not isinstance(value, bool):
                raise SettingError(f"{name}: must be true or false, got {shown(value)}")
            out[name] = value
        elif value is None and name in _AS_CONFIGURED:
            out[name] = None
        else:
            out[name] = declared[name].check(value, name)
    return out
