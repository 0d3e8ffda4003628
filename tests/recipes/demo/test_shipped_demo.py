"""The bundled demo: the shipped files are the trained ones, and they recognise."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ezsr_live.cli.live import main as ezsr_live
from ezsr_live.recipes.demo.recording import label_at, read_ground_truth
from ezsr_live.recipes.demo.shapes import ShapeGenerator, ShapesConfig, to_tensor
from ezsr_live.recipes.demo.teacher import load_teacher
from ezsr_live.model import knn
from ezsr_live.model.registry import default_model, lookup, verify_event_weights, verify_pretrained
from ezsr_live.model.vocabulary import Vocabulary

from tests.conftest import REPO_ROOT

DEMO = REPO_ROOT / "weights" / "demo"
RECORDING = DEMO / "shapes_demo.raw"
FRESH_SEED = 20261128  # images nobody trained or evaluated on


@pytest.fixture(scope="module")
def spec():
    return lookup("ezsr-demo")


def test_shipped_weights_match_the_registry_sha256s(spec):
    assert verify_pretrained(spec) == str(DEMO / "ezsr-demo-teacher.safetensors")
    assert verify_event_weights(spec) == DEMO / "ezsr-demo-event.safetensors"
    assert spec.knn_pool_path is not None
    assert default_model().name == "ezsr-demo"  # no official weights in this checkout


def test_shipped_sizes_stay_within_budget(spec):
    weights = (DEMO / "ezsr-demo-teacher.safetensors").stat().st_size + spec.event_weights_path.stat().st_size
    pool = sum(p.stat().st_size for p in spec.knn_pool_path.iterdir())
    assert weights <= 25 << 20 and pool <= 10 << 20 and RECORDING.stat().st_size <= 5 << 20


def test_teacher_recognises_fresh_generated_images(spec):
    torch.manual_seed(0)
    clip = load_teacher(DEMO / "ezsr-demo-teacher.safetensors")
    labels = (DEMO / "labels.txt").read_text().split()
    vocab = Vocabulary(clip.encode_text, clip.identity, labels, spec.templates_arg)
    images, samples = ShapeGenerator(ShapesConfig(), seed=FRESH_SEED).render(np.arange(400))
    with torch.no_grad():
        e = torch.nn.functional.normalize(clip.model.encode_image(to_tensor(images)).float(), dim=-1)
    predicted = (e @ vocab.matrix().T).argmax(1).numpy()
    truth = np.array([labels.index(s.class_name) for s in samples])
    assert (predicted == truth).mean() >= 0.90


def test_pool_belongs_to_the_shipped_teacher(spec):
    clip = load_teacher(DEMO / "ezsr-demo-teacher.safetensors")
    pool = knn.open_pool(spec.knn_pool_path, clip.identity, clip.embed_dim)
    assert len(pool) > 0


def test_replaying_the_demo_recording_with_the_default_model(capsys):
    """The product's default path: no model options, the demo recording, headless;
    the demo promises at least 80 % top-1 here."""
    rc = ezsr_live(["--replay", str(RECORDING), "--headless", "--speed", "4", "--device", "cpu", "--top-k", "3"])
    assert rc == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(results) >= 20
    labels = set((DEMO / "labels.txt").read_text().split())
    assert all({t["label"] for t in r["topk"]} <= labels for r in results)
    # a window's ground truth is the shape at its middle: a 50 ms window that ends just
    # after a new shape appears still shows the previous one
    middles = np.array([(r["t_window_start_us"] + r["t_us"]) // 2 for r in results])
    truth = label_at(read_ground_truth(RECORDING.with_suffix(".json")), middles)
    scored = [(r["topk"][0]["label"], gt) for r, gt in zip(results, truth) if gt is not None]
    accuracy = np.mean([pred == gt for pred, gt in scored])
    assert accuracy >= 0.80, f"top-1 {accuracy:.2f} on {len(scored)} results"
