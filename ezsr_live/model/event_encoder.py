"""The event encoder: a CLIP image tower carrying distilled event weights.

Two weight formats are accepted:

* our own checkpoints: ``NAME.safetensors`` (the visual tower's state dict, unprefixed)
  with a JSON sidecar ``NAME.json`` naming the base model, input size, representation
  and training run (:func:`save_event_weights` writes both);
* the official EZSR release files for OpenAI-initialised towers
  (``EZSR-OPENAI-VITB32.pt`` ...): plain ``torch.save``'d state dicts. The official
  inference code loads them into the *whole* CLIP model with ``strict=False``, so keys
  are usually ``visual.``-prefixed (some may hold text-tower keys too); bare tower keys
  and a DataParallel ``module.`` prefix are accepted as well.

``.pt`` files are read with ``torch.load(weights_only=True)``: a payload that needs
arbitrary unpickling is refused. Keys are matched exactly: missing, unexpected or
wrongly shaped visual keys are reported by name instead of loading with ``strict=False``.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ezsr_live.errors import ModelError

log = logging.getLogger(__name__)

#: representation name of the official EZSR histogram preprocessing (issue 3's kernel)
EZSR_HISTOGRAM = "ezsr_histogram"
_MAX_LISTED_KEYS = 12


@dataclass
class EventWeightsInfo:
    """What is known about a set of event weights (from its sidecar or its file name)."""

    path: str
    format: str  # "safetensors" or "torch"
    base_model: str | None = None
    input_size: int | None = None
    representation: str | None = None
    training_run: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    """``run.safetensors`` -> ``run.json``."""
    return Path(weights_path).with_suffix(".json")


def _list_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED_KEYS])
    more = len(keys) - _MAX_LISTED_KEYS
    return shown + (f" ... and {more} more" if more > 0 else "")


def _read_sidecar(path: Path) -> dict[str, Any]:
    side = sidecar_path(path)
    if not side.is_file():
        raise ModelError(f"{path}: sidecar {side.name} (base model, input size, representation) is missing")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{side}: unreadable sidecar: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{side}: sidecar must be a JSON object")
    return meta


def read_event_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], EventWeightsInfo]:
    """Read a state dict and its description, without touching any model."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: event weights file not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        meta = _read_sidecar(path)
        try:
            state = load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{path}: not a readable safetensors file: {exc}") from None
        known = {"base_model", "input_size", "representation", "training_run"}
        info = EventWeightsInfo(
            str(path), "safetensors",
            base_model=meta.get("base_model"),
            input_size=int(meta["input_size"]) if meta.get("input_size") is not None else None,
            representation=meta.get("representation"),
            training_run=meta.get("training_run"),
            extra={k: v for k, v in meta.items() if k not in known},
        )
        return state, info

    try:
        payload = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses anything but tensors and plain containers: the file wants
        # to run arbitrary code on unpickling, which we never allow.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: refused: the payload is not a plain state dict of tensors "
                         f"(loading it would unpickle arbitrary objects): {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable torch checkpoint: {exc}") from None
    if isinstance(payload, Mapping):
        for wrapper in ("state_dict", "model"):
            if wrapper in payload and isinstance(payload[wrapper], Mapping):
                payload = payload[wrapper]
                break
    if not isinstance(payload, Mapping) or not payload:
        raise ModelError(f"{path}: expected a non-empty state dict, got {type(payload).__name__}")
    bad = [str(k) for k, v in payload.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelError(f"{path}: state dict entries that are not tensors: {_list_keys(bad)}")
    return dict(payload), EventWeightsInfo(str(path), "torch")


def visual_state_dict(state: Mapping[str, torch.Tensor], expected: set[str]) -> dict[str, torch.Tensor]:
    """Map checkpoint keys onto visual-tower keys: strip ``module.``, and when the
    checkpoint is a whole-model dict (``visual.*`` keys) keep only the visual tower."""
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    if any(k.startswith("visual.") for k in state) and not any(k.startswith("visual.") for k in expected):
        others = sorted(k for k in state if not k.startswith("visual."))
        if others:
            log.debug("ignoring %d non-visual checkpoint keys (text tower, logit scale)", len(others))
        state = {k[len("visual."):]: v for k, v in state.items() if k.startswith("visual.")}
    return state


def load_visual_weights(visual: torch.nn.Module, path: str | os.PathLike) -> EventWeightsInfo:
    """Load event weights into ``visual`` in place, exactly: every tower key must be
    present with the right shape and no extra visual key may remain."""
    state, info = read_event_weights(path)
    target = visual.state_dict()
    state = visual_state_dict(state, set(target))
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    problems = []
    if missing:
        problems.append(f"missing keys: {_list_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_list_keys(unexpected)}")
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(target[k].shape)}"
              for k in sorted(set(state) & set(target)) if state[k].shape != target[k].shape]
    if shapes:
        problems.append(f"shape mismatches (checkpoint != model): {_list_keys(shapes)}")
    if problems:
        raise ModelError(f"{path}: event weights do not fit this image tower: " + "; ".join(problems))
    visual.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()}, strict=True)
    return info


def check_weights_fit(info: EventWeightsInfo, model_name: str, input_size: int) -> None:
    """Refuse weights whose sidecar names another base model or input size."""
    if info.base_model and info.base_model != model_name:
        raise ModelError(f"{info.path}: trained for base model {info.base_model}, but {model_name} is loaded")
    if info.input_size and info.input_size != input_size:
        raise ModelError(f"{info.path}: trained at input size {info.input_size}, "
                         f"but the {model_name} tower takes {input_size}")


def make_event_encoder(
    clip_model: torch.nn.Module,
    model_name: str,
    event_weights: str | os.PathLike | None,
    input_size: int,
    keep_rgb_tower: bool = False,
) -> tuple[torch.nn.Module, EventWeightsInfo | None]:
    """The image tower to run on event frames.

    With ``event_weights`` the tower is loaded with them (into a copy when
    ``keep_rgb_tower``, so the CLIP model keeps its RGB tower, e.g. to build pools).
    Without, the raw CLIP tower is returned and a warning says accuracy will be poor.
    """
    if event_weights is None:
        log.warning("no --event-weights: running the raw CLIP image tower on event frames "
                    "(the 'CLIP on event frames' baseline); zero-shot accuracy will be poor")
        return clip_model.visual, None
    visual = copy.deepcopy(clip_model.visual) if keep_rgb_tower else clip_model.visual
    info = load_visual_weights(visual, event_weights)
    check_weights_fit(info, model_name, input_size)
    visual.eval()
    return visual, info


def save_event_weights(
    visual: torch.nn.Module,
    path: str | os.PathLike,
    base_model: str,
    input_size: int,
    representation: str = EZSR_HISTOGRAM,
    training_run: str | None = None,
    **extra: Any,
) -> Path:
    """Write ``visual``'s state dict as safetensors plus its JSON sidecar; returns the path."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ModelError(f"{path}: event weights are saved as .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in visual.state_dict().items()}
    save_file(state, str(path))
    info = EventWeightsInfo(str(path), "safetensors", base_model, int(input_size), representation, training_run)
    meta = {k: v for k, v in asdict(info).items() if k not in ("path", "format", "extra")}
    meta.update(extra)
    sidecar_path(path).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path
