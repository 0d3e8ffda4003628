"""The distillation loop: a CLIP image tower (student) learns to embed synthesised event
frames where the frozen tower (teacher) embeds the images they came from.

AdamW with linear warm-up and cosine decay, AMP on CUDA (bf16 where supported, else fp16
with a gradient scaler), gradient clipping and accumulation, checkpoints every N steps
with ``--resume``, deterministic data (see :mod:`.data`), a CSV log and a loss-curve PNG.
Under ``torchrun`` the student is wrapped in DistributedDataParallel, each rank reads
its shard of every epoch, and only rank 0 logs, plots and writes checkpoints.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader

from ezsr_live.errors import EzsrError
from ezsr_live.events import Geometry
from ezsr_live.model.clip_loader import load_clip, register_model_config, resolve_device, uses_quick_gelu

from . import checkpoint as ckpt
from .data import EventFilePairDataset, ResumableDistributedSampler, SynthPairDataset, find_images, worker_init
from .event_folder import event_files_for, read_manifest
from .freeze import freeze_tower, train_mode
from .distributed import DistEnv, barrier, mean_across_ranks, setup, teardown
from .config import TrainConfig
from .losses import AffineModulation, LearntLogitScale, distillation_loss
from .runlog import append_log, plot_log, read_log, tensorboard_scalars, write_log
from .validation import Validator, tensorboard_writer, validation_set

log = logging.getLogger(__name__)

@dataclass
class TrainResult:
    start_step: int  # the step the run resumed from (0 for a fresh run)
    final_step: int
    encoder_path: Path | None  # rank 0 only
    log_path: Path
    history: list[dict[str, float]]  # the rows this run logged


class _Student(torch.nn.Module):
    """Tower + optional modulation: one module for DDP to wrap."""

    def __init__(self, tower: torch.nn.Module, modulation: AffineModulation | None):
        super().__init__()
        self.tower = tower
        self.modulation = modulation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.tower(x)
        return self.modulation(e) if self.modulation is not None else e




#: settings that shape the learning-rate schedule and the data order: a resumed run that
#: changed one would silently train something that no single run trains
_SCHEDULE_FIELDS = ("steps", "lr", "warmup_steps", "min_lr_ratio", "batch_size", "accum", "seed")


def _check_same_schedule(folder: Path, saved: dict[str, Any], cfg: TrainConfig) -> None:
    changed = [f"--{k.replace('_', '-')} {getattr(cfg, k)} (the run has {saved[k]})"
               for k in _SCHEDULE_FIELDS if k in saved and saved[k] != getattr(cfg, k)]
    if changed:
        raise EzsrError(f"{folder}: cannot resume with a different schedule: {'; '.join(changed)}. Resume with the "
                        "run's own values, or start a new run (-o elsewhere) to train longer")

def _pretrained_name(pretrained: str | None) -> str | None:
    """What the sidecar records of the teacher's weights: the tag, or a file's name (a
    path from the training machine would mislead elsewhere)."""
    if pretrained and Path(pretrained).is_file():
        return Path(pretrained).name
    return pretrained

def lr_at(step: int, base: float, warmup: int, total: int, min_ratio: float) -> float:
    """Learning rate for optimiser step ``step`` (0-based): linear warm-up, cosine decay."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return base * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def _param_groups(module: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    # no decay on gains, biases, embeddings and the modulation: decay would pull them to 0
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "embedding" in name or "modulation" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer(cfg: TrainConfig, student: torch.nn.Module, temperature: torch.nn.Module | None,
               device: torch.device) -> torch.optim.Optimizer:
    """AdamW over the student and, when learnt, the temperature (never decayed)."""
    groups = _param_groups(student, cfg.weight_decay)
    if temperature is not None:
        temperature.to(device)
        groups.append({"params": list(temperature.parameters()), "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)


def _amp_settings(amp: str, device: torch.device) -> tuple[bool, torch.dtype]:
    if amp not in ("auto", "off", "bf16", "fp16"):
        raise EzsrError(f"--amp must be auto, off, bf16 or fp16, got {amp!r}")
    if device.type != "cuda" or amp == "off":
        if amp in ("bf16", "fp16") and device.type != "cuda":
            log.warning("--amp %s ignored: mixed precision is used on CUDA only", amp)
        return False, torch.float32
    if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
        return True, torch.float16
    return True, torch.bfloat16


def cpu_threads(requested: int | None, workers: int, env: DistEnv) -> int:
    """Intra-op threads of one training process on CPU: what was asked, else the cores
    this process's share leaves after its synthesis workers (at least 1). torch's default
    (every core) fights the workers and the other ranks for the same cores: measured on a
    loaded 2-core machine, 1-4 samples/s against 21 with one thread."""
    if requested is not None:
        if requested < 1:
            raise EzsrError(f"--threads must be >= 1, got {requested}")
        return requested
    import os

    share = max(1, (os.cpu_count() or 1) // max(1, env.world_size))
    return max(1, share - workers)

def train(cfg: TrainConfig, env: DistEnv | None = None) -> TrainResult:
    """Run (or resume) a distillation; returns where it started and ended."""
    env, device = setup(resolve_device(cfg.device), env)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(cfg.threads, cfg.workers, env))
    try:
        return _train(cfg, env, device)
    finally:
        teardown()


def _resume(cfg: TrainConfig, checkpoints: Path, env: DistEnv, tower: torch.nn.Module,
            modulation: torch.nn.Module | None, temperature: torch.nn.Module | None,
            optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> int:
    """Load the checkpoint ``cfg.resume`` names into the run; the step to continue from."""
    resume_from = ckpt.resolve_resume(cfg.resume, checkpoints) if cfg.resume else None
    if resume_from is None:
        if cfg.resume and cfg.resume != "auto":
            raise EzsrError(f"{cfg.resume}: no checkpoint to resume from")
        return 0
    meta = ckpt.load_checkpoint(resume_from, student=tower, modulation=modulation, optimizer=optimizer,
                                temperature=temperature)
    _check_same_schedule(resume_from, meta.get("config") or {}, cfg)
    start_step = int(meta["step"])
    if meta.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(meta["scaler"])
    if env.is_main:
        log.info("resuming from %s (step %d)", resume_from, start_step)
    return start_step


def _optimizer_step(cfg: TrainConfig, env: DistEnv, device: torch.device, model: torch.nn.Module,
                    teacher: torch.nn.Module, batches: Iterator[Any], optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, autocast: Callable[[], Any],
                    logit_scale: float, temperature: torch.nn.Module | None) -> tuple[dict[str, float], float, int]:
    """One optimiser step over ``cfg.accum`` micro-batches (gradients synchronised across
    ranks on the last one only); the mean loss parts, the gradient norm and the samples seen."""
    sums: dict[str, float] = {}
    n_samples = 0
    for micro in range(cfg.accum):
        frames, images = next(batches)
        frames = frames.to(device, non_blocking=True)
        images = images.to(device, non_blocking=True)
        sync = micro == cfg.accum - 1 or not env.distributed
        with (contextlib.nullcontext() if sync else model.no_sync()):
            with autocast():
                with torch.no_grad():
                    target = teacher(images)
                emb = model(frames)
            scale = temperature() if temperature is not None else logit_scale
            loss, parts = distillation_loss(emb.float(), target.float(), cfg.loss, scale)
            scaler.scale(loss / cfg.accum).backward()
        parts["loss"] = float(loss.detach())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v / cfg.accum
        n_samples += frames.shape[0] * env.world_size
    if temperature is not None and env.distributed:
        # outside DDP's wrapper: average its gradient by hand, or the ranks' scales drift apart
        _all_reduce_mean_grads(temperature, env)
    scaler.unscale_(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if cfg.clip_grad > 0:
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad))
    else:
        grad_norm = float(torch.linalg.vector_norm(
            torch.stack([p.grad.detach().norm() for p in params if p.grad is not None])))
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return sums, grad_norm, n_samples


def _all_reduce_mean_grads(module: torch.nn.Module, env: DistEnv) -> None:
    import torch.distributed as dist

    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(env.world_size)


def _inputs(cfg: TrainConfig) -> tuple[list[Path], list[Path] | None]:
    """The images and their pre-synthesised event files (None: synthesised on the fly),
    checked before any model loads."""
    images = find_images(cfg.data)
    return images, event_files_for(images, cfg.data, cfg.events) if cfg.events else None


def _data(cfg: TrainConfig, env: DistEnv, inputs: tuple[list[Path], list[Path] | None], preprocess: Callable[[Any], Any],
          input_size: int) -> tuple[SynthPairDataset | EventFilePairDataset, ResumableDistributedSampler, int]:
    """The image/event pairs, this rank's sampler and the optimiser steps per epoch."""
    sensor = Geometry.parse(cfg.sensor) if cfg.sensor else None
    images, event_files = inputs
    dataset: SynthPairDataset | EventFilePairDataset
    if event_files is not None:
        dataset = EventFilePairDataset(images, event_files, preprocess, input_size)
    else:
        dataset = SynthPairDataset(images, preprocess, input_size, cfg.synth, sensor, cfg.seed)
    sampler = ResumableDistributedSampler(dataset, num_replicas=env.world_size, rank=env.rank, seed=cfg.seed)
    steps_per_epoch = (sampler.num_samples // cfg.batch_size) // cfg.accum
    if steps_per_epoch < 1:
        raise EzsrError(f"{cfg.data}: {len(dataset)} images are too few for {env.world_size} process(es) x "
                        f"batch {cfg.batch_size} x accumulation {cfg.accum}")
    return dataset, sampler, steps_per_epoch


def _save_checkpoint(cfg: TrainConfig, checkpoints: Path, step: int, tower: torch.nn.Module,
                     modulation: torch.nn.Module | None, temperature: torch.nn.Module | None,
                     optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler, input_size: int, run_name: str,
                     history: list[dict[str, float]]) -> None:
    folder = ckpt.save_checkpoint(
        checkpoints, step, student=tower, modulation=modulation, optimizer=optimizer, temperature=temperature,
        scaler_state=scaler.state_dict() if scaler.is_enabled() else None,
        run_config=cfg.to_json(), base_model=cfg.model, input_size=input_size,
        run_name=run_name, metrics=history[-1] if history else {})
    log.debug("checkpoint %s", folder)


def _freeze(cfg: TrainConfig, env: DistEnv, tower: torch.nn.Module) -> None:
    """Freeze the ``cfg.freeze`` prefixes at the teacher's values; train mode for the rest."""
    frozen = freeze_tower(tower, cfg.freeze)
    train_mode(tower)
    if frozen and env.is_main:
        log.info("frozen at the teacher's values: %d of %d parameter tensors (%s)", len(frozen),
                 len(list(tower.parameters())), ", ".join(cfg.freeze))


def _start_log(cfg: TrainConfig, out: Path, log_path: Path, start_step: int) -> list[dict[str, Any]]:
    """The log rows up to ``start_step`` (rewritten so), and the run's config.json."""
    rows = read_log(log_path, start_step)
    write_log(log_path, rows)
    doc = cfg.to_json()
    if cfg.events:  # what the events were made with; the synth options of this command did not apply
        doc["events_manifest"] = read_manifest(cfg.events)
    (out / "config.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    return rows


class _NoBar:
    """Stands in for tqdm where no progress is shown (other ranks, --no-progress)."""

    def set_postfix(self, **_: Any) -> None: ...

    def update(self, _n: int = 1) -> None: ...

    def close(self) -> None: ...


def _progress_bar(cfg: TrainConfig, start_step: int) -> Any:
    if not cfg.progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=cfg.steps, initial=start_step, unit="step", desc="distilling", dynamic_ncols=True)


def _validation_due(validator: Validator | None, step: int, cfg: TrainConfig) -> bool:
    return validator is not None and (step % cfg.val_every == 0 or step == cfg.steps)


def _close(board: Any) -> None:
    if board is not None:
        board.close()


def _validate(validator: Validator, student: torch.nn.Module, tower: torch.nn.Module) -> dict[str, float]:
    """The held-out scores now; the student back in training mode (frozen parts in eval)."""
    scores = validator(student)
    student.train()
    train_mode(tower)
    if scores:
        log.debug("validation: top-1 %.4f, top-5 %.4f", scores["val_top1"], scores["val_top5"])
    return scores


def _record(row: dict[str, Any], rows: list[dict[str, Any]], log_path: Path, board: Any, bar: Any) -> None:
    """One logged step into the CSV, TensorBoard and the progress bar (rank 0)."""
    rows.append(row)
    append_log(log_path, row)
    if board is not None:
        tensorboard_scalars(board, row)
    shown = {"loss": f"{row['loss']:.4g}", "cos": f"{row.get('cosine', 0):.3f}", "lr": f"{row['lr']:.2g}"}
    if "val_top1" in row:
        shown["val"] = f"{row['val_top1']:.3f}"
    bar.set_postfix(**shown)


def _train(cfg: TrainConfig, env: DistEnv, device: torch.device) -> TrainResult:
    out = Path(cfg.out)
    checkpoints = out / "checkpoints"
    if env.is_main:
        checkpoints.mkdir(parents=True, exist_ok=True)
    board = tensorboard_writer(cfg, out) if env.is_main else None  # before the model: a missing package says so now
    inputs = _inputs(cfg)
    val_set = validation_set(cfg) if cfg.val_every and cfg.val_events else None
    torch.manual_seed(cfg.seed)
    if cfg.model_config:
        register_model_config(cfg.model_config)

    clip = load_clip(cfg.model, cfg.pretrained, "cpu", "fp32")
    teacher = clip.model.visual.eval().requires_grad_(False)
    tower = copy.deepcopy(teacher).requires_grad_(True)
    _freeze(cfg, env, tower)
    logit_scale, input_size, embed_dim = clip.logit_scale, clip.image_size, clip.embed_dim
    preprocess = clip.preprocess
    validator = Validator(cfg, val_set, clip, input_size, device) if val_set is not None else None
    del clip  # the text tower is not needed beyond the validation classes' embeddings
    modulation = AffineModulation(embed_dim) if cfg.loss.learn_modulation else None
    student = _Student(tower, modulation)
    temperature = LearntLogitScale(logit_scale) if cfg.loss.learn_temperature else None
    teacher.to(device)
    student.to(device)
    optimizer = _optimizer(cfg, student, temperature, device)
    use_amp, amp_dtype = _amp_settings(cfg.amp, device)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    start_step = _resume(cfg, checkpoints, env, tower, modulation, temperature, optimizer, scaler)

    model: torch.nn.Module = student
    if env.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            student, device_ids=[device.index] if device.type == "cuda" else None)

    dataset, sampler, steps_per_epoch = _data(cfg, env, inputs, preprocess, input_size)
    run_name = cfg.run_name or out.name
    log_path = out / "train_log.csv"
    rows: list[dict[str, Any]] = []
    bar: Any = _NoBar()
    if env.is_main:
        rows = _start_log(cfg, out, log_path, start_step)
        log.info("%d images (events %s), %d steps/epoch, %d process(es) x batch %d x accumulation %d on %s",
                 len(dataset), f"from {cfg.events}" if cfg.events else "synthesised on the fly", steps_per_epoch,
                 env.world_size, cfg.batch_size, cfg.accum, device)
        bar = _progress_bar(cfg, start_step)
    history: list[dict[str, float]] = []
    step = start_step
    t_start = time.perf_counter()
    window_t, window_samples = time.perf_counter(), 0
    autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if use_amp else contextlib.nullcontext
    encoder_path: Path | None = None
    # workers outlive epochs: the sampler's keys carry the epoch (see .data)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                        drop_last=True, pin_memory=device.type == "cuda", worker_init_fn=worker_init,
                        persistent_workers=cfg.workers > 0)
    while step < cfg.steps:
        epoch, within = divmod(step, steps_per_epoch)
        sampler.set_epoch(epoch)
        sampler.set_start(within * cfg.accum * cfg.batch_size)
        batches = iter(loader)
        for _ in range(within, steps_per_epoch):
            if step >= cfg.steps:
                break
            lr = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = lr
            sums, grad_norm, n_samples = _optimizer_step(
                cfg, env, device, model, teacher, batches, optimizer, scaler, autocast, logit_scale, temperature)
            window_samples += n_samples
            step += 1

            validate = _validation_due(validator, step, cfg)
            if step % cfg.log_every == 0 or step == cfg.steps or validate:
                metrics = mean_across_ranks(sums, device)
                now = time.perf_counter()
                row = {"step": step, "epoch": epoch, "lr": lr, "grad_norm": grad_norm,
                       "samples_per_s": window_samples / max(1e-9, now - window_t),
                       "elapsed_s": now - t_start, **metrics}
                if validate:
                    row.update(_validate(validator, student, tower))
                    now = time.perf_counter()  # the throughput of the next window leaves validation out
                window_t, window_samples = now, 0
                history.append(row)
                if env.is_main:
                    _record(row, rows, log_path, board, bar)
            bar.update(1)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                if env.is_main:
                    _save_checkpoint(cfg, checkpoints, step, tower, modulation, temperature, optimizer, scaler,
                                     input_size, run_name, history)
                    plot_log(out, rows)
                barrier()
        del batches
    bar.close()
    _close(board)
    if env.is_main:
        learnt = {"learnt_logit_scale": float(temperature().detach())} if temperature is not None else {}
        encoder_path = ckpt.save_encoder(tower, modulation, out / ckpt.ENCODER_FILE, cfg.model, input_size,
                                         run_name, step=step, loss=dataclasses.asdict(cfg.loss), **learnt,
                                         pretrained=_pretrained_name(cfg.pretrained),
                                         quick_gelu=uses_quick_gelu(cfg.model, cfg.pretrained))
        plot_log(out, rows)
        log.info("event weights: %s (step %d)", encoder_path, step)
    barrier()
    return TrainResult(start_step, step, encoder_path, log_path, history)
