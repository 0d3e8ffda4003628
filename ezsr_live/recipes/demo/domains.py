"""The generated domains a demo teacher trains on (``ezsr demo teacher --domain NAME``).

Light on purpose (no numpy, no torch): the command line lists the names and
descriptions in its help, which must answer at once. Each domain's configuration class
is imported on use.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ezsr_live.recipes.demo.shapes import ShapesConfig


@dataclass(frozen=True)
class TeacherDomain:
    """A family of generated image-caption pairs and the architecture trained on it."""

    model_name: str
    #: ``module:Class`` of the generator's configuration (a :class:`ShapesConfig`)
    config_class: str
    description: str
    #: the bundled recording of this domain's classes (``weights/demo/``), with its ground truth
    recording: str | None = None

    def config(self, **overrides: Any) -> "ShapesConfig":
        module, name = self.config_class.split(":")
        return getattr(importlib.import_module(module), name)(**overrides)


DOMAINS: dict[str, TeacherDomain] = {
    "shapes": TeacherDomain("ezsr-demo", "ezsr_live.recipes.demo.shapes:ShapesConfig",
                            "the bundled demo's 12 shape classes, 64-d embedding", "shapes_demo.raw"),
    "compositional": TeacherDomain("ezsr-demo-compositional",
                                   "ezsr_live.recipes.demo.compositional:CompositionalConfig",
                                   "165 count x fill x shape classes ('two striped stars'), 128-d embedding"),
}


def domain_of(config: object) -> str:
    """The :data:`DOMAINS` name of a generator configuration."""
    name = f"{type(config).__module__}:{type(config).__qualname__}"
    for key, domain in DOMAINS.items():
        if domain.config_class == name:
            return key
    raise KeyError(f"no domain generates {name}")
