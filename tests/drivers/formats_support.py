"""Helpers shared by the tests of the non-RAW recording formats."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ezsr_live.drivers import open_reader
from ezsr_live.errors import FormatError
from ezsr_live.events import TRIGGER_DTYPE, concat_events

REFERENCE_KEYS = ("n_events", "t_first", "t_last", "x_max", "y_max", "n_on", "sum_x", "sum_y", "sum_dt")


def reference_summary(events: np.ndarray) -> dict[str, int]:
    """The statistics reference.json records for a decoded sample."""
    t = events["t"]
    return {
        "n_events": len(events),
        "t_first": int(t[0]),
        "t_last": int(t[-1]),
        "x_max": int(events["x"].max()),
        "y_max": int(events["y"].max()),
        "n_on": int((events["p"] == 1).sum()),
        "sum_x": int(events["x"].sum(dtype=np.int64)),
        "sum_y": int(events["y"].sum(dtype=np.int64)),
        "sum_dt": int((t - t[0]).sum()),
    }


def read_chunks(path: Path | str, **kwargs: object) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """All events and triggers of a file and the size of every chunk."""
    reader = open_reader(path, **kwargs)  # type: ignore[arg-type]
    events, triggers, sizes = [], [], []
    for chunk in reader.iter_chunks():
        events.append(chunk.events)
        triggers.append(chunk.triggers)
        sizes.append(len(chunk.events))
    return (concat_events(events),
            np.concatenate(triggers) if triggers else np.zeros(0, TRIGGER_DTYPE), sizes)


def damaged_versions(data: bytes, seed: int, n: int) -> Iterator[tuple[str, bytes]]:
    """Deterministic truncations, bit flips, garbage runs and deletions of ``data``."""
    rng = np.random.default_rng(seed)
    size = len(data)
    for k in range(n):
        buf = bytearray(data)
        kind = k % 5
        if kind == 0:
            cut = int(rng.integers(0, size))
            yield f"truncate@{cut}", bytes(buf[:cut])
            continue
        if kind == 1:
            for _ in range(int(rng.integers(1, 8))):
                i = int(rng.integers(0, size))
                buf[i] ^= 1 << int(rng.integers(0, 8))
        elif kind == 2:
            i = int(rng.integers(0, size))
            j = min(size, i + int(rng.integers(1, 512)))
            buf[i:j] = rng.integers(0, 256, j - i, dtype=np.uint8).tobytes()
        elif kind == 3:
            i = int(rng.integers(0, min(size, 600)))
            buf[i] = int(rng.integers(0, 256))
        else:
            i = int(rng.integers(0, size))
            del buf[i:i + int(rng.integers(1, 9))]
        yield f"damage{kind}#{k}", bytes(buf)


def assert_each_ends_in_packets_or_format_error(
    cases: Iterator[tuple[str, bytes]], path: Path, open_kwargs: dict | None = None,
    write: Callable[[Path, bytes], None] | None = None,
) -> dict[str, int]:
    """Every case must yield in-geometry packets or raise FormatError naming the file."""
    outcomes = {"packets": 0, "format_error": 0}
    for label, blob in cases:
        (write or (lambda p, b: p.write_bytes(b)))(path, blob)
        try:
            reader = open_reader(path, **(open_kwargs or {}))
            for chunk in reader.iter_chunks():
                if len(chunk.events):
                    assert int(chunk.events["x"].max()) < reader.geometry.width, label
                    assert int(chunk.events["y"].max()) < reader.geometry.height, label
            outcomes["packets"] += 1
        except FormatError as exc:
            assert os.fspath(path) in str(exc), label
            outcomes["format_error"] += 1
    return outcomes
