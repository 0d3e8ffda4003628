"""Training only part of the student tower: the rest stays at the teacher's values, its
norm layers in eval mode (their statistics stay the teacher's)."""
from __future__ import annotations

import torch

from ezsr_live.errors import EzsrError


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix.rstrip(".") + ".")


def freeze_tower(tower: torch.nn.Module, prefixes: tuple[str, ...] | list[str]) -> list[str]:
    """Stop training the tower's parameters whose names start with one of ``prefixes``;
    returns the frozen names. An unknown prefix is an error, not a silent no-op."""
    named = list(tower.named_parameters())
    for prefix in prefixes:
        if not any(_under(n, prefix) for n, _ in named):
            roots = sorted({n.split(".")[0] for n, _ in named})
            raise EzsrError(f"--freeze {prefix!r} matches no parameter of the tower (its top-level modules: "
                            f"{', '.join(roots)})")
    frozen = []
    for n, p in named:
        if any(_under(n, pre) for pre in prefixes):
            p.requires_grad_(False)
            frozen.append(n)
    return frozen


def _frozen_modules(tower: torch.nn.Module) -> list[torch.nn.Module]:
    """Modules whose parameters are all frozen: kept in eval mode so that their norm
    statistics stay the teacher's."""
    return [m for m in tower.modules()
            if any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters())]


def train_mode(tower: torch.nn.Module) -> None:
    tower.train()
    for m in _frozen_modules(tower):
        m.eval()
