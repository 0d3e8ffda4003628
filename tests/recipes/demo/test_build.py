"""The demo build: ``ezsr demo train`` trains the teacher, the students, pools, demo
recording and ablation in one command, and ``--install`` pins them in the registry.

The build runs once (``--quick``: a teacher of the real demo architecture trained for two
steps): the numbers mean nothing, the artifacts' formats and contents are checked, and
the install goes to a copy of the weights folder.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import REPO_ROOT
from ezsr_live.fileio import sha256_file
from ezsr_live.cli.cmd_demo import TEACHER_FILE
from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.recipes.demo import build as demo_build
from ezsr_live.recipes.demo.build import (HELD_OUT, POOL_NAME, RECORDING_NAME, SEEN, SEEN_POOL_NAME, SHIPPED_FILE,
                                  SHIPPED_STUDENT, student_file)
from ezsr_live.recipes.demo.recording import (RECORDING_SEED_BASE, RecordingConfig, Segment, label_at, read_ground_truth,
                                      segment_images, segment_order, write_recording)
from ezsr_live.recipes.demo.shapes import SHAPE_CLASSES
from ezsr_live.recipes.demo.teacher import DEMO_MODEL, load_teacher
from ezsr_live.model.registry import lookup, verify_event_weights, verify_pretrained

WEIGHTS = REPO_ROOT / "weights"
LABELS_FILE = WEIGHTS / "demo" / "labels.txt"
STUDENT_NAMES = ("infonce", "modulation", "combined")  # the ablation's students


@pytest.fixture(scope="module")
def weights_copy(tmp_path_factory) -> Path:
    """The registry, the demo's architecture and text files, without the shipped binaries."""
    root = tmp_path_factory.mktemp("weights")
    shutil.copy(WEIGHTS / "registry.json", root / "registry.json")
    (root / "demo").mkdir()
    for name in ("labels.txt", "templates.txt", "ezsr-demo.json"):
        shutil.copy(WEIGHTS / "demo" / name, root / "demo" / name)
    return root


@pytest.fixture(scope="module")
def work(weights_copy, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("demo-work")
    torch_threads = torch.get_num_threads()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("EZSR_WEIGHTS_DIR", str(weights_copy))
            rc = ezsr(["demo", "train", "-o", str(work), "--quick", "--install"])
    finally:
        torch.set_num_threads(torch_threads)
    assert rc == 0
    return work


@pytest.fixture(scope="module")
def built(work) -> tuple[Path, dict]:
    out = work / "build"
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def teacher(work) -> Path:
    return work / "teacher" / "teacher.safetensors"


def _read_all(path: Path):
    from ezsr_live.drivers import open_reader

    with open_reader(path) as reader:
        info = reader.info
        events = np.concatenate(list(reader))
    return info, events


def test_quick_build_reports_every_ablation_row_and_stage(built):
    out, doc = built
    encoders = [r["encoder"] for r in doc["ablation"]]
    assert encoders[0].startswith("teacher on RGB") and encoders[1].startswith("teacher image tower on event")
    # three ablation students, each alone and with each of the two pools; the shipped
    # student alone and with the shipped pool
    assert len(encoders) == 2 + 3 * 3 + 2
    assert [r.get("pool") for r in doc["ablation"] if r.get("student") == SHIPPED_STUDENT] == [None, "all"]
    assert {r.get("pool") for r in doc["ablation"]} == {None, "all", "seen"}
    for row in doc["ablation"]:
        for key in ("synthetic_all", "synthetic_held_out", "synthetic_seen"):
            assert 0.0 <= row[key] <= 1.0
        # the visible subset can be empty in a quick build's few images
        assert row["synthetic_visible"] is None or 0.0 <= row["synthetic_visible"] <= 1.0
        if row["input"] == "events":
            bins = row["synthetic_by_contrast"]
            assert [b["from"] for b in bins] == list(demo_build.CONTRAST_BINS[:-1])
            assert sum(b["windows"] for b in bins) == row["counts"]["synthetic_windows"]
    counts = doc["ablation"][0]["counts"]
    assert 0 <= counts["synthetic_visible_windows"] <= counts["synthetic_windows"]
    assert all(r["recording_all"] is not None for r in doc["ablation"][1:])
    assert doc["ablation"][0]["counts"]["recording_windows"] > 0
    assert set(doc["stage_seconds"]) >= {"render training images", "k-NN pools", "demo recording", "ablation",
                                         "distil the shipped student",
                                         *(f"distil {n} student" for n in STUDENT_NAMES)}
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert "ezsr demo train" in markdown and "--quick" in markdown
    assert "| InfoNCE student + k-NN (seen pool) |" in markdown
    assert "| synthetic, visible |" in markdown and "luminance contrast" in markdown


def test_recording_reads_back_as_evt3_with_ground_truth_in_its_own_time(built):
    out, doc = built
    info, events = _read_all(out / RECORDING_NAME)
    assert info.format == "evt3" and (info.geometry.width, info.geometry.height) == (64, 64)
    assert len(events) == doc["recording"]["events"] > 0
    segments = read_ground_truth(out / "shapes_demo.json")
    assert segments[0].t_start_us == 0
    assert all(a.t_end_us == b.t_start_us for a, b in zip(segments, segments[1:]))
    assert events["t"].min() >= 0 and events["t"].max() < segments[-1].t_end_us
    assert None not in label_at(segments, events["t"])  # every event lies inside a segment
    labels = LABELS_FILE.read_text(encoding="utf-8").split()
    assert {s.label for s in segments} <= set(labels)
    raw = json.loads((out / "shapes_demo.json").read_text(encoding="utf-8"))
    assert all(set(d) == {"t_start_us", "t_end_us", "label"} and isinstance(d["t_start_us"], int) for d in raw)


def test_pools_carry_the_shipped_teacher_identity_and_only_the_seen_pool_lacks_held_out_classes(built):
    from ezsr_live.model.knn import open_pool

    out, _ = built
    model_id = f"{DEMO_MODEL}/{TEACHER_FILE}"
    full = open_pool(out / POOL_NAME, model_id, 64)
    seen = open_pool(out / SEEN_POOL_NAME, model_id, 64)
    assert full.meta.label_names == list(SHAPE_CLASSES)
    full_labels = {full.meta.label_names[i] for i in full.label_ids}
    seen_labels = {seen.meta.label_names[i] for i in seen.label_ids}
    assert seen_labels <= set(SEEN) and not seen_labels & set(HELD_OUT)
    assert full_labels & set(HELD_OUT)
    assert sum(f.stat().st_size for f in (out / POOL_NAME).iterdir()) <= 10_000_000


def test_students_load_as_fp16_event_weights_of_the_demo_tower(built, teacher):
    from ezsr_live.model.event_encoder import make_event_encoder

    out, doc = built
    clip = load_teacher(teacher)
    frame = torch.zeros(1, 3, 64, 64)
    for name in (*STUDENT_NAMES, SHIPPED_STUDENT):
        path = out / student_file(name)
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert meta["dtype"] == "float16" and meta["sha256"] == sha256_file(path)
        assert meta["demo"]["held_out_classes"] == ([] if name == SHIPPED_STUDENT else list(HELD_OUT))
        tower, info = make_event_encoder(clip.model, DEMO_MODEL, path, clip.image_size, keep_rgb_tower=True)
        assert info.base_model == DEMO_MODEL and info.input_size == 64
        with torch.no_grad():
            assert tower(frame).shape == (1, clip.embed_dim)
    assert doc["students"]["infonce"]["loss"]["kind"] == "infonce"
    assert doc["students"]["combined"]["loss"]["infonce_weight"] > 0


def test_install_pins_the_shipped_files_in_the_registry(work, weights_copy):
    spec = lookup("ezsr-demo", weights_copy / "registry.json")
    demo = weights_copy / "demo"
    assert verify_pretrained(spec) == str(demo / TEACHER_FILE)
    assert verify_event_weights(spec) == demo / SHIPPED_FILE
    assert (demo / SHIPPED_FILE).read_bytes() == (work / "build" / SHIPPED_FILE).read_bytes()
    assert spec.knn_pool_path == demo / POOL_NAME and (demo / RECORDING_NAME).is_file()
    assert json.loads((demo / TEACHER_FILE).with_suffix(".json").read_text())["weights"] == TEACHER_FILE
    assert not [p for p in demo.iterdir() if p.name.startswith(".")]  # no temporaries left behind
    untouched = [m for m in json.loads((WEIGHTS / "registry.json").read_text())["models"] if m["name"] != "ezsr-demo"]
    assert [m for m in json.loads((weights_copy / "registry.json").read_text())["models"]
            if m["name"] != "ezsr-demo"] == untouched


def test_a_quick_build_is_never_installed_over_the_shipped_demo(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EZSR_WEIGHTS_DIR", raising=False)
    before = (WEIGHTS / "registry.json").read_bytes()
    rc = ezsr(["demo", "train", "-o", str(tmp_path), "--quick", "--install"])
    assert rc == 2 and "EZSR_WEIGHTS_DIR" in capsys.readouterr().err
    assert (WEIGHTS / "registry.json").read_bytes() == before and not any(tmp_path.iterdir())


def test_install_from_an_incomplete_build_changes_nothing(teacher, tmp_path):
    from ezsr_live.cli.cmd_demo import install
    from ezsr_live.errors import EzsrError

    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(WEIGHTS / "registry.json", weights / "registry.json")
    (tmp_path / "build").mkdir()
    with pytest.raises(EzsrError, match=SHIPPED_FILE):
        install(teacher, tmp_path / "build", weights)
    assert not (weights / "demo").exists()
    assert (weights / "registry.json").read_bytes() == (WEIGHTS / "registry.json").read_bytes()


def test_a_missing_teacher_is_refused_by_name(tmp_path, capsys):
    rc = ezsr(["demo", "train", "-o", str(tmp_path), "--teacher", str(tmp_path / "nope.safetensors")])
    assert rc == 2 and "nope.safetensors" in capsys.readouterr().err


def test_training_images_hold_only_the_seen_classes(tmp_path):
    demo_build.render_training_images(tmp_path, 40, seed=3)
    folders = {p.name for p in tmp_path.iterdir() if any(p.iterdir())}
    assert folders and folders <= set(SEEN)
    assert sum(1 for _ in tmp_path.rglob("*.png")) == 40


def test_recording_is_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    cfg = RecordingConfig(classes=("star", "ring", "heart"), repeats=1, segment_ms=(100.0, 120.0))
    a, ga, _ = write_recording(tmp_path / "a" / "demo.raw", cfg, seed=5)
    b, gb, _ = write_recording(tmp_path / "b" / "demo.raw", cfg, seed=5)
    c, gc, _ = write_recording(tmp_path / "c" / "demo.raw", cfg, seed=6)
    assert a.read_bytes() == b.read_bytes() and ga.read_bytes() == gb.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_default_recording_shows_every_class_at_least_twice_within_the_size_budget(tmp_path):
    path, gt, n_events = write_recording(tmp_path / RECORDING_NAME, RecordingConfig(), seed=0)
    segments = read_ground_truth(gt)
    counts = {c: sum(s.label == c for s in segments) for c in SHAPE_CLASSES}
    assert min(counts.values()) >= 2
    assert all(a.label != b.label for a, b in zip(segments, segments[1:]))
    assert all(400_000 <= s.t_end_us - s.t_start_us <= 600_000 for s in segments)
    assert path.stat().st_size <= 5_000_000 and n_events > 0


def test_every_shape_of_the_default_recording_differs_from_its_background_in_luminance():
    """An event camera sees luminance only: the recording's generator picks colours whose
    log luminance differs from each background colour by more than the event threshold."""
    cfg = RecordingConfig()
    assert cfg.min_luma_contrast > cfg.synth.threshold_on + 2 * cfg.synth.threshold_sigma
    order = segment_order(cfg.classes, cfg.repeats, np.random.default_rng([RECORDING_SEED_BASE, 0]))
    samples = segment_images(cfg, order, seed=0)
    assert [s.class_name for s in samples] == order
    assert min(s.luma_contrast for s in samples) >= cfg.min_luma_contrast
    # without the criterion, several of the same segments would be near-invisible
    plain = segment_images(dataclasses.replace(cfg, min_luma_contrast=0.0), order, seed=0)
    assert sum(s.luma_contrast < cfg.synth.threshold_on for s in plain) >= 3


def test_an_unreachable_luminance_contrast_is_refused_not_looped_on():
    cfg = RecordingConfig(classes=("star",), repeats=1, segment_ms=(100.0, 120.0), min_luma_contrast=50.0)
    with pytest.raises(ValueError, match="min_luma_contrast"):
        segment_images(cfg, ["star"])
    with pytest.raises(ValueError, match="non-negative"):
        RecordingConfig(min_luma_contrast=-0.1)


def test_segment_order_never_repeats_a_class_back_to_back():
    rng = np.random.default_rng(0)
    for _ in range(50):
        order = segment_order(SHAPE_CLASSES, 3, rng)
        assert sorted(order) == sorted(SHAPE_CLASSES * 3)
        assert all(a != b for a, b in zip(order, order[1:]))


def test_label_at_maps_times_to_their_segment_and_none_outside():
    segments = [Segment(0, 100, "star"), Segment(100, 250, "ring"), Segment(300, 400, "heart")]
    assert label_at(segments, np.array([-1, 0, 99, 100, 249, 250, 300, 400])) == \
        [None, "star", "star", "ring", "ring", None, "heart", None]
