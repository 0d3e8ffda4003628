"""Fixtures for the model tests: a tiny open_clip architecture with random weights.

``ezsr_live/model/configs/ezsr-test-tiny.json`` is a real open_clip config (2-layer 64-wide ViT on
32x32 inputs, 1-layer text tower, 32-d embeddings): every code path is the production
one, only small enough to run in milliseconds. Nothing is downloaded.
"""
from __future__ import annotations


import pytest
import torch

from ezsr_live.model.clip_loader import ClipBundle, load_clip




@pytest.fixture(scope="session")
def tiny_clip(tiny_model_name: str) -> ClipBundle:
    torch.manual_seed(0)
    return load_clip(tiny_model_name, None, "cpu")


@pytest.fixture()
def fresh_clip(tiny_model_name: str) -> ClipBundle:
    """A separate tiny model with other random weights (for loading into)."""
    torch.manual_seed(1)
    return load_clip(tiny_model_name, None, "cpu")
