"""What a live run measures: one :class:`Result` per recognition, rolling percentiles."""
from __future__ import annotations

import collections
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Result:
    """One recognition, with the metrics that describe how fresh and how fast it was."""

    seq: int
    t_us: int  # sensor time at the window's end (its newest event)
    t_window_start_us: int
    topk: tuple[tuple[str, float], ...]
    n_events: int
    event_rate: float  # events per second of sensor time within the window
    latency_ms: float  # last event of the window available → result published
    infer_ms: float  # frame building + recogniser
    fps: float  # results per second (wall clock, last second)
    windows_skipped: int  # cumulative
    events_dropped: int  # cumulative, at the source
    latency_p50_ms: float
    latency_p99_ms: float
    stream: int = 0  # the stream's index among the run's sources (0 when there is one)
    stream_name: str = ""  # the stream's source: a file's name, a camera's
    #: the best label's probability is below the threshold (``RuntimeSettings.min_confidence``)
    none_of_these: bool = False

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stream"] = {"index": self.stream, "source": d.pop("stream_name")}
        d["topk"] = [{"label": lab, "prob": round(p, 6)} for lab, p in self.topk]
        d["t_window_end_us"] = self.t_us
        for key in ("event_rate", "latency_ms", "infer_ms", "fps", "latency_p50_ms", "latency_p99_ms"):
            d[key] = round(d[key], 3)
        return d


class RollingPercentiles:
    """p50/p99 over the last ``n`` samples (bounded memory)."""

    def __init__(self, n: int = 1000) -> None:
        self._values: collections.deque[float] = collections.deque(maxlen=n)

    def add(self, value: float) -> None:
        self._values.append(value)

    def percentile(self, q: float) -> float:
        if not self._values:
            return 0.0
        return float(np.percentile(np.fromiter(self._values, float), q))
