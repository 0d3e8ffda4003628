"""Shared fixtures: the real sample recordings beside the checkout (../shared/samples)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = Path(os.environ.get("EZSR_SAMPLES", REPO_ROOT.parent / "shared" / "samples"))

SAMPLE_FILES = [
    "evt3_gen41_1280x720.raw",
    "evt2_gen3_640x480.raw",
    "dvxplorer_320x240.aedat4",
    "nmnist_sample.bin",
    "ncars_sample.dat",
]


#: a real open_clip config, tiny (2-layer 64-wide ViT on 32x32 inputs, 32-d embeddings):
#: every code path is the production one, with random weights, nothing downloaded
TINY_MODEL = "ezsr-test-tiny"
TINY_MODEL_CONFIG = REPO_ROOT / "tests" / "model" / "fixtures" / f"{TINY_MODEL}.json"


@pytest.fixture(scope="session")
def tiny_model_name() -> str:
    from ezsr_live.model.clip_loader import register_model_config

    register_model_config(TINY_MODEL_CONFIG)
    return TINY_MODEL


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.fail(f"sample recordings not found at {SAMPLES_DIR} (set EZSR_SAMPLES)")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def reference(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "reference.json").read_text())
