"""The event encoder: a CLIP image tower carrying distilled event weights.

Two weight formats are accepted:

* our own checkpoints: ``NAME.safetensors`` (the visual tower's state dict, unprefixed)
  with a JSON sidecar ``NAME.json`` naming the base model, input size, representation
  and training run (:func:`save_event_weights` writes both);
* the eight official EZSR release files (``EZSR-OPENAI-VITB32.pt``, ``EZSR-EVA-VITB16.pt``,
  ``EZSR-CLIP-bigE-14-plus.pt`` ...): plain ``torch.save``'d state dicts. The official
  inference code loads them into the *whole* CLIP model with ``strict=False``, so keys
  are ``visual.``-prefixed (bigE also holds its text tower); bare tower keys and a
  DataParallel ``module.`` prefix are accepted as well. EVA-CLIP key layouts are
  renamed to open_clip's timm trunk (:mod:`official_layout`).

``.pt`` files are read with ``torch.load(weights_only=True)``: a payload that needs
arbitrary unpickling is refused. Keys are matched exactly: missing, unexpected or
wrongly shaped visual keys are reported by name instead of loading with ``strict=False``.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import pickle
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Union

import torch

from ezsr_live.errors import ModelError
from ezsr_live.fileio import parse_json, show_json
from ezsr_live.model.defaults import QUICKGELU_SUFFIX
from ezsr_live.model.official_layout import text_tower_state, to_open_clip_visual

log = logging.getLogger(__name__)

#: representation name of the official EZSR histogram preprocessing (the kernel of ezsr_live.kernels.histogram)
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


def unpickling_refusal(exc: BaseException) -> str:
    """What ``torch.load(weights_only=True)`` refused (the global it met), without torch's
    advice to re-run with ``weights_only=False``: we never unpickle arbitrary objects."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", str(exc)) if p.strip()]
    detail = [p for p in paragraphs if re.search(r"global|unsupported", p, re.IGNORECASE)
              and "weights_only` set to" not in p and "documentation" not in p]
    reason = "; ".join(detail) or type(exc).__name__
    return ("the payload is not a plain state dict of tensors (loading it would unpickle arbitrary "
            f"objects): {reason}")


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
        meta = parse_json(side.read_bytes())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{side}: unreadable sidecar: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{side}: sidecar must be a JSON object")
    return meta


def read_sidecar_meta(weights_path: str | os.PathLike) -> dict[str, Any] | None:
    """The sidecar of our own ``.safetensors`` weights, or None for other files."""
    path = Path(weights_path)
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    return _read_sidecar(path)


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
        side = sidecar_path(path)
        for key in ("base_model", "representation", "training_run"):
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise ModelError(f"{side}: {key} must be a string, got {show_json(meta[key])}")
        size = meta.get("input_size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 4096):
            raise ModelError(f"{side}: input_size must be a whole number of pixels (16-4096), got {show_json(size)}")
        info = EventWeightsInfo(
            str(path), "safetensors",
            base_model=meta.get("base_model"),
            input_size=size,
            representation=meta.get("representation"),
            training_run=meta.get("training_run"),
            extra={k: v for k, v in meta.items() if k not in known},
        )
        return _checked_tensors(path, state), info

    try:
        payload = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{path}: refused: {unpickling_refusal(exc)}") from None
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
    return _checked_tensors(path, dict(payload)), EventWeightsInfo(str(path), "torch")


def _checked_tensors(path: Path, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Refuse weights that would load but compute garbage: NaN or infinite values (a
    corrupt or wrongly exported file). Integer tensors where the tower holds floats are
    refused when the keys are matched (:func:`load_visual_weights`): counters such as
    batch norm's ``num_batches_tracked`` are integers by right."""
    non_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if non_finite:
        raise ModelError(f"{path}: tensors with NaN or infinite values: {_list_keys(non_finite)}")
    return state


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


WeightsArg = Union[str, os.PathLike, "tuple[dict[str, torch.Tensor], EventWeightsInfo]"]


def _read(weights: WeightsArg) -> tuple[dict[str, torch.Tensor], EventWeightsInfo]:
    """A path is read; what :func:`read_event_weights` returned already passes through."""
    return weights if isinstance(weights, tuple) else read_event_weights(weights)


def load_visual_weights(visual: torch.nn.Module, weights: WeightsArg) -> EventWeightsInfo:
    """Load event weights (a path, or what :func:`read_event_weights` returned) into
    ``visual`` in place, exactly: every tower key must be present with the right shape
    and no extra visual key may remain. Official EVA-CLIP layouts are converted first."""
    state, info = _read(weights)
    path = info.path
    target = visual.state_dict()
    state = to_open_clip_visual(visual_state_dict(state, set(target)), set(target))
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
    not_float = sorted(k for k in set(state) & set(target)
                       if target[k].is_floating_point() and not state[k].is_floating_point())
    if not_float:
        problems.append(f"integer tensors where the tower holds floats: {_list_keys(not_float)}")
    if problems:
        raise ModelError(f"{path}: event weights do not fit this image tower: " + "; ".join(problems))
    visual.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()}, strict=True)
    return info


def has_text_tower(state: Mapping[str, torch.Tensor]) -> bool:
    """Does a whole-model file carry a text tower (the official bigE release does)?"""
    return any(k.startswith(("text.", "module.text.")) for k in state)


def load_text_tower(clip_model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str) -> None:
    """Load the text tower and logit scale that ``state`` carries into ``clip_model``,
    exactly (every text key present with its shape, none left over)."""
    text = text_tower_state(state)
    target = {k: v for k, v in clip_model.state_dict().items() if k.startswith("text.") or k == "logit_scale"}
    if "logit_scale" not in text and "logit_scale" in target:
        # trained CLIPs sit at the clamp, ln(100); without it the init (ln(1/0.07)) would
        # flatten every probability
        log.warning("%s: carries a text tower but no logit_scale; using 100", path)
        text["logit_scale"] = torch.tensor(math.log(100.0))
    missing, unexpected = sorted(set(target) - set(text)), sorted(set(text) - set(target))
    shapes = [f"{k} {tuple(text[k].shape)} != {tuple(target[k].shape)}"
              for k in sorted(set(text) & set(target)) if text[k].shape != target[k].shape]
    problems = [f"{what}: {_list_keys(keys)}" for what, keys in
                (("missing text keys", missing), ("unexpected text keys", unexpected),
                 ("text shape mismatches (checkpoint != model)", shapes)) if keys]
    if problems:
        raise ModelError(f"{path}: its text tower does not fit this model: " + "; ".join(problems))
    clip_model.load_state_dict({k: v.to(target[k].dtype) for k, v in text.items()}, strict=False)
    log.info("%s: using the text tower the file carries", path)


def _bare_name(model_name: str) -> str:
    return model_name.removesuffix(QUICKGELU_SUFFIX)


def check_weights_fit(info: EventWeightsInfo, model_name: str, input_size: int) -> None:
    """Refuse weights whose sidecar names another base model or input size
    (``NAME`` and ``NAME-quickgelu`` are one architecture up to the activation)."""
    if info.base_model and _bare_name(info.base_model) != _bare_name(model_name):
        raise ModelError(f"{info.path}: trained for base model {info.base_model}, but {model_name} is loaded")
    if info.input_size and info.input_size != input_size:
        raise ModelError(f"{info.path}: trained at input size {info.input_size}, "
                         f"but the {model_name} tower takes {input_size}")


def input_dtype(encoder: torch.nn.Module) -> torch.dtype:
    """The dtype an image tower takes its input in (its first convolution's)."""
    conv = getattr(encoder, "conv1", None)
    if conv is not None and hasattr(conv, "weight"):
        return conv.weight.dtype
    return next(encoder.parameters()).dtype


def image_tower(clip_model: torch.nn.Module) -> torch.nn.Module:
    """The CLIP model's image tower (open_clip's ``visual``), checked: torch types a
    module's attributes as ``Tensor | Module``."""
    visual = getattr(clip_model, "visual", None)
    if not isinstance(visual, torch.nn.Module):
        raise ModelError(f"{type(clip_model).__name__} has no image tower ('visual')")
    return visual


def make_event_encoder(
    clip_model: torch.nn.Module,
    model_name: str,
    event_weights: WeightsArg | None,
    input_size: int,
    keep_rgb_tower: bool = False,
) -> tuple[torch.nn.Module, EventWeightsInfo | None]:
    """The image tower to run on event frames.

    With ``event_weights`` (a path, or what :func:`read_event_weights` returned) the tower is loaded with them (into a copy when
    ``keep_rgb_tower``, so the CLIP model keeps its RGB tower, e.g. to build pools).
    Without, the raw CLIP tower is returned and a warning says accuracy will be poor.
    """
    if event_weights is None:
        log.warning("no --event-weights: running the raw CLIP image tower on event frames "
                    "(the 'CLIP on event frames' baseline); zero-shot accuracy will be poor")
        return image_tower(clip_model), None
    visual = copy.deepcopy(image_tower(clip_model)) if keep_rgb_tower else image_tower(clip_model)
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
