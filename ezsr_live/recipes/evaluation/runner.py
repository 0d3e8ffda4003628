"""Zero-shot evaluation on an event dataset: windows -> EZSR frames -> event embeddings
-> scores against the class names' text embeddings, with and without k-NN translation.

Files are decoded in DataLoader workers (``workers``) so that decoding overlaps the
model, and under ``torchrun`` each rank scores every world-size-th sample; rank 0
gathers the per-sample predictions and writes the report, which is therefore the same
whatever the number of processes and workers.

Windows follow the official EZSR evaluation: 15,000 consecutive events from a random
start, the start drawn from a generator seeded with (seed, sample index) so that a run is
reproducible and independent of batching and ``--limit``; or the whole sample. (The
official N-ImageNet script also jitters the window length by +-2,000 events;
``length_jitter`` reproduces that, off by default.)
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ezsr_live.errors import EzsrError
from ezsr_live.settings import DEFAULT_WINDOW_EVENTS
from ezsr_live.events import EventPacket
from ezsr_live.kernels import ezsr_model_input

from .datasets import EvalSample, EvalSet
from .report import Scores, write_confusion_png, write_per_class_csv, write_predictions_csv

log = logging.getLogger(__name__)


@dataclass
class EvalConfig:
    window: str = "events"  # "events": window_events from a seeded random start; "whole": every event
    window_events: int = DEFAULT_WINDOW_EVENTS
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

    predictions: list["SamplePrediction"] = field(default_factory=list)
    is_main: bool = True  # False on the other ranks of a torchrun evaluation (no report there)
    wall_s: float = 0.0  # decoding and scoring, all ranks gathered (start-up not included)

    def summary(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {"dataset": self.dataset, "samples": self.n_samples,
                                             "unreadable": len(self.unreadable), "wall_s": round(self.wall_s, 3),
                                             "samples_per_s": round(self.n_samples / max(self.wall_s, 1e-9), 2)}
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


TOP = 5


@dataclass(frozen=True)
class SamplePrediction:
    """One scored sample: its index in the set, true label and top-5 labels per variant."""

    index: int
    label: int
    top: dict[str, tuple[int, ...]]


class SampleFrames(torch.utils.data.Dataset):
    """Model inputs of the selected samples, decoded wherever the DataLoader runs it; an
    unreadable file yields an empty frame and its error instead of stopping the run."""

    def __init__(self, eval_set: EvalSet, order: Sequence[int], config: EvalConfig, size: int):
        self.eval_set, self.order, self.config, self.size = eval_set, list(order), config, size

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int, str]:
        from ezsr_live.errors import FormatError

        index = self.order[i]
        sample = self.eval_set.samples[index]
        try:
            frame = sample_frame(sample, index, self.eval_set, self.config, self.size)
            return torch.from_numpy(frame), sample.label, index, ""
        except FormatError as exc:
            return torch.zeros(3, self.size, self.size), sample.label, index, str(exc)


def selected_samples(eval_set: EvalSet, config: EvalConfig) -> list[int]:
    """The indices evaluated: all, or a seeded random ``limit`` of them, in set order."""
    order = list(range(len(eval_set.samples)))
    if config.limit is not None and config.limit < len(order):
        order = sorted(np.random.default_rng(config.seed).permutation(len(order))[: config.limit].tolist())
    return order


def _gather(records: list, unreadable: list[str]) -> tuple[list, list[str], bool]:
    """Every rank's records on rank 0 (no-op without a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return records, unreadable, True
    everything: list = [None] * dist.get_world_size()
    dist.all_gather_object(everything, (records, unreadable))
    if dist.get_rank() != 0:
        return [], [], False
    merged = sorted((r for part, _ in everything for r in part), key=lambda r: r.index)
    return merged, sorted(u for _, part in everything for u in part), True


def _shard(order: list[int]) -> list[int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return order[dist.get_rank()::dist.get_world_size()]
    return order


def evaluate(
    eval_set: EvalSet,
    embed: Callable[[torch.Tensor], torch.Tensor],
    text_matrix: torch.Tensor,
    input_size: int,
    config: EvalConfig,
    *,
    knn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    out_dir: str | Path | None = None,
    workers: int = 0,
    provenance: dict[str, Any] | None = None,
) -> EvalReport:
    """Score every selected sample; ``embed`` maps (B, 3, S, S) frames to normalised
    embeddings, ``knn`` (optional) translates them. Writes per-class and per-sample CSVs,
    confusion PNGs and summary.json (with ``provenance``) into ``out_dir`` when given."""
    started = time.perf_counter()
    order = _shard(selected_samples(eval_set, config))
    text = torch.nn.functional.normalize(text_matrix.float(), dim=-1)
    k = min(TOP, text.shape[0])
    loader = torch.utils.data.DataLoader(
        SampleFrames(eval_set, order, config, input_size), batch_size=max(1, config.batch_size),
        num_workers=workers, shuffle=False, persistent_workers=False)
    records: list[SamplePrediction] = []
    unreadable: list[str] = []
    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(order), unit="sample", desc=f"evaluating {eval_set.dataset}", dynamic_ncols=True)
    for frames, labels, indices, errors in loader:
        ok = [i for i, err in enumerate(errors) if not err]
        for err in errors:
            if err:
                log.warning("skipping unreadable sample: %s", err)
        unreadable += [str(eval_set.samples[int(indices[i])].path) for i, err in enumerate(errors) if err]
        if ok:
            e = embed(frames[ok]).float()
            tops = {"plain": (e.to(text.device) @ text.T).topk(k, dim=1).indices.cpu()}
            if knn is not None:
                tops["knn"] = (knn(e).float().to(text.device) @ text.T).topk(k, dim=1).indices.cpu()
            for row, i in enumerate(ok):
                records.append(SamplePrediction(int(indices[i]), int(labels[i]),
                                                {name: tuple(t[row].tolist()) for name, t in tops.items()}))
        if bar is not None:
            bar.update(len(errors))
    if bar is not None:
        bar.close()
    records, unreadable, is_main = _gather(records, unreadable)
    if not is_main:
        return EvalReport(eval_set.dataset, 0, [], {}, is_main=False)
    if not records:
        raise EzsrError(f"{eval_set.root}: no sample could be evaluated")
    variants = {name: Scores(len(eval_set.class_names)) for name in records[0].top}
    for name, scores in variants.items():
        scores.add_top(np.array([r.top[name] for r in records]), np.array([r.label for r in records]))
    report = EvalReport(eval_set.dataset, len(records), unreadable, variants, predictions=records,
                        wall_s=time.perf_counter() - started)
    if out_dir is not None:
        _write_files(Path(out_dir), report, eval_set, provenance or {})
    return report


def _write_files(out: Path, report: EvalReport, eval_set: EvalSet, provenance: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    names = eval_set.class_names
    report.files["per_class"] = str(write_per_class_csv(out / "per_class.csv", names, report.variants,
                                                        folders=eval_set.folders))
    report.files["predictions"] = str(write_predictions_csv(
        out / "predictions.csv", report.predictions, [str(s.path) for s in eval_set.samples], names))
    for name, scores in report.variants.items():
        png = out / ("confusion.png" if name == "plain" else f"confusion_{name}.png")
        title = f"{eval_set.dataset} ({name}): top-1 = {100 * scores.top1_acc:.1f} %, {scores.count} samples"
        report.files[f"confusion_{name}"] = str(write_confusion_png(png, scores.confusion, names, title))
    summary = out / "summary.json"
    doc = {**report.summary(), "unreadable_files": report.unreadable,
           "provenance": {**provenance, "dataset_root": str(eval_set.root.resolve()), "classes": len(names),
                          "samples_found": len(eval_set.samples), "samples_evaluated": report.n_samples}}
    summary.write_text(json.dumps(doc, indent=1) + "\n")
    report.files["summary"] = str(summary)
