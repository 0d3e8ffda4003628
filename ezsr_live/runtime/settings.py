"""Settings of a live run that may change while it runs (GUI, API)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ezsr_live.windows import WindowSpec


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
