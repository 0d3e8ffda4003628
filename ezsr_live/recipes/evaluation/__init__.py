"""Zero-shot evaluation on event datasets (``ezsr eval``): dataset layouts and
class names (:mod:`.datasets`), windows and scoring (:mod:`.runner`), report files
(:mod:`.report`). Names load lazily, so the CLI can list datasets without torch."""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DATASETS": "datasets", "EvalSample": "datasets", "EvalSet": "datasets", "discover": "datasets",
    "Scores": "report",
    "EvalConfig": "runner", "EvalReport": "runner", "class_text_matrix": "runner", "evaluate": "runner",
    "select_window": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
