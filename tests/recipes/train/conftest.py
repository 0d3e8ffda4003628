"""The training tests share the root fixtures (tiny model, generated image tree)."""
from __future__ import annotations

from tests.conftest import CLASSES, TINY_MODEL_CONFIG, draw_shape_image  # noqa: F401  (used by the tests here)

TINY_CONFIG = TINY_MODEL_CONFIG
