"""Shared fixtures: the real sample recordings beside the checkout (../shared/samples)."""
from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A suite started in the background of a non-interactive shell ('pytest &') inherits
# SIGINT ignored, and so would every child it starts: the tests that press Ctrl-C on a
# child would then see it run to the end. Children get what a terminal gives them.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# label embeddings cached on disk go to a folder of this session, never the user's cache
os.environ["EZSR_TEXT_CACHE"] = tempfile.mkdtemp(prefix="ezsr-test-text-cache-")

from tests.helpers import REPO_ROOT, TINY_MODEL, TINY_MODEL_CONFIG  # noqa: F401  (re-exported to the tests)
from tests.dataset_trees import (  # noqa: F401, E402  (fixtures: official dataset trees, for every test)
    cifar10dvs_release, ncaltech_release, ncars_release, nimagenet_release, nmnist_release)

SAMPLES_DIR = Path(os.environ.get("EZSR_SAMPLES", REPO_ROOT.parent / "shared" / "samples"))

SAMPLE_FILES = [
    "evt3_gen41_1280x720.raw",
    "evt2_gen3_640x480.raw",
    "dvxplorer_320x240.aedat4",
    "nmnist_sample.bin",
    "ncars_sample.dat",
]


@pytest.fixture(scope="session")
def tiny_model_name() -> str:
    from ezsr_live.model.clip_loader import ensure_model_config

    assert ensure_model_config(TINY_MODEL)  # shipped in ezsr_live/model/configs
    return TINY_MODEL


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.fail(f"sample recordings not found at {SAMPLES_DIR} (set EZSR_SAMPLES)")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def reference(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "reference.json").read_text())


CLASSES = ("airplane", "cat", "ship")  # CIFAR-10 names, so the images also make a cifar10dvs-style tree


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
    """24 generated images (nothing downloaded): 8 per class folder."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for kind, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(8):
            draw_shape_image(rng, kind).save(root / name / f"{i:02d}.png")
    return root
