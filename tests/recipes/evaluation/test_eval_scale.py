"""`ezsr eval` at scale: DataLoader workers and torchrun ranks give the same report as one
process, and the report says what produced it."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ezsr_live.cli.toolbox import main as ezsr

from tests.conftest import TINY_MODEL, TINY_MODEL_CONFIG

COMMON = ["--model", TINY_MODEL, "--model-config", str(TINY_MODEL_CONFIG), "--device", "cpu",
          "--threads", "1", "--templates", "photo", "--no-progress", "--batch-size", "3"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tiny_model_name, tmp_path_factory) -> Path:
    """One random tiny CLIP saved as a checkpoint, so that every run scores the same model."""
    import torch

    from ezsr_live.model.clip_loader import load_clip

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clip") / "tiny.pt"
    torch.save(load_clip(tiny_model_name, None).model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def nmnist_test_split(samples_dir: Path, tmp_path_factory) -> Path:
    """N-MNIST's Test split, two samples per digit, each a different slice of the real
    recording (ATIS .bin: 5 bytes per event, so any 5-byte-aligned slice is a valid file)."""
    data = (samples_dir / "nmnist_sample.bin").read_bytes()
    n = len(data) // 5
    root = tmp_path_factory.mktemp("N-MNIST") / "Test"
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True)
        for j in range(2):
            start = ((digit * 2 + j) * 97) % (n // 2)
            (root / str(digit) / f"{j:05d}.bin").write_bytes(data[5 * start: 5 * (start + n // 2)])
    return root


@pytest.fixture
def model_args(tiny_checkpoint) -> list[str]:
    return [*COMMON, "--pretrained", str(tiny_checkpoint)]


def _eval(root: Path, out: Path, model_args: list[str], *extra: str) -> int:
    return ezsr(["eval", "--dataset", "nmnist", "--root", str(root), "-o", str(out), *model_args, *extra])


def _rows(path: Path) -> list[dict]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_report_files_say_what_produced_them(nmnist_test_split, model_args, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "report"
    assert _eval(nmnist_test_split, out, model_args, "--window-events", "500") == 0
    printed = capsys.readouterr().out
    assert "20 samples, 10 classes, window 500 events" in printed
    summary = json.loads((out / "summary.json").read_text())
    prov = summary["provenance"]
    assert prov["model"] == TINY_MODEL and prov["model_identity"] == f"{TINY_MODEL}/tiny.pt"
    assert prov["pretrained"] == str(tiny_checkpoint) and prov["event_weights"] is None
    assert prov["window"] == {"mode": "events", "events": 500, "length_jitter": 0}
    assert prov["dataset_root"] == str(nmnist_test_split.resolve())
    assert (prov["classes"], prov["samples_found"], prov["samples_evaluated"]) == (10, 20, 20)
    assert prov["world_size"] == 1 and prov["workers"] == 0 and prov["ezsr_live"]
    rows = _rows(out / "predictions.csv")
    assert len(rows) == 20 and [int(r["index"]) for r in rows] == list(range(20))
    assert {r["label_name"] for r in rows} == {"zero", "one", "two", "three", "four", "five", "six", "seven",
                                               "eight", "nine"}
    assert all(len(r["top5_plain"].split("|")) == 5 and r["top1_plain"] == r["top5_plain"].split("|")[0]
               for r in rows)
    correct = sum(int(r["correct_plain"]) for r in rows)
    assert summary["top1_plain"] == pytest.approx(correct / 20)


def test_workers_give_the_same_predictions(nmnist_test_split, model_args, tmp_path):
    assert _eval(nmnist_test_split, tmp_path / "w0", model_args, "--window-events", "500") == 0
    assert _eval(nmnist_test_split, tmp_path / "w2", model_args, "--window-events", "500", "--workers", "2") == 0
    assert _rows(tmp_path / "w0" / "predictions.csv") == _rows(tmp_path / "w2" / "predictions.csv")


def test_two_torchrun_ranks_merge_into_the_one_process_report(nmnist_test_split, model_args, tmp_path):
    assert _eval(nmnist_test_split, tmp_path / "one", model_args, "--window-events", "500") == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ezsr_live.cli.toolbox", "eval", "--dataset", "nmnist", "--root", str(nmnist_test_split),
           "-o", str(tmp_path / "two"), "--window-events", "500", *model_args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("20 samples") == 1, "only rank 0 reports"
    assert _rows(tmp_path / "one" / "predictions.csv") == _rows(tmp_path / "two" / "predictions.csv")
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert two["provenance"]["world_size"] == 2
    timing = ("provenance", "wall_s", "samples_per_s")
    assert {k: v for k, v in one.items() if k not in timing} == {k: v for k, v in two.items() if k not in timing}


def test_confusion_png_is_readable_up_to_101_classes(tmp_path):
    import numpy as np
    from PIL import Image

    from ezsr_live.recipes.evaluation.report import write_confusion_png

    names = [f"class {i}" for i in range(101)]
    path = write_confusion_png(tmp_path / "c.png", np.eye(101, dtype=np.int64), names, "x: top-1 = 100.0 %")
    width, height = Image.open(path).size
    assert height >= 101 * 12  # a row per class, tall enough for the default font's line
    small = write_confusion_png(tmp_path / "s.png", np.eye(2, dtype=np.int64), ["a", "b"],
                                "nmnist (plain): top-1 = 12.5 %, 20 samples")
    assert Image.open(small).size[0] > 200  # the title is not cut to the matrix's width
