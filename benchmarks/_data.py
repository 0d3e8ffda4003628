"""Shared benchmark inputs: big recordings built from the real samples (temp files)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.events import Geometry

SAMPLES = Path(os.environ.get("EZSR_SAMPLES", Path(__file__).resolve().parents[1].parent / "shared" / "samples"))


def tiled_raw(sample: str, n_events: int, out: Path) -> Path:
    """Write ``sample``'s events again and again (shifted in time) until ``n_events``
    (the writer follows ``out``'s extension: ``.raw`` EVT 3.0, ``.evt2.raw`` EVT 2.0)."""
    reader = open_reader(SAMPLES / sample)
    events = reader.read_all()
    span = int(events["t"].max() - events["t"].min()) + 1
    with open_writer(out, reader.geometry) as writer:
        written, k = 0, 0
        while written < n_events:
            tile = events.copy()
            tile["t"] += k * span
            writer.write(tile)
            written += len(tile)
            k += 1
    return out


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ezsr-bench-"))


def geometry_of(path: Path) -> Geometry:
    return open_reader(path).geometry


def as_contiguous(events: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(events)
