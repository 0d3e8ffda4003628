"""The Python API: the README's example runs as written, and the model is the CLI's."""
from __future__ import annotations

import re

import numpy as np
import pytest

import ezsr_live
from tests.helpers import DEMO_SHAPES
from ezsr_live.drivers import open_reader

from tests.conftest import REPO_ROOT

DEMO = DEMO_SHAPES


@pytest.fixture(scope="module")
def demo_model():
    return ezsr_live.load("ezsr-demo", device="cpu")


def test_readme_example_runs_as_written(monkeypatch, capsys):
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ezsr_live.load(" in b]
    assert len(blocks) == 1
    monkeypatch.chdir(REPO_ROOT)
    exec(compile(blocks[0], "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert "Prediction(label='cross'" in lines[0]
    assert len(lines) > 100 and all(len(line.split()) == 2 for line in lines[1:])


def test_load_applies_the_registered_models_own_vocabulary_and_window(demo_model):
    labels = (REPO_ROOT / "weights" / "demo" / "labels.txt").read_text().split()
    assert list(demo_model.labels) == labels  # not 1,000 ImageNet classes
    assert str(demo_model.window) == "50 ms"
    assert demo_model.recognizer.knn is not None  # the registered pool


def test_field_order_does_not_change_the_answer(demo_model):
    events = open_reader(DEMO).read_all()
    window = events[(events["t"] >= 150_000) & (events["t"] < 200_000)]
    reordered = np.zeros(len(window), dtype=[("p", "i1"), ("y", "<i4"), ("x", "<f8"), ("t", "<u8")])
    for f in "txyp":
        reordered[f] = window[f]
    a = demo_model.recognize(window, geometry=(64, 64), k=3)
    b = demo_model.recognize(reordered, geometry=(64, 64), k=3)
    assert [p.label for p in a] == [p.label for p in b]
    assert [p.probability for p in a] == pytest.approx([p.probability for p in b], abs=1e-6)


def test_windows_of_a_file_match_the_ground_truth_mostly(demo_model):
    import json

    truth = json.loads((REPO_ROOT / "weights" / "demo" / "shapes_demo.json").read_text())
    results = list(demo_model.windows(DEMO))

    def expected(t):
        return next((seg["label"] for seg in truth if seg["t_start_us"] <= t < seg["t_end_us"]), None)

    scored = [(r.label, expected((r.t_start_us + r.t_end_us) // 2)) for r in results]
    scored = [(got, want) for got, want in scored if want is not None]
    assert len(scored) > 100
    assert sum(got == want for got, want in scored) / len(scored) >= 0.8


def test_overrides_and_bad_arguments(demo_model):
    model = ezsr_live.load("ezsr-demo", device="cpu", labels="star,heart", window_events=2000)
    assert model.labels == ("star", "heart") and str(model.window) == "2000 events"
    with pytest.raises(ValueError):
        ezsr_live.load("ezsr-demo", window_ms=10, window_events=10)
    with pytest.raises(ezsr_live.ModelError, match="unknown registered model"):
        ezsr_live.load("no-such-model")
    with pytest.raises(ValueError, match="geometry"):
        next(demo_model.windows(open_reader(DEMO).read_all()))
