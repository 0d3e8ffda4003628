"""What several test folders share: paths, the tiny model, event generators."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ezsr_live.events import make_events

REPO_ROOT = Path(__file__).resolve().parents[1]

#: the bundled demo (weights/demo): a moving-disc replay and the shapes recording
DEMO_DIR = REPO_ROOT / "weights" / "demo"
DEMO_DISC = DEMO_DIR / "moving_disc.raw"
DEMO_SHAPES = DEMO_DIR / "shapes_demo.raw"

#: a real open_clip config, tiny (2-layer 64-wide ViT on 32x32 inputs, 32-d embeddings),
#: shipped in ezsr_live/model/configs and registered by name on first use: every code
#: path is the production one, with random weights, nothing downloaded
TINY_MODEL = "ezsr-test-tiny"
TINY_MODEL_CONFIG = REPO_ROOT / "ezsr_live" / "model" / "configs" / f"{TINY_MODEL}.json"


def random_events(rng: np.random.Generator | int, n: int, width: int, height: int,
                  t_max_us: int = 50_000) -> np.ndarray:
    """``n`` uniformly placed events of random polarity, sorted in time over [0, t_max_us)."""
    rng = np.random.default_rng(rng) if isinstance(rng, int) else rng
    t = np.sort(rng.integers(0, t_max_us, n))
    return make_events(t, rng.integers(0, width, n), rng.integers(0, height, n), rng.integers(0, 2, n))
