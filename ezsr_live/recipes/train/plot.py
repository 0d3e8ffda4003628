"""The loss-curve PNG: matplotlib when installed, otherwise a plain chart drawn with PIL
(matplotlib is not a dependency of the project)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


Secondary = dict[str, tuple[Sequence[int], Sequence[float]]]


def plot_curves(path: Path, steps: Sequence[int], curves: dict[str, Sequence[float]], title: str = "",
                secondary: Secondary | None = None) -> Path:
    """Line chart of ``curves`` (name -> values per step), log-scaled y when all positive;
    ``secondary`` (name -> (steps, values) in [0, 1], e.g. validation accuracy) on a
    linear right-hand axis of its own."""
    secondary = secondary or {}
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _plot_pil(path, steps, curves, title, secondary)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for name, values in curves.items():
        ax.plot(steps, values, label=name)
    if all(v > 0 for vs in curves.values() for v in vs):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend(loc="upper left")
    if secondary:
        right = ax.twinx()
        for i, (name, (s, values)) in enumerate(secondary.items()):
            right.plot(s, values, marker="o", linestyle="--", color=f"C{len(curves) + i}", label=name)
        right.set_ylim(0, 1)
        right.set_ylabel("validation accuracy")
        right.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_pil(path: Path, steps: Sequence[int], curves: dict[str, Sequence[float]], title: str,
              secondary: Secondary) -> Path:
    from PIL import Image, ImageDraw

    w, h, left, right, top, bottom = 720, 420, 70, 20, 36, 40
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    values = [v for vs in curves.values() for v in vs if math.isfinite(v)]
    if not steps or not values:
        draw.text((left, h // 2), "no data", fill="black")
        img.save(path)
        return path
    log_y = all(v > 0 for v in values)
    tf = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    lo, hi = min(map(tf, values)), max(map(tf, values))
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    s0, s1 = min(steps), max(steps)
    s1 = s1 if s1 > s0 else s0 + 1

    def xy(step: float, value: float) -> tuple[float, float]:
        x = left + (step - s0) / (s1 - s0) * (w - left - right)
        y = top + (hi - tf(value)) / (hi - lo) * (h - top - bottom)
        return x, y

    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    for frac in (0.0, 0.5, 1.0):
        yv = lo + frac * (hi - lo)
        y = top + (1 - frac) * (h - top - bottom)
        label = f"{10 ** yv:.3g}" if log_y else f"{yv:.3g}"
        draw.text((4, y - 6), label, fill="black")
    draw.text((left, h - bottom + 6), str(s0), fill="black")
    draw.text((w - right - 40, h - bottom + 6), str(s1), fill="black")
    draw.text((w // 2 - 15, h - 18), "step", fill="black")
    draw.text((left, 8), title + ("  (log y)" if log_y else ""), fill="black")
    for i, (name, vs) in enumerate(curves.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        pts = [xy(s, v) for s, v in zip(steps, vs) if math.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        elif pts:
            draw.ellipse([pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2], fill=colour)
        draw.text((w - right - 150, top + 6 + 14 * i), name, fill=colour)
    for j, (name, (s, vs)) in enumerate(secondary.items()):
        # a linear 0-1 scale of its own, marked on the right edge
        colour = _COLOURS[(len(curves) + j) % len(_COLOURS)]
        pts = [(left + (st - s0) / (s1 - s0) * (w - left - right), top + (1 - v) * (h - top - bottom))
               for st, v in zip(s, vs) if math.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for x, y in pts:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour)
        draw.text((w - right - 150, top + 6 + 14 * (len(curves) + j)), f"{name} (0-1, right)", fill=colour)
    if secondary:
        draw.text((w - right - 18, top - 12), "1", fill="black")
        draw.text((w - right - 18, h - bottom - 12), "0", fill="black")
    img.save(path)
    return path
