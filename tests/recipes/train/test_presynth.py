"""Pre-synthesised training events (``ezsr synth IMAGE_DIR -o EVENTS``, ``ezsr train
--events``) and validation during training (``--val-events``, the CSV, the PNG,
TensorBoard)."""
from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ezsr_live.cli.toolbox import main
from ezsr_live.drivers import open_reader
from ezsr_live.recipes.train import LossConfig, TrainConfig, train
from ezsr_live.recipes.train.event_folder import image_seed

from .conftest import CLASSES, TINY_CONFIG


def _read(path: Path):
    with open_reader(path) as reader:
        return reader.read_all(), reader.geometry


@pytest.fixture(scope="module")
def events_dir(image_tree, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("events") / "ev"
    assert main(["synth", str(image_tree), "-o", str(out), "--seed", "3", "--no-progress"]) == 0
    return out


def test_folder_synthesis_mirrors_the_tree_and_equals_single_image_synthesis(image_tree, events_dir, tmp_path):
    images = sorted(image_tree.rglob("*.png"))
    made = sorted(p.relative_to(events_dir).as_posix() for p in events_dir.rglob("*.evt2.raw"))
    assert made == [p.relative_to(image_tree).with_name(p.stem + ".evt2.raw").as_posix() for p in images]
    manifest = json.loads((events_dir / "synth.json").read_text())
    assert manifest["seed"] == 3 and manifest["extension"] == ".evt2.raw"
    for image in (images[0], images[13]):
        rel = image.relative_to(image_tree).as_posix()
        single = tmp_path / f"{image.stem}.evt2.raw"
        assert main(["synth", str(image), "-o", str(single), "--seed", str(image_seed(3, rel))]) == 0
        (a, ga), (b, gb) = _read(events_dir / Path(rel).with_suffix(".evt2.raw")), _read(single)
        assert ga == gb and len(a) > 100
        np.testing.assert_array_equal(a, b)


def test_worker_processes_make_the_same_files(image_tree, events_dir, tmp_path):
    subset = tmp_path / "images"
    for name in CLASSES[:2]:
        (subset / name).mkdir(parents=True)
        for p in sorted((image_tree / name).glob("*.png"))[:2]:
            shutil.copy(p, subset / name / p.name)
    out = tmp_path / "ev"
    assert main(["synth", str(subset), "-o", str(out), "--seed", "3", "--workers", "2", "--no-progress"]) == 0
    files = sorted(out.rglob("*.evt2.raw"))
    assert len(files) == 4
    for f in files:  # the same per-image seeds as the full folder, made in other processes
        np.testing.assert_array_equal(_read(f)[0], _read(events_dir / f.relative_to(out))[0])


def test_folder_synthesis_resumes_and_refuses_other_settings(image_tree, tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["synth", str(image_tree), "-o", str(out), "--no-progress", "--format", "npz"]) == 0
    kept = out / "cat" / "01.npz"
    before = kept.stat().st_mtime_ns
    (out / "ship" / "03.npz").unlink()
    capsys.readouterr()
    assert main(["synth", str(image_tree), "-o", str(out), "--no-progress", "--format", "npz"]) == 0
    printed = capsys.readouterr().out
    assert "1 event files written" in printed and "23 already there" in printed
    assert kept.stat().st_mtime_ns == before and (out / "ship" / "03.npz").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(".partial-")]
    assert main(["synth", str(image_tree), "-o", str(out), "--no-progress", "--format", "npz", "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ezsr: ") and "seed" in err and "other settings" in err and len(err.splitlines()) == 1


def _config(data: Path, out: Path, model: str, **overrides) -> TrainConfig:
    base = dict(data=str(data), out=str(out), model=model, pretrained=None, model_config=str(TINY_CONFIG),
                steps=4, batch_size=8, lr=3e-4, warmup_steps=1, workers=0, checkpoint_every=2, log_every=1,
                progress=False, loss=LossConfig(learn_modulation=True), tensorboard="off")
    base.update(overrides)
    return TrainConfig(**base)


def test_training_reads_the_presynthesised_events(image_tree, events_dir, tiny_model_name, tmp_path):
    from ezsr_live.recipes.train.data import EventFilePairDataset
    from ezsr_live.recipes.train.event_folder import event_files_for
    from ezsr_live.kernels import ezsr_model_input
    from ezsr_live.recipes.train.data import find_images

    images = find_images(image_tree)
    files = event_files_for(images, image_tree, events_dir)
    dataset = EventFilePairDataset(images, files, lambda im: torch.zeros(1), 32)
    events, geometry = _read(files[5])
    frame, _ = dataset[len(images) + 5]  # any epoch: the same events of image 5
    np.testing.assert_array_equal(frame.numpy(), ezsr_model_input(events, geometry, size=32))
    result = train(_config(image_tree, tmp_path / "run", tiny_model_name, events=str(events_dir)))
    assert result.final_step == 4 and result.encoder_path.is_file()
    assert all(np.isfinite(row["loss"]) for row in result.history)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["events"] == str(events_dir) and config["events_manifest"]["seed"] == 3


def test_training_refuses_an_unfinished_events_folder(image_tree, events_dir, tmp_path, capsys):
    partial = tmp_path / "ev"
    shutil.copytree(events_dir, partial)
    (partial / "cat" / "02.evt2.raw").unlink()
    rc = main(["train", str(image_tree), "-o", str(tmp_path / "run"), "--events", str(partial), "--model",
               "ezsr-test-tiny", "--pretrained", "", "--no-progress", "--tensorboard", "off"])
    err = capsys.readouterr().err
    assert rc == 2 and "no events for 1 of the 24 images" in err and "ezsr synth" in err
    rc = main(["train", str(image_tree), "-o", str(tmp_path / "run"), "--events", str(image_tree), "--tensorboard", "off"])
    assert rc == 2 and "synth.json" in capsys.readouterr().err


@pytest.fixture(scope="module")
def teacher_file(tiny_model_name, tmp_path_factory) -> Path:
    """The tiny CLIP's random weights as a file, so that training and ``ezsr eval``
    build the same text tower."""
    from ezsr_live.model.clip_loader import load_clip

    torch.manual_seed(11)
    path = tmp_path_factory.mktemp("teacher") / "tiny.pt"
    torch.save(load_clip(tiny_model_name, None, "cpu").model.state_dict(), path)
    return path


def test_validation_scores_the_held_out_set_as_ezsr_eval_does(image_tree, tiny_model_name, teacher_file,
                                                               tmp_path, capsys):
    held_out = tmp_path / "val"  # CIFAR-10 class names: the cifar10dvs layout, in its 128x128 sensor
    assert main(["synth", str(image_tree), "-o", str(held_out), "--seed", "9", "--format", ".npz",
                 "--geometry", "128x128", "--no-progress"]) == 0
    run = tmp_path / "run"
    result = train(_config(image_tree, run, tiny_model_name, pretrained=str(teacher_file), val_events=str(held_out),
                           val_dataset="cifar10dvs", val_every=2, val_templates="photo", steps=3))
    with (run / "train_log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    scored = {int(r["step"]): float(r["val_top1"]) for r in rows if r["val_top1"]}
    assert sorted(scored) == [2, 3]  # every 2 steps, and the last
    assert all(0.0 <= v <= 1.0 for v in scored.values())
    capsys.readouterr()
    assert main(["eval", "--dataset", "cifar10dvs", "--root", str(held_out), "--model", tiny_model_name,
                 "--pretrained", str(teacher_file), "--model-config", str(TINY_CONFIG), "--device", "cpu",
                 "--event-weights", str(result.encoder_path), "--templates", "photo", "--no-progress",
                 "-o", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["samples"] == 24
    assert scored[3] == pytest.approx(summary["top1_plain"])
    assert (run / "loss_curve.png").stat().st_size > 1000


def test_tensorboard_scalars_match_the_csv(image_tree, events_dir, tiny_model_name, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(_config(image_tree, run, tiny_model_name, events=str(events_dir), val_events=str(events_dir), val_every=2,
                  steps=2, tensorboard="on"))
    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    with (run / "train_log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx([float(r["loss"]) for r in rows])
    assert [e.step for e in acc.Scalars("val/top1")] == [2]
    assert acc.Scalars("val/top1")[0].value == pytest.approx(float(rows[-1]["val_top1"]))


def test_tensorboard_asked_for_and_missing_is_one_clear_line(image_tree, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    rc = main(["train", str(image_tree), "-o", str(tmp_path / "run"), "--model", "ezsr-test-tiny", "--pretrained", "",
               "--tensorboard", "on", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "pip install tensorboard" in err and len(err.strip().splitlines()) == 1


def test_ctrl_c_during_folder_synthesis_leaves_only_whole_files(image_tree, tmp_path):
    import os
    import signal
    import subprocess
    import time

    images = tmp_path / "images" / "many"
    images.mkdir(parents=True)
    sources = sorted(image_tree.rglob("*.png"))
    for i in range(160):
        shutil.copy(sources[i % len(sources)], images / f"{i:03d}.png")
    out = tmp_path / "ev"
    argv = [sys.executable, "-m", "ezsr_live.cli.toolbox", "synth", str(images.parent), "-o", str(out),
            "--workers", "2", "--geometry", "320x240", "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while not list(out.rglob("*.evt2.raw")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().endswith("ezsr: interrupted")
    done = list(out.rglob("*.evt2.raw"))
    assert 0 < len(done) < 160 and not [p for p in out.rglob("*") if p.name.startswith(".partial-")]
    for f in done:  # every file left is whole
        assert len(_read(f)[0]) > 0
    assert main(["synth", str(images.parent), "-o", str(out), "--geometry", "320x240", "--no-progress"]) == 0
    assert len(list(out.rglob("*.evt2.raw"))) == 160


def test_the_png_draws_validation_accuracy_beside_the_loss(tmp_path):
    from PIL import Image

    from ezsr_live.recipes.train.runlog import plot_log

    rows = [{"step": s, "loss": 1.0 / s, "modulation": 1.0 / s, "val_top1": "" if s % 2 else 0.1 * s}
            for s in range(1, 9)]

    def orange_pixels(folder: Path) -> int:
        img = np.asarray(Image.open(folder / "loss_curve.png").convert("RGB")).astype(int)
        return int((np.abs(img - (255, 127, 14)).sum(-1) < 60).sum())  # the second colour: val_top1

    with_val, without = tmp_path / "a", tmp_path / "b"
    with_val.mkdir()
    without.mkdir()
    plot_log(with_val, rows)
    plot_log(without, [{k: v for k, v in r.items() if k != "val_top1"} for r in rows])
    assert orange_pixels(with_val) > 200 and orange_pixels(without) == 0


def test_an_unreadable_image_is_named_skipped_and_retried_by_the_next_run(image_tree, tmp_path, capsys, caplog):
    images = tmp_path / "images"
    shutil.copytree(image_tree, images)
    (images / "cat" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "ev"
    assert main(["synth", str(images), "-o", str(out), "--no-progress"]) == 1  # a failure while running
    captured = capsys.readouterr()
    assert "broken.png: not a readable image" in caplog.text and "24 event files written" in captured.out
    assert "1 images unreadable" in captured.out and not (out / "cat" / "broken.evt2.raw").exists()
    (images / "cat" / "broken.png").unlink()
    shutil.copy(image_tree / "cat" / "00.png", images / "cat" / "broken.png")
    assert main(["synth", str(images), "-o", str(out), "--no-progress"]) == 0
    assert "1 event files written" in capsys.readouterr().out
