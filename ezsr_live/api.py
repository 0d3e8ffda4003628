"""The Python API: a registered model on numpy event arrays or recordings, in three lines.

    import ezsr_live
    model = ezsr_live.load("ezsr-demo")                   # its labels, templates, pool and window
    top = model.recognize(events, geometry=(346, 260))    # any structured field order

``load`` resolves a model exactly as ``ezsr-live`` does (:mod:`ezsr_live.model.factory`):
the registry entry's own vocabulary, templates, k-NN pool and training window apply
unless overridden (``labels="cat,dog"``, ``window_events=15000``, ``device="cuda"``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from ezsr_live.events import EventPacket, Geometry, as_event_packet
from ezsr_live.windows import DEFAULT_WINDOW_MS, WindowSpec, iter_windows


@dataclass(frozen=True)
class WindowResult:
    """The top-k of one window of a recording."""

    t_start_us: int
    t_end_us: int
    n_events: int
    predictions: list  # list[Prediction], best first

    @property
    def label(self) -> str:
        return self.predictions[0].label


class ZeroShotModel:
    """A recogniser with the window and coordinate mode it is meant to see."""

    def __init__(self, recognizer: Any, window: WindowSpec, coords: str = "resize"):
        self.recognizer = recognizer
        self.window = window
        self.coords = coords

    @property
    def labels(self) -> tuple[str, ...]:
        return self.recognizer.labels

    def set_labels(self, labels: str | Sequence[str]) -> None:
        """Replace the vocabulary (``"cat,dog"``, a list, a file, or a built-in set name)."""
        self.recognizer.vocabulary.set_labels(labels)

    def frame(self, events: Any, geometry: Geometry | Sequence[int]) -> np.ndarray:
        """The (3, S, S) model input of ``events`` (one window) on a ``geometry`` sensor."""
        from ezsr_live.kernels import ezsr_model_input

        return ezsr_model_input(as_event_packet(events), _geometry(geometry), size=self.recognizer.input_size,
                                coords=self.coords)

    def recognize(self, events: Any, geometry: Geometry | Sequence[int], *, k: int | None = None) -> list:
        """Top-``k`` predictions for ``events`` taken as one window (a structured array
        with fields t, x, y, p in any order, or a dict of those columns)."""
        import torch

        return self.recognizer.recognize(torch.from_numpy(self.frame(events, geometry)), k=k)[0]

    def windows(self, source: str | os.PathLike | Any, geometry: Geometry | Sequence[int] | None = None, *,
                k: int | None = None, stride: int | None = None, batch: int = 16) -> Iterator[WindowResult]:
        """Top-``k`` of each consecutive window (this model's window) of a recording file
        or an event array; ``stride`` in events or µs as the window counts."""
        import torch

        from ezsr_live.kernels import ezsr_model_input

        if isinstance(source, (str, os.PathLike)):
            from ezsr_live.drivers import open_reader

            reader = open_reader(source, geometry=_geometry(geometry) if geometry is not None else None)
            packets: Any = reader
            sensor = reader.geometry
        else:
            if geometry is None:
                raise ValueError("an event array needs its sensor geometry, e.g. geometry=(346, 260)")
            packets, sensor = as_event_packet(source), _geometry(geometry)
        pending: list = []

        def flush() -> Iterator[WindowResult]:
            frames = np.stack([ezsr_model_input(w.events, sensor, size=self.recognizer.input_size,
                                                coords=self.coords) for w in pending])
            for w, top in zip(pending, self.recognizer.recognize(torch.from_numpy(frames), k=k)):
                yield WindowResult(w.t_start_us, w.t_end_us, len(w.events), top)
            pending.clear()

        for window in iter_windows(packets, self.window, stride=stride):
            pending.append(window)
            if len(pending) >= batch:
                yield from flush()
        if pending:
            yield from flush()


def _geometry(geometry: Geometry | Sequence[int]) -> Geometry:
    return geometry if isinstance(geometry, Geometry) else Geometry(*(int(v) for v in geometry))


def load(name: str | None = None, *, window_ms: float | None = None, window_events: int | None = None,
         coords: str = "resize", **overrides: Any) -> ZeroShotModel:
    """The registered model ``name`` (None: the best one on this machine), as ``ezsr-live``
    would run it; ``overrides`` are :func:`ezsr_live.model.factory.resolve_config`'s."""
    from ezsr_live.model.factory import resolve_config
    from ezsr_live.model.recognizer import Recognizer

    if window_ms is not None and window_events is not None:
        raise ValueError("give window_ms or window_events, not both")
    config = resolve_config(name, **overrides)
    if window_events is not None:
        window = WindowSpec.by_events(window_events)
    elif window_ms is not None:
        window = WindowSpec.by_time_ms(window_ms)
    elif config.window is not None:
        kind, value = config.window
        window = WindowSpec.by_events(int(value)) if kind == "events" else WindowSpec.by_time_ms(value)
    else:
        window = WindowSpec.by_time_ms(DEFAULT_WINDOW_MS)
    return ZeroShotModel(Recognizer.from_config(config), window, coords)


__all__ = ["load", "ZeroShotModel", "WindowResult", "EventPacket"]
