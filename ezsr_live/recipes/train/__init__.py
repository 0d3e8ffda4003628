"""Distilling CLIP's image tower onto synthesised event frames (EZSR training).

``train(TrainConfig(...))`` runs or resumes a distillation (:mod:`.loop`); the losses are
in :mod:`.losses`, the on-the-fly data in :mod:`.data`, torchrun/DDP set-up in
:mod:`.distributed`, checkpoints in :mod:`.checkpoint`. Names load lazily so that the
CLI can read :mod:`.config` without importing torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config", "LossConfig": "config",
    "TrainResult": "loop", "train": "loop", "lr_at": "loop",
    "AffineModulation": "losses", "distillation_loss": "losses", "info_nce": "losses",
    "modulation_loss": "losses", "fold_modulation": "modulation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
