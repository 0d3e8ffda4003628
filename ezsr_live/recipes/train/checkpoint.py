"""Training checkpoints: safetensors for tensors, a JSON sidecar for everything else.

A checkpoint is a folder ``checkpoints/step_NNNNNNNN/`` holding

* ``event_encoder.safetensors`` + ``.json``: the student tower with any learnt modulation
  folded in, in the format ``--event-weights`` loads (:mod:`ezsr_live.model.event_encoder`);
* ``trainer.safetensors`` + ``trainer.json``: what ``--resume`` needs: the unfolded
  student, the modulation, AdamW's moments, and (JSON) the step, optimiser hyper-
  parameters, AMP scaler state and the run configuration.

Nothing is pickled. ``checkpoints/latest`` names the newest complete checkpoint; it is
written last, so an interrupted save never becomes the resume point.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import torch

from ezsr_live.fileio import atomic_write_text
from ezsr_live.errors import EzsrError
from ezsr_live.model.event_encoder import EZSR_HISTOGRAM, save_event_weights

from .modulation import fold_modulation

ENCODER_FILE = "event_encoder.safetensors"
TRAINER_FILE = "trainer.safetensors"
LATEST = "latest"


def step_dir(root: Path, step: int) -> Path:
    return root / f"step_{step:08d}"


def save_encoder(student: torch.nn.Module, modulation: torch.nn.Module | None, path: Path,
                 base_model: str, input_size: int, training_run: str, **extra: Any) -> Path:
    """The deployable event weights: the student, with the modulation folded in."""
    tower = student
    if modulation is not None:
        tower = copy.deepcopy(student).float().cpu()
        residual = fold_modulation(tower, modulation.gamma, modulation.beta)
        extra["modulation"] = {"folded": True, "offset_residual": residual}
    return save_event_weights(tower, path, base_model, input_size, EZSR_HISTOGRAM, training_run, **extra)


def _optimizer_split(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, per_param in state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, values in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(root: Path, step: int, *, student: torch.nn.Module, modulation: torch.nn.Module | None,
                    optimizer: torch.optim.Optimizer, scaler_state: dict[str, Any] | None,
                    run_config: dict[str, Any], base_model: str, input_size: int, run_name: str,
                    metrics: dict[str, float], temperature: torch.nn.Module | None = None) -> Path:
    """Write one checkpoint folder and point ``latest`` at it; returns the folder."""
    from safetensors.torch import save_file

    folder = step_dir(root, step)
    folder.mkdir(parents=True, exist_ok=True)
    save_encoder(student, modulation, folder / ENCODER_FILE, base_model, input_size, run_name,
                 step=step, metrics=metrics)
    tensors = {f"student.{k}": v.detach().contiguous().cpu() for k, v in student.state_dict().items()}
    if modulation is not None:
        tensors.update({f"modulation.{k}": v.detach().contiguous().cpu() for k, v in modulation.state_dict().items()})
    if temperature is not None:
        tensors.update({f"temperature.{k}": v.detach().contiguous().cpu() for k, v in temperature.state_dict().items()})
    opt_tensors, opt_meta = _optimizer_split(optimizer.state_dict())
    tensors.update(opt_tensors)
    save_file(tensors, str(folder / TRAINER_FILE))
    meta = {"step": step, "optimizer": opt_meta, "scaler": scaler_state, "config": run_config, "metrics": metrics}
    (folder / "trainer.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    atomic_write_text(root / LATEST, folder.name + "\n")
    return folder


def resolve_resume(spec: str, checkpoints: Path) -> Path | None:
    """``auto``: the newest checkpoint under ``checkpoints`` (None if there is none);
    otherwise a checkpoint folder (or its trainer.safetensors)."""
    if spec == "auto":
        marker = checkpoints / LATEST
        if not marker.is_file():
            return None
        folder = checkpoints / marker.read_text(encoding="utf-8").strip()
    else:
        folder = Path(spec)
        if folder.is_file():
            folder = folder.parent
    if not (folder / TRAINER_FILE).is_file() or not (folder / "trainer.json").is_file():
        raise EzsrError(f"{folder}: not a training checkpoint ({TRAINER_FILE} + trainer.json missing)")
    return folder


def load_checkpoint(folder: Path, *, student: torch.nn.Module, modulation: torch.nn.Module | None,
                    optimizer: torch.optim.Optimizer, temperature: torch.nn.Module | None = None) -> dict[str, Any]:
    """Restore model, modulation, learnt temperature and optimiser in place; returns the
    JSON metadata."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(folder / TRAINER_FILE), device="cpu")
        meta = json.loads((folder / "trainer.json").read_text(encoding="utf-8"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise EzsrError(f"{folder}: unreadable checkpoint: {exc}") from None
    student_state = {k[len("student."):]: v for k, v in tensors.items() if k.startswith("student.")}
    try:
        student.load_state_dict(student_state, strict=True)
        mod_state = {k[len("modulation."):]: v for k, v in tensors.items() if k.startswith("modulation.")}
        if modulation is not None:
            modulation.load_state_dict(mod_state, strict=True)
        elif mod_state:
            raise EzsrError(f"{folder}: checkpoint has a learnt modulation; resume with --learn-modulation")
        temp_state = {k[len("temperature."):]: v for k, v in tensors.items() if k.startswith("temperature.")}
        if temperature is not None:
            temperature.load_state_dict(temp_state, strict=True)
        elif temp_state:
            raise EzsrError(f"{folder}: checkpoint has a learnt temperature; resume with --learn-temperature")
        optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
    except (RuntimeError, KeyError, ValueError) as exc:
        raise EzsrError(f"{folder}: checkpoint does not fit this run: {exc}") from None
    return meta
