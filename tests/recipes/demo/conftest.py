"""A 2-step compositional teacher trained once through ``ezsr demo teacher`` (CLIP's
temperature held at 100, the text projection started at twice its size
and not decayed), shared by the tests of the command and of the study on it."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ezsr_live.cli.toolbox import main as ezsr


@pytest.fixture(scope="session")
def compositional_teacher(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compositional") / "teacher"
    threads = torch.get_num_threads()
    try:
        assert ezsr(["demo", "teacher", "--domain", "compositional", "-o", str(out), "--steps", "2",
                     "--batch-size", "8", "--eval-images", "10", "--pool-images", "40", "--workers", "0",
                     "--threads", "1", "--logit-scale", "100", "--text-projection-gain", "2",
                     "--no-text-projection-decay"]) == 0
    finally:
        torch.set_num_threads(threads)
    return out
