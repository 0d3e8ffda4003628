"""Training the demo CLIP (``ezsr-demo``) from scratch on generated shape images.

Contrastive image-caption training with open_clip's own model, tokenizer and loss
(:class:`open_clip.loss.ClipLoss`), AdamW (no weight decay on gains, biases and the
logit scale, as open_clip does), linear warm-up then cosine decay to a floor, and fixed
seeds. Batch ``k`` holds images ``k*B .. (k+1)*B-1`` of the training seed, so a run is
reproducible and never sees an image twice.

Zero-shot evaluation classifies freshly generated images (another seed) against the
class names through colour-, size- and background-free prompts
(:data:`ZERO_SHOT_TEMPLATES`, embeddings averaged per class): the shipped model must
recognise a shape whatever colour it is, and users type bare labels into the editor.

Checkpoints are ``NAME.safetensors`` (open_clip's state dict, loadable with
``load_clip("ezsr-demo", pretrained=PATH)``) plus a ``NAME.json`` sidecar (architecture,
labels, prompts, training configuration, metrics, sha256). Nothing is pickled.

``ezsr demo train`` runs it (:mod:`ezsr_live.cli.cmd_demo`).
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ezsr_live.fileio import sha256_file
from ezsr_live.recipes.demo.domains import DOMAINS, domain_of
from ezsr_live.recipes.demo.shapes import (
    SHAPE_CLASSES,
    ZERO_SHOT_TEMPLATES,
    ShapeGenerator,
    ShapesConfig,
    article,
    to_tensor,
)

log = logging.getLogger(__name__)

DEMO_MODEL = DOMAINS["shapes"].model_name

__all__ = ["ZERO_SHOT_TEMPLATES"]  # re-exported: the shapes domain's prompts

#: seed of the evaluation images; training seeds are small integers, so they never meet
EVAL_SEED = 1_000_003


@dataclass
class TeacherConfig:
    """One training run. ``steps`` fixes the schedule; ``time_limit_s`` may stop it early."""

    model_name: str = DEMO_MODEL
    steps: int = 3000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    #: the cosine ends at lr * min_lr_ratio rather than 0 (the feasibility run flattened
    #: as the rate decayed towards zero)
    min_lr_ratio: float = 0.05
    seed: int = 0
    shapes: ShapesConfig = field(default_factory=ShapesConfig)
    eval_every: int = 250
    eval_images: int = 600
    threads: int = 1
    #: DataLoader worker processes rendering batches ahead (0: render in the training thread)
    workers: int = 0
    time_limit_s: float | None = None
    #: None: open_clip's learnt logit scale (initialised at 1/0.07, capped at 100, as in
    #: CLIP); a number: the scale held fixed there. CLIP's own scale reaches its cap of
    #: 100 early; a low scale forces text onto the image embeddings (a small modality gap)
    fixed_logit_scale: float | None = None
    #: multiplies open_clip's initial text projection (std width**-0.5). Its part outside
    #: the span of the image embeddings gets no gradient from the contrastive loss, so the
    #: text directions images never vary along keep their initial size (CLIP's text
    #: tower carries its own directions; the miniature's would otherwise be small)
    text_projection_gain: float = 1.0
    #: False: the text projection is not weight-decayed, so that untrained part is kept
    text_projection_decay: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.eval_every < 1 or self.eval_images < 1:
            raise ValueError("steps, eval_every and eval_images must be positive and batch_size at least 2")
        if self.warmup_steps < 0 or not 0.0 <= self.min_lr_ratio <= 1.0 or self.lr <= 0:
            raise ValueError("warmup_steps must be non-negative, lr positive, min_lr_ratio in [0, 1]")
        if self.fixed_logit_scale is not None and not 1.0 <= self.fixed_logit_scale <= 100.0:
            raise ValueError(f"fixed_logit_scale must be in [1, 100], got {self.fixed_logit_scale}")
        if not 0.0 < self.text_projection_gain <= 100.0:
            raise ValueError(f"text_projection_gain must be in (0, 100], got {self.text_projection_gain}")

    def to_json(self) -> dict[str, Any]:
        d = json.loads(json.dumps(asdict(self)))  # tuples become lists
        d["domain"] = domain_of(self.shapes)
        return d


@dataclass
class ZeroShotResult:
    """Top-1 over generated images, per class, and the most frequent confusions."""

    top1: float
    per_class: dict[str, float]
    confusion: np.ndarray  # (C, C): rows true class, columns predicted
    classes: tuple[str, ...]

    def confusion_pairs(self, k: int = 5) -> list[tuple[str, str, int]]:
        """The ``k`` most frequent ``(true, predicted, count)`` mistakes."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(off, axis=None)[::-1][:k]
        pairs = []
        for flat in order:
            t, p = np.unravel_index(flat, off.shape)
            if off[t, p] > 0:
                pairs.append((self.classes[t], self.classes[p], int(off[t, p])))
        return pairs


@dataclass
class TrainingRecord:
    step: int
    images_seen: int
    seconds: float
    loss: float
    lr: float
    top1: float | None = None
    confusions: list[tuple[str, str, int]] | None = None


@dataclass
class TeacherRun:
    model: torch.nn.Module
    tokenizer: Callable[[list[str]], torch.Tensor]
    config: TeacherConfig
    history: list[TrainingRecord]
    final: ZeroShotResult
    #: images per second of wall time outside evaluation (rendering included)
    train_images_per_s: float
    #: images per second of forward/backward/optimiser time alone
    step_images_per_s: float


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_at(step: int, cfg: TeacherConfig) -> float:
    """Linear warm-up to ``lr``, then cosine down to ``lr * min_lr_ratio`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


def build_model(model_name: str = DEMO_MODEL) -> tuple[torch.nn.Module, Callable[[list[str]], torch.Tensor]]:
    """A randomly initialised open_clip model and its tokenizer (bundled configs registered)."""
    from ezsr_live.model.clip_loader import load_clip

    bundle = load_clip(model_name, pretrained=None)
    return bundle.model.train(), bundle.tokenizer


def _param_groups(model: torch.nn.Module, weight_decay: float,
                  text_projection_decay: bool = True) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # open_clip's rule: gains, biases, norms and the temperature are not decayed
        if (p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
                or (name == "text_projection" and not text_projection_decay)):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


class TeacherBatches(torch.utils.data.Dataset):
    """Item ``k`` is training batch ``k``: normalised images, tokens, class indices."""

    def __init__(self, generator: ShapeGenerator, batch_size: int, tokenizer: Callable, n_batches: int):
        self.generator, self.batch_size, self.tokenizer, self.n = generator, batch_size, tokenizer, n_batches

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        start = k * self.batch_size
        images, samples = self.generator.render(range(start, start + self.batch_size))
        tokens = self.tokenizer([s.caption for s in samples])
        labels = torch.tensor([s.class_index for s in samples])
        return to_tensor(images), tokens, labels


@torch.no_grad()
def class_embeddings(model: torch.nn.Module, tokenizer: Callable, classes: Sequence[str],
                     templates: Sequence[str] = ZERO_SHOT_TEMPLATES) -> torch.Tensor:
    """``(C, D)`` L2-normalised text classifiers: each class's prompt embeddings averaged."""
    prompts = [t.format(a=article(c), c=c) for c in classes for t in templates]
    # a few large batches: one text forward per class is slow with hundreds of classes
    emb = torch.cat([model.encode_text(tokenizer(prompts[i:i + 512])).float() for i in range(0, len(prompts), 512)])
    emb = torch.nn.functional.normalize(emb, dim=-1).view(len(classes), len(templates), -1)
    return torch.nn.functional.normalize(emb.mean(1), dim=-1)


@torch.no_grad()
def zero_shot_eval(model: torch.nn.Module, tokenizer: Callable, shapes: ShapesConfig | None = None,
                   n_images: int = 600, seed: int = EVAL_SEED, batch_size: int = 200) -> ZeroShotResult:
    """Zero-shot top-1 of ``model`` on ``n_images`` fresh images of ``seed``."""
    shapes = shapes or ShapesConfig()
    was_training = model.training
    model.eval()
    classes = shapes.class_names
    text = class_embeddings(model, tokenizer, classes, shapes.zero_shot_templates)
    gen = shapes.generator(seed)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for start in range(0, n_images, batch_size):
        images, samples = gen.render(range(start, min(n_images, start + batch_size)))
        feats = torch.nn.functional.normalize(model.encode_image(to_tensor(images)).float(), dim=-1)
        pred = (feats @ text.T).argmax(dim=1).numpy()
        truth = np.array([s.class_index for s in samples])
        np.add.at(confusion, (truth, pred), 1)
    model.train(was_training)
    totals = confusion.sum(axis=1)
    per_class = {c: float(confusion[i, i] / totals[i]) if totals[i] else float("nan")
                 for i, c in enumerate(classes)}
    return ZeroShotResult(float(np.trace(confusion) / max(1, confusion.sum())), per_class, confusion, classes)


def train_teacher(cfg: TeacherConfig, on_record: Callable[[TrainingRecord], None] | None = None) -> TeacherRun:
    """Train ``cfg.model_name`` from scratch; evaluates every ``eval_every`` steps and at the end."""
    from open_clip.loss import ClipLoss

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    model, tokenizer = build_model(cfg.model_name)
    model.train()
    if cfg.fixed_logit_scale is not None:
        with torch.no_grad():
            model.logit_scale.fill_(math.log(cfg.fixed_logit_scale))
        model.logit_scale.requires_grad_(False)
    with torch.no_grad():
        model.text_projection.mul_(cfg.text_projection_gain)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay, cfg.text_projection_decay), lr=cfg.lr,
                                  betas=(0.9, 0.98), eps=1e-6)
    loss_fn = ClipLoss()
    batches = TeacherBatches(cfg.shapes.generator(cfg.seed), cfg.batch_size, tokenizer, cfg.steps)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False, num_workers=cfg.workers,
                                         prefetch_factor=4 if cfg.workers else None)
    history: list[TrainingRecord] = []
    t0 = time.perf_counter()
    result: ZeroShotResult | None = None
    result_step = -1
    step_s = 0.0  # time in forward/backward/optimiser steps alone
    eval_s = 0.0
    step = 0
    for step, (images, tokens, _labels) in enumerate(loader):
        t_step = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        image_f, text_f, scale = model(images, tokens)
        loss = loss_fn(image_f, text_f, scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # CLIP's cap on the temperature
            model.logit_scale.clamp_(0, math.log(100))
        step_s += time.perf_counter() - t_step
        loss_value = loss.detach().item()
        done = step + 1
        out_of_time = cfg.time_limit_s is not None and time.perf_counter() - t0 >= cfg.time_limit_s
        if done % cfg.eval_every == 0 or done == cfg.steps or out_of_time:
            t_eval = time.perf_counter()
            res = result = zero_shot_eval(model, tokenizer, cfg.shapes, cfg.eval_images)
            result_step = done
            eval_s += time.perf_counter() - t_eval
            rec = TrainingRecord(done, done * cfg.batch_size, time.perf_counter() - t0, loss_value, lr,
                                 res.top1, res.confusion_pairs(3))
            history.append(rec)
            log.info("step %d  images %d  %.0f s  loss %.3f  lr %.2e  zero-shot top-1 %.3f  %s", rec.step,
                     rec.images_seen, rec.seconds, rec.loss, lr, res.top1, rec.confusions)
            if on_record:
                on_record(rec)
        else:
            history.append(TrainingRecord(done, done * cfg.batch_size, time.perf_counter() - t0, loss_value, lr))
        if out_of_time:
            log.info("time limit reached after %d of %d steps", done, cfg.steps)
            break
    seen = (step + 1) * cfg.batch_size
    train_wall = time.perf_counter() - t0 - eval_s
    if result is None or result_step != step + 1:
        result = zero_shot_eval(model, tokenizer, cfg.shapes, cfg.eval_images)
    model.eval()
    rates = {"train_images_per_s": seen / train_wall, "step_images_per_s": seen / step_s if step_s else float("nan")}
    return TeacherRun(model, tokenizer, cfg, history, result, **rates)


def save_teacher(model: torch.nn.Module, path: str | Path, *, model_name: str = DEMO_MODEL,
                 classes: Sequence[str] = SHAPE_CLASSES, fp16: bool = True,
                 config: TeacherConfig | None = None, metrics: dict[str, Any] | None = None,
                 templates: Sequence[str] = ZERO_SHOT_TEMPLATES) -> Path:
    """Write ``path`` (safetensors; fp16 halves the size) and its ``.json`` sidecar;
    returns the sidecar's path."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if fp16 else torch.float32
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
               for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "pt", "model_name": model_name})
    sidecar = path.with_suffix(".json")
    meta = {
        "format": "ezsr-live demo teacher",
        "version": 1,
        "model_name": model_name,
        "weights": path.name,
        "sha256": sha256_file(path),
        "dtype": "float16" if fp16 else "float32",
        "parameters": int(sum(t.numel() for t in tensors.values())),
        "labels": list(classes),
        "zero_shot_templates": list(templates),
        "training": config.to_json() if config else None,
        "metrics": metrics or {},
    }
    sidecar.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return sidecar


def load_teacher(path: str | Path, device: str = "cpu"):
    """The teacher at ``path`` as a :class:`~ezsr_live.model.clip_loader.ClipBundle` (fp32),
    after checking the sidecar's sha256."""
    from ezsr_live.errors import ModelError
    from ezsr_live.model.clip_loader import load_clip

    path = Path(path)
    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{sidecar}: cannot read the teacher's sidecar: {exc}") from exc
    if meta.get("sha256") and sha256_file(path) != meta["sha256"]:
        raise ModelError(f"{path}: sha256 does not match {sidecar.name}")
    return load_clip(meta.get("model_name", DEMO_MODEL), pretrained=str(path), device=device)


def _summary(run: TeacherRun) -> dict[str, Any]:
    curve = [{"step": r.step, "images": r.images_seen, "seconds": round(r.seconds, 1), "loss": round(r.loss, 4),
              "top1": r.top1} for r in run.history if r.top1 is not None]
    return {
        "final_top1": run.final.top1,
        "per_class_top1": run.final.per_class,
        "confusions": run.final.confusion_pairs(8),
        "train_images_per_s": round(run.train_images_per_s, 1),
        "step_images_per_s": round(run.step_images_per_s, 1),
        "curve": curve,
    }


def train_and_save(cfg: TeacherConfig, out: Path, fp16: bool = True) -> tuple[Path, dict[str, Any]]:
    """Train a teacher, write ``out/teacher.safetensors`` (+ sidecar) and ``out/run.json``;
    returns the weights' path and the run's summary."""
    run = train_teacher(cfg)
    summary = _summary(run)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "teacher.safetensors"
    save_teacher(run.model, weights, model_name=cfg.model_name, classes=cfg.shapes.class_names,
                 templates=cfg.shapes.zero_shot_templates, fp16=fp16, config=cfg,
                 metrics={k: summary[k] for k in ("final_top1", "per_class_top1", "train_images_per_s",
                                                  "step_images_per_s")})
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return weights, summary



#: seed of the images a teacher's labelled pool embeds (neither training nor evaluation images)
POOL_SEED = 2_000_003


def write_vocabulary(shapes: ShapesConfig, out: Path) -> tuple[Path, Path]:
    """``out/labels.txt`` (the class names) and ``out/templates.txt`` (the zero-shot
    prompts in the ``{}`` form of ``--templates``); returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    labels, templates = out / "labels.txt", out / "templates.txt"
    labels.write_text("\n".join(shapes.class_names) + "\n", encoding="utf-8")
    # "{a} {c}" prompts need the article of each label: the vocabulary's "{}" form cannot
    # say it, so those templates keep the article of the first class
    first = shapes.class_names[0]
    lines = [t.replace("{a}", article(first)).replace("{c}", "{}") for t in shapes.zero_shot_templates]
    templates.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return labels, templates


@torch.no_grad()
def write_image_pool(model: torch.nn.Module, shapes: ShapesConfig, path: Path, model_id: str, n_images: int,
                     seed: int = POOL_SEED, batch: int = 500) -> Path:
    """A labelled k-NN pool of the teacher's embeddings of ``n_images`` fresh generated
    images (what ``ezsr geometry`` and the k-NN translation read)."""
    from ezsr_live.model.knn import create_pool

    gen = shapes.generator(seed)
    model.eval()
    feats: list[np.ndarray] = []
    labels: list[int] = []
    for start in range(0, n_images, batch):
        images, samples = gen.render(range(start, min(n_images, start + batch)))
        feats.append(model.encode_image(to_tensor(images)).float().numpy())
        labels.extend(s.class_index for s in samples)
    create_pool(path, np.concatenate(feats), model_id, kind="flat",
                source=f"generated {domain_of(shapes)} images, seed {seed}",
                label_names=shapes.class_names, label_ids=np.asarray(labels, dtype=np.int32))
    return path
