"""Accuracy bookkeeping and the evaluation's files: per-class CSV and confusion PNG."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass
class Scores:
    """Running top-1/top-5 counts and a confusion matrix for one scoring variant."""

    n_classes: int
    top1: int = 0
    top5: int = 0
    count: int = 0
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.confusion = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)

    def add(self, logits: np.ndarray, labels: np.ndarray) -> None:
        k = min(5, logits.shape[1])
        self.add_top(np.argsort(-logits, axis=1, kind="stable")[:, :k], labels)

    def add_top(self, top: np.ndarray, labels: np.ndarray) -> None:
        """Count samples from their (N, k) best labels, best first."""
        self.top1 += int((top[:, 0] == labels).sum())
        self.top5 += int((top == labels[:, None]).any(axis=1).sum())
        self.count += len(labels)
        np.add.at(self.confusion, (labels, top[:, 0]), 1)

    @property
    def top1_acc(self) -> float:
        return self.top1 / self.count if self.count else float("nan")

    @property
    def top5_acc(self) -> float:
        return self.top5 / self.count if self.count else float("nan")

    def per_class(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(self.confusion) / np.maximum(totals, 1), np.nan)


def write_per_class_csv(
    path: Path, class_names: Sequence[str], variants: dict[str, Scores], *, folders: Sequence[str] | None = None
) -> Path:
    """One row per class: its folder (rows stay distinct where two synsets share a
    name), sample count and top-1 accuracy under each variant."""
    first = next(iter(variants.values()))
    totals = first.confusion.sum(axis=1)
    per = {name: s.per_class() for name, s in variants.items()}
    folders = list(folders) if folders is not None else [""] * len(class_names)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["class_index", "class_name", "class_folder", "samples"] + [f"top1_{name}" for name in variants])
        for i, cname in enumerate(class_names):
            w.writerow([i, cname, folders[i], int(totals[i])]
                       + [("" if np.isnan(per[n][i]) else f"{per[n][i]:.4f}") for n in variants])
    return path


def write_predictions_csv(path: Path, predictions: Sequence[Any], sample_paths: Sequence[str],
                          class_names: Sequence[str]) -> Path:
    """One row per scored sample: its file, true class and top-5 classes per variant."""
    variants = list(predictions[0].top) if predictions else []
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "path", "label", "label_name"]
                   + [c for v in variants for c in (f"top1_{v}", f"correct_{v}", f"top5_{v}")])
        for p in predictions:
            row = [p.index, sample_paths[p.index], p.label, class_names[p.label]]
            for v in variants:
                top = p.top[v]
                row += [class_names[top[0]], int(top[0] == p.label), "|".join(class_names[t] for t in top)]
            w.writerow(row)
    return path


def write_confusion_png(path: Path, confusion: np.ndarray, class_names: Sequence[str], title: str = "") -> Path:
    """Row-normalised confusion matrix as an image (true class down, predicted across);
    class names are drawn when there are few enough classes to read them."""
    from PIL import Image, ImageDraw

    n = confusion.shape[0]
    rows = confusion.sum(axis=1, keepdims=True)
    norm = confusion / np.maximum(rows, 1)
    labelled = n <= 101  # N-Caltech101: readable at the default font's 11 px line height
    cell = max(12, min(24, 1200 // max(1, n))) if labelled else max(1, min(24, 800 // max(1, n)))
    margin = 150 if labelled else 20
    top = 30
    grid = (255 * (1.0 - norm)).astype(np.uint8)  # white = 0, dark blue = 1
    rgb = np.stack([grid, grid, np.full_like(grid, 255)], axis=-1)
    rgb[..., 2] = np.where(norm > 0, 255 - (norm * 100).astype(np.uint8), 255)
    tile = Image.fromarray(rgb, "RGB").resize((n * cell, n * cell), Image.NEAREST)
    title = title or "confusion (rows: true, columns: predicted)"
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(margin + n * cell + 10, 4 + int(draw.textlength(title)) + 10)
    img = Image.new("RGB", (width, top + n * cell + 24), "white")
    img.paste(tile, (margin, top))
    draw = ImageDraw.Draw(img)
    draw.text((4, 8), title, fill="black")
    if labelled:
        # column labels written vertically is beyond PIL's plain text: number the columns
        # (every fifth when the cells are narrower than a three-digit number) and the rows
        step = 1 if cell >= 20 else 5
        for i, name in enumerate(class_names):
            draw.text((4, top + i * cell + max(0, cell // 2 - 6)), f"{i} {name}"[:24], fill="black")
            if i % step == 0:
                draw.text((margin + i * cell + 1, top + n * cell + 4), str(i), fill="black")
    img.save(path)
    return path
