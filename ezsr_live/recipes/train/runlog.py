"""A run's records: the CSV log (one row per logged step, validation columns on the
steps that validated), the loss/validation PNG and the optional TensorBoard scalars."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from .plot import plot_curves

LOG_FIELDS = ("step", "epoch", "lr", "loss", "modulation", "infonce", "cosine", "grad_norm",
              "samples_per_s", "elapsed_s", "val_top1", "val_top5")


def read_log(path: Path, up_to_step: int) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [row for row in csv.DictReader(fh) if int(row["step"]) <= up_to_step]


def write_log(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, LOG_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in LOG_FIELDS})


def append_log(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", newline="") as fh:
        csv.DictWriter(fh, LOG_FIELDS).writerow({k: row.get(k, "") for k in LOG_FIELDS})


def _column(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    picked = [(int(r["step"]), float(r[key])) for r in rows if r.get(key) not in ("", None)]
    return [s for s, _ in picked], [v for _, v in picked]


def plot_log(out: Path, rows: list[dict[str, Any]]) -> None:
    """``loss_curve.png``: the loss terms, and the validation top-1/top-5 on a 0-1 axis
    of their own when the run validated."""
    steps = [int(r["step"]) for r in rows]
    curves: dict[str, Sequence[float]] = {}
    for key in ("loss", "modulation", "infonce"):
        _, values = _column(rows, key)
        if len(values) == len(rows) and values:
            curves[key] = values
    if len(curves) == 2 and curves.get("loss") == curves.get("modulation"):
        del curves["loss"]  # a single-term loss: one curve says it all
    secondary = {key: _column(rows, key) for key in ("val_top1", "val_top5")}
    plot_curves(out / "loss_curve.png", steps, curves, title=out.name,
                secondary={k: v for k, v in secondary.items() if v[0]})


def tensorboard_scalars(writer: Any, row: dict[str, Any]) -> None:
    """One row's numbers as TensorBoard scalars under ``train/`` and ``val/``."""
    step = int(row["step"])
    for key, value in row.items():
        if key in ("step", "epoch") or value in ("", None):
            continue
        tag = f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"
        writer.add_scalar(tag, float(value), step)
    writer.flush()
