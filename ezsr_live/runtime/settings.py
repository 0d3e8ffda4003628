"""Settings of a live run that may change while it runs (GUI, API)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ezsr_live.events import Roi
from ezsr_live.windows import WindowSpec

#: the confidence threshold's range: below it a result counts as "none of these"
MIN_CONFIDENCE_BOUNDS = (0.0, 1.0)


@dataclass
class RuntimeSettings:
    """Settings that may change while running (GUI, API); applied at the next window."""

    window: WindowSpec = field(default_factory=lambda: WindowSpec.by_time_ms(50.0))
    top_k: int = 5
    coords: Literal["resize", "direct"] = "resize"  # resize: the live default; direct: N-ImageNet evaluation
    knn_enabled: bool = True
    knn_k: int | None = None
    knn_tau: float | None = None
    knn_alpha: float | None = None
    paused: bool = False
    #: recognise only the events inside this box of the sensor (None: the whole sensor)
    roi: Roi | None = field(default=None, metadata={"help": "recognise only this box: X,Y,WIDTH,HEIGHT pixels"})
    #: a top-1 probability below this is shown as "none of these" (0: always a label)
    min_confidence: float = field(default=0.0, metadata={
        "bounds": MIN_CONFIDENCE_BOUNDS, "help": "top-1 probability below which the result is 'none of these'"})


def check_min_confidence(value: float) -> float:
    """``value`` if it lies within :data:`MIN_CONFIDENCE_BOUNDS`; ValueError otherwise."""
    low, high = MIN_CONFIDENCE_BOUNDS
    if not low <= float(value) <= high:
        raise ValueError(f"the confidence threshold must be within [{low:g}, {high:g}], got {value}")
    return float(value)
