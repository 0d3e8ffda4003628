"""Zero-shot evaluation on an event dataset: windows -> EZSR frames -> event embeddings
-> scores against the class names' text embeddings, with and without k-NN translation.

Windows follow the official EZSR evaluation: 15,000 consecutive events from a random
start, the start drawn from a generator seeded with (seed, sample index) so that a run is
reproducible and independent of batching and ``--limit``; or the whole sample. (The
official N-ImageNet script also jitters the window length by +-2,000 events;
``length_jitter`` reproduces that, off by default.)
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ezsr_live.errors import EzsrError
from ezsr_live.events import EventPacket
from ezsr_live.kernels import ezsr_model_input

from .datasets import EvalSample, EvalSet
from .report import Scores, write_confusion_png, write_per_class_csv

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    window: str = "events"  # "events": window_events from a seeded random start; "whole": every event
    window_events: int = 15_000
    length_jitter: int = 0
    seed: int = 0
    batch_size: int = 32
    limit: int | None = None  # evaluate this many samples, a seeded random subset
    progress: bool = True

    def __post_init__(self) -> None:
        if self.window not in ("events", "whole"):
            raise ValueError(f"window must be 'events' or 'whole', got {self.window!r}")
        if self.window_events < 1 or self.length_jitter < 0 or self.length_jitter >= self.window_events:
            raise ValueError("window_events must be >= 1 and 0 <= length_jitter < window_events")


@dataclass
class EvalReport:
    dataset: str
    n_samples: int
    unreadable: list[str]
    variants: dict[str, Scores]
    files: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {"dataset": self.dataset, "samples": self.n_samples,
                                             "unreadable": len(self.unreadable)}
        for name, s in self.variants.items():
            out[f"top1_{name}"] = s.top1_acc
            out[f"top5_{name}"] = s.top5_acc
        return out


def select_window(events: EventPacket, config: EvalConfig, rng: np.random.Generator) -> EventPacket:
    """The evaluated events of one sample (see the module docstring)."""
    if config.window == "whole":
        return events
    n = config.window_events
    if config.length_jitter:
        n = int(rng.integers(n - config.length_jitter, n + config.length_jitter + 1))
    if len(events) <= n:
        return events
    start = int(rng.integers(0, len(events) - n + 1))
    return events[start:start + n]


def sample_frame(sample: EvalSample, index: int, eval_set: EvalSet, config: EvalConfig, size: int) -> np.ndarray:
    """(3, size, size) model input of one sample; raises FormatError for a bad file.

    The sample is read and framed in the dataset's fixed sensor, never in the bounding
    box of its own events (a narrow sample would be magnified and cropped differently
    from its neighbours); events outside that sensor are dropped, and said."""
    from ezsr_live.drivers.registry import open_reader

    with open_reader(sample.path, geometry=eval_set.geometry) as reader:
        events = reader.read_all()
        outside = reader.stats.out_of_bounds
    if outside:
        log.warning("%s: %d events lie outside the %s sensor of %s and were dropped",
                    sample.path, outside, eval_set.geometry, eval_set.dataset)
    window = select_window(events, config, np.random.default_rng([config.seed, index]))
    return ezsr_model_input(window, eval_set.geometry, size=size, coords=eval_set.coords)


def class_text_matrix(class_names: Sequence[str], encode: Callable[[list[str]], torch.Tensor]) -> torch.Tensor:
    """(C, D) class embeddings in label order; repeated names (ImageNet has two "crane"s)
    share one row, as they would in any zero-shot classifier built from names."""
    unique = list(dict.fromkeys(class_names))
    matrix = encode(unique)
    return matrix[[unique.index(n) for n in class_names]]


def evaluate(
    eval_set: EvalSet,
    embed: Callable[[torch.Tensor], torch.Tensor],
    text_matrix: torch.Tensor,
    input_size: int,
    config: EvalConfig,
    *,
    knn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    out_dir: str | Path | None = None,
) -> EvalReport:
    """Score every selected sample; ``embed`` maps (B, 3, S, S) frames to normalised
    embeddings, ``knn`` (optional) translates them. Writes per-class CSV, confusion PNGs
    and summary.json into ``out_dir`` when given."""
    from ezsr_live.errors import FormatError

    order = list(range(len(eval_set.samples)))
    if config.limit is not None and config.limit < len(order):
        order = sorted(np.random.default_rng(config.seed).permutation(len(order))[: config.limit].tolist())
    n_classes = len(eval_set.class_names)
    variants = {"plain": Scores(n_classes)}
    if knn is not None:
        variants["knn"] = Scores(n_classes)
    text = torch.nn.functional.normalize(text_matrix.float(), dim=-1)
    unreadable: list[str] = []
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(order), unit="sample", desc=f"evaluating {eval_set.dataset}", dynamic_ncols=True)
    frames: list[np.ndarray] = []
    labels: list[int] = []

    def flush() -> None:
        if not frames:
            return
        batch = torch.from_numpy(np.stack(frames))
        e = embed(batch).float()
        y = np.asarray(labels)
        variants["plain"].add((e.to(text.device) @ text.T).cpu().numpy(), y)
        if knn is not None:
            variants["knn"].add((knn(e).float().to(text.device) @ text.T).cpu().numpy(), y)
        frames.clear()
        labels.clear()
        if bar is not None:
            bar.set_postfix(top1=f"{variants['plain'].top1_acc:.3f}")

    for index in order:
        sample = eval_set.samples[index]
        try:
            frames.append(sample_frame(sample, index, eval_set, config, input_size))
            labels.append(sample.label)
        except FormatError as exc:
            log.warning("skipping unreadable sample: %s", exc)
            unreadable.append(str(sample.path))
        if len(frames) >= config.batch_size:
            flush()
        if bar is not None:
            bar.update(1)
    flush()
    if bar is not None:
        bar.close()
    if variants["plain"].count == 0:
        raise EzsrError(f"{eval_set.root}: no sample could be evaluated")
    report = EvalReport(eval_set.dataset, variants["plain"].count, unreadable, variants)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        report.files["per_class"] = str(write_per_class_csv(out / "per_class.csv", eval_set.class_names, variants,
                                                                  folders=eval_set.folders))
        for name, scores in variants.items():
            png = out / ("confusion.png" if name == "plain" else f"confusion_{name}.png")
            report.files[f"confusion_{name}"] = str(write_confusion_png(
                png, scores.confusion, eval_set.class_names,
                f"{eval_set.dataset} ({name}): top-1 {scores.top1_acc:.3f}"))
        summary = out / "summary.json"
        summary.write_text(json.dumps({**report.summary(), "unreadable_files": unreadable}, indent=1) + "\n")
        report.files["summary"] = str(summary)
    return report
