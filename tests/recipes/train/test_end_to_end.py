"""A miniature EZSR run: distil the tiny tower on synthesised events, checkpoint, resume,
load the weights as --event-weights, and evaluate zero-shot with and without k-NN."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ezsr_live.cli.toolbox import main
from ezsr_live.drivers import open_writer
from ezsr_live.model.clip_loader import load_clip
from ezsr_live.model.event_encoder import make_event_encoder
from ezsr_live.synth import synthesize
from ezsr_live.recipes.train import LossConfig, TrainConfig, train

from .conftest import CLASSES, TINY_CONFIG


def _config(data: Path, out: Path, model: str, **overrides) -> TrainConfig:
    base = dict(data=str(data), out=str(out), model=model, pretrained=None, model_config=str(TINY_CONFIG),
                steps=8, batch_size=8, lr=3e-4, warmup_steps=1, workers=0, checkpoint_every=4, log_every=1,
                resume="auto", progress=False, loss=LossConfig(learn_modulation=True))
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained_run(image_tree, tiny_model_name, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    # the synthesis happens in a DataLoader worker process here, as in real training
    result = train(_config(image_tree, out, tiny_model_name, workers=1))
    return out, result


def test_distillation_lowers_the_modulation_loss_and_writes_its_artefacts(trained_run):
    out, result = trained_run
    assert result.start_step == 0 and result.final_step == 8
    losses = [row["modulation"] for row in result.history]
    assert len(losses) == 8
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step_00000004", "step_00000008"]
    with (out / "train_log.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == list(range(1, 9))
    assert Image.open(out / "loss_curve.png").size[0] > 100


def test_saved_event_weights_load_as_event_encoder_with_the_modulation_applied(trained_run, tiny_model_name):
    out, _ = trained_run
    clip = load_clip(tiny_model_name, None, "cpu")
    encoder, info = make_event_encoder(clip.model, tiny_model_name, out / "event_encoder.safetensors", 32)
    assert info.base_model == tiny_model_name and info.representation == "ezsr_histogram"
    assert info.extra["modulation"]["folded"] is True
    # the deployable tower equals the trained tower followed by (gamma, beta)
    from safetensors.torch import load_file

    state = load_file(str(out / "checkpoints" / "step_00000008" / "trainer.safetensors"))
    trained = load_clip(tiny_model_name, None, "cpu").model.visual
    trained.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("student.")})
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = trained(x) * state["modulation.gamma"] + state["modulation.beta"]
        torch.testing.assert_close(encoder(x), expected, atol=1e-5, rtol=1e-4)


def test_resumed_run_continues_from_the_saved_step_and_matches_an_uninterrupted_run(
        trained_run, image_tree, tiny_model_name, tmp_path):
    out, _ = trained_run
    interrupted = tmp_path / "interrupted"
    shutil.copytree(out, interrupted)
    # as if the run had died after the step-4 checkpoint
    shutil.rmtree(interrupted / "checkpoints" / "step_00000008")
    (interrupted / "checkpoints" / "latest").write_text("step_00000004\n")
    (interrupted / "event_encoder.safetensors").unlink()
    result = train(_config(image_tree, interrupted, tiny_model_name))
    assert result.start_step == 4 and result.final_step == 8
    assert [row["step"] for row in result.history] == [5, 6, 7, 8]
    with (interrupted / "train_log.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == list(range(1, 9))
    from safetensors.torch import load_file

    a = load_file(str(out / "event_encoder.safetensors"))
    b = load_file(str(interrupted / "event_encoder.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)


def test_evaluation_reports_accuracy_with_and_without_knn(trained_run, image_tree, tiny_model_name, tmp_path, capsys):
    out, _ = trained_run
    dataset = tmp_path / "cifar10dvs"
    images = sorted(image_tree.rglob("*.png"))
    for i, path in enumerate(images):
        (dataset / path.parent.name).mkdir(parents=True, exist_ok=True)
        res = synthesize(Image.open(path), seed=i)
        with open_writer(dataset / path.parent.name / f"{path.stem}.npz", res.geometry) as w:
            w.write(res.events)
    # a k-NN pool of the RGB tower's image embeddings, as `ezsr pool build` would make
    from ezsr_live.model.knn import create_pool

    clip = load_clip(tiny_model_name, None, "cpu")
    with torch.no_grad():
        vectors = clip.model.encode_image(torch.stack([clip.preprocess(Image.open(p)) for p in images])).numpy()
    create_pool(tmp_path / "pool", vectors, clip.identity)
    report_dir = tmp_path / "report"
    argv = ["eval", "--dataset", "cifar10dvs", "--root", str(dataset), "--model", tiny_model_name,
            "--pretrained", "", "--model-config", str(TINY_CONFIG), "--device", "cpu", "--threads", "1",
            "--event-weights", str(out / "event_encoder.safetensors"), "--knn-pool", str(tmp_path / "pool"),
            "--knn-k", "4", "--templates", "photo", "--limit", "18", "--batch-size", "8", "-o", str(report_dir),
            "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "plain: top-1" in printed and "knn: top-1" in printed
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["samples"] == 18 and summary["unreadable"] == 0
    for key in ("top1_plain", "top5_plain", "top1_knn", "top5_knn"):
        assert 0.0 <= summary[key] <= 1.0
    assert summary["top5_plain"] == 1.0  # 3 classes: the top 5 hold them all
    with (report_dir / "per_class.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["class_name"] for r in rows] == list(CLASSES)
    assert sum(int(r["samples"]) for r in rows) == 18
    assert (report_dir / "confusion.png").is_file() and (report_dir / "confusion_knn.png").is_file()


def test_evaluation_refuses_labels_and_points_to_class_names(tmp_path, capsys):
    rc = main(["eval", "--dataset", "cifar10dvs", "--root", str(tmp_path), "--labels", "cat,dog"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--labels" in err and "--class-names" in err


def test_resuming_with_another_schedule_is_refused_by_name(trained_run, image_tree, tiny_model_name, tmp_path):
    from ezsr_live.errors import EzsrError

    out, _ = trained_run
    moved = tmp_path / "longer"
    shutil.copytree(out, moved)
    with pytest.raises(EzsrError, match=r"different schedule: --steps 16 \(the run has 8\)"):
        train(_config(image_tree, moved, tiny_model_name, steps=16))
    with pytest.raises(EzsrError, match=r"--lr 0.001 \(the run has 0.0003\)"):
        train(_config(image_tree, moved, tiny_model_name, lr=1e-3))


def test_cpu_threads_leave_the_synthesis_workers_their_cores():
    from ezsr_live.recipes.train.distributed import DistEnv
    from ezsr_live.recipes.train.loop import cpu_threads

    import os

    cores = os.cpu_count() or 1
    assert cpu_threads(None, 0, DistEnv()) == cores
    assert cpu_threads(None, cores, DistEnv()) == 1
    assert cpu_threads(None, 0, DistEnv(world_size=cores * 2)) == 1
    assert cpu_threads(3, 8, DistEnv()) == 3
