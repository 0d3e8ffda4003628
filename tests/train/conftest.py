"""Fixtures for the training tests: the model tests' tiny open_clip architecture and a
few dozen generated images in class folders (nothing is downloaded)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ezsr_live.model.clip_loader import register_model_config

TINY_CONFIG = Path(__file__).resolve().parents[1] / "model" / "fixtures" / "ezsr-test-tiny.json"
TINY = "ezsr-test-tiny"
CLASSES = ("airplane", "cat", "ship")  # CIFAR-10 names, so the images also make a cifar10dvs-style tree


@pytest.fixture(scope="session")
def tiny_model_name() -> str:
    register_model_config(TINY_CONFIG)
    return TINY


def draw_shape_image(rng: np.random.Generator, kind: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A random-coloured rectangle, ellipse or triangle on a dark background."""
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 80, 3)))
    d = ImageDraw.Draw(img)
    x0, y0 = (int(v) for v in rng.integers(4, 18, 2))
    colour = tuple(int(v) for v in rng.integers(150, 256, 3))
    if kind == 0:
        d.rectangle([x0, y0, x0 + 20, y0 + 16], fill=colour)
    elif kind == 1:
        d.ellipse([x0, y0, x0 + 20, y0 + 16], fill=colour)
    else:
        d.polygon([(x0, y0), (x0 + 22, y0 + 4), (x0 + 8, y0 + 18)], fill=colour)
    return img


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 images: 8 per class folder."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for kind, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(8):
            draw_shape_image(rng, kind).save(root / name / f"{i:02d}.png")
    return root
