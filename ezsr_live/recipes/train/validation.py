"""Validation during training: zero-shot top-1/top-5 of the student on a held-out event
set, scored exactly as ``ezsr eval`` scores (same windows, frames and text matrix), and
the optional TensorBoard writer.

The class names' text embeddings come from the teacher's own text tower, computed once
before training starts. Under ``torchrun`` every rank scores its share of the samples
and rank 0 gathers them (:func:`~ezsr_live.recipes.evaluation.runner.evaluate`)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ezsr_live.errors import EzsrError

from .config import TrainConfig

log = logging.getLogger(__name__)


def validation_set(cfg: TrainConfig) -> Any:
    """The held-out :class:`~ezsr_live.recipes.evaluation.EvalSet` (checked before the model loads)."""
    from ezsr_live.recipes.evaluation import discover
    from ezsr_live.recipes.evaluation.folder import discover_event_folder

    assert cfg.val_events
    return discover(cfg.val_dataset, cfg.val_events) if cfg.val_dataset else discover_event_folder(cfg.val_events)


class Validator:
    """Scores a student tower on a held-out set; build before the text tower is freed."""

    def __init__(self, cfg: TrainConfig, eval_set: Any, clip: Any, input_size: int, device: torch.device):
        from ezsr_live.model.vocabulary import Vocabulary
        from ezsr_live.recipes.evaluation import EvalConfig, class_text_matrix

        self.eval_set = eval_set
        names = self.eval_set.class_names
        vocab = Vocabulary(clip.encode_text, clip.identity, list(dict.fromkeys(names)), cfg.val_templates)
        with torch.no_grad():
            matrix = vocab.matrix()
            self.text = class_text_matrix(names, lambda ns: matrix[[vocab.labels.index(n) for n in ns]]).to(device)
        self.config = EvalConfig("events", cfg.val_window_events, 0, cfg.seed, cfg.batch_size, None, False)
        self.input_size = input_size
        self.device = device

    def __call__(self, student: torch.nn.Module) -> dict[str, float]:
        """{"val_top1", "val_top5"} of ``student`` (left in eval mode: the caller restores)."""
        from ezsr_live.recipes.evaluation import evaluate

        student.eval()

        @torch.no_grad()
        def embed(frames: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(student(frames.to(self.device)).float(), dim=-1)

        report = evaluate(self.eval_set, embed, self.text, self.input_size, self.config)
        if not report.is_main:
            return {}
        scores = report.variants["plain"]
        return {"val_top1": scores.top1_acc, "val_top5": scores.top5_acc}


def tensorboard_writer(cfg: TrainConfig, out: Path) -> Any:
    """A SummaryWriter into ``RUN/tensorboard``, or None (``cfg.tensorboard``: auto
    writes one when TensorBoard is installed, on requires it, off never)."""
    if cfg.tensorboard == "off":
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        if cfg.tensorboard == "on":
            raise EzsrError("--tensorboard on: TensorBoard is not installed (pip install tensorboard), "
                            "or pass --tensorboard off") from None
        log.debug("TensorBoard not installed: no event files (pip install tensorboard to have them)")
        return None
    folder = out / "tensorboard"
    log.info("TensorBoard: %s (tensorboard --logdir %s)", folder, folder)
    return SummaryWriter(log_dir=str(folder))
