"""The demo CLIP: its bundled config, contrastive training, zero-shot evaluation, checkpoints."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ezsr_live.recipes.demo.shapes import SHAPE_CLASSES, ShapesConfig
from ezsr_live.recipes.demo.teacher import (
    DEMO_MODEL,
    TeacherConfig,
    build_model,
    load_teacher,
    lr_at,
    save_teacher,
    train_teacher,
    zero_shot_eval,
)
from ezsr_live.errors import ModelError

#: the size the issue allows for teacher and event encoder together (fp16)
SHIP_BUDGET_BYTES = 25_000_000


@pytest.fixture(scope="module")
def short_run():
    """A handful of steps of the real demo architecture on small batches."""
    torch.manual_seed(0)
    cfg = TeacherConfig(steps=40, batch_size=32, lr=2e-3, warmup_steps=5, eval_every=1000, eval_images=48,
                        threads=1)
    return train_teacher(cfg)


def test_demo_config_is_found_by_name_and_fits_the_size_budget():
    from ezsr_live.model.clip_loader import load_clip

    bundle = load_clip(DEMO_MODEL)  # registered from weights/demo/ on first request
    assert bundle.embed_dim == 64 and bundle.image_size == 64
    assert bundle.tokenizer(["a red star"]).shape == (1, 32)
    teacher_bytes = 2 * sum(p.numel() for p in bundle.model.parameters())
    student_bytes = 2 * sum(p.numel() for p in bundle.model.visual.parameters())
    assert teacher_bytes + student_bytes <= SHIP_BUDGET_BYTES
    with torch.no_grad():
        out = bundle.model.encode_image(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 64)


def test_learning_rate_warms_up_then_decays_to_its_floor():
    cfg = TeacherConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    rates = [lr_at(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    assert lr_at(100, cfg) == pytest.approx(1e-4)


def test_contrastive_training_lowers_the_loss(short_run):
    losses = [r.loss for r in short_run.history]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.3
    assert all(np.isfinite(losses))
    assert short_run.final is not None and 0.0 <= short_run.final.top1 <= 1.0


def test_training_is_reproducible_with_a_fixed_seed(short_run):
    cfg = TeacherConfig(steps=3, batch_size=16, warmup_steps=2, eval_every=1000, eval_images=24)
    a = [r.loss for r in train_teacher(cfg).history]
    b = [r.loss for r in train_teacher(cfg).history]
    assert a == b


def test_a_fixed_logit_scale_stays_where_it_was_set_and_the_learnt_one_moves():
    fixed = TeacherConfig(steps=3, batch_size=16, warmup_steps=1, eval_every=1000, eval_images=12,
                          fixed_logit_scale=100.0)
    run = train_teacher(fixed)
    assert not run.model.logit_scale.requires_grad
    assert float(run.model.logit_scale.exp()) == pytest.approx(100.0, rel=1e-6)
    learnt = train_teacher(TeacherConfig(steps=3, batch_size=16, warmup_steps=1, eval_every=1000, eval_images=12))
    assert float(learnt.model.logit_scale.detach().exp()) != pytest.approx(1 / 0.07, rel=1e-6)  # it trained
    assert fixed.to_json()["fixed_logit_scale"] == 100.0
    for bad in (0.5, 101.0):
        with pytest.raises(ValueError, match="fixed_logit_scale"):
            TeacherConfig(fixed_logit_scale=bad)


def test_the_text_projection_gain_scales_its_initialisation_and_no_decay_takes_it_out_of_weight_decay():
    from ezsr_live.recipes.demo.teacher import _param_groups

    def text_projection(**kw) -> torch.Tensor:  # a step too small to move anything: the initialisation
        cfg = TeacherConfig(steps=1, batch_size=4, warmup_steps=0, eval_every=1000, eval_images=4, lr=1e-12, **kw)
        return train_teacher(cfg).model.text_projection.detach().clone()

    plain, tripled = text_projection(), text_projection(text_projection_gain=3.0)
    assert torch.allclose(tripled, 3.0 * plain, rtol=1e-5, atol=1e-7)
    model, _ = build_model()
    decayed = {id(p) for p in _param_groups(model, 0.1)[1]["params"]}
    kept = {id(p) for p in _param_groups(model, 0.1, text_projection_decay=False)[1]["params"]}
    assert id(model.text_projection) in decayed and id(model.text_projection) not in kept
    assert decayed - kept == {id(model.text_projection)}  # nothing else changes group
    for bad in (0.0, -1.0, 101.0):
        with pytest.raises(ValueError, match="text_projection_gain"):
            TeacherConfig(text_projection_gain=bad)


def test_zero_shot_eval_counts_every_image_in_a_confusion_matrix():
    model, tokenizer = build_model()
    res = zero_shot_eval(model, tokenizer, ShapesConfig(), n_images=60, batch_size=25)
    assert res.confusion.shape == (12, 12) and res.confusion.sum() == 60
    assert res.top1 == pytest.approx(np.trace(res.confusion) / 60)
    assert set(res.per_class) == set(SHAPE_CLASSES)
    for true, pred, count in res.confusion_pairs(4):
        assert true != pred and count >= 1


def test_saved_teacher_loads_through_open_clip_with_the_same_outputs(short_run, tmp_path):
    path = tmp_path / "teacher.safetensors"
    sidecar = save_teacher(short_run.model, path, config=short_run.config, metrics={"final_top1": 0.5})
    meta = json.loads(sidecar.read_text())
    assert meta["labels"] == list(SHAPE_CLASSES) and meta["model_name"] == DEMO_MODEL
    assert len(meta["sha256"]) == 64 and meta["dtype"] == "float16"
    bundle = load_teacher(path)
    x = torch.randn(3, 3, 64, 64)
    tokens = bundle.tokenizer(["a star", "a ring"])
    with torch.no_grad():
        ref_img = short_run.model.encode_image(x)
        ref_txt = short_run.model.encode_text(tokens)
        torch.testing.assert_close(bundle.model.encode_image(x), ref_img, atol=2e-2, rtol=2e-2)
        torch.testing.assert_close(bundle.model.encode_text(tokens), ref_txt, atol=2e-2, rtol=2e-2)


def test_a_tampered_teacher_file_is_refused(short_run, tmp_path):
    path = tmp_path / "teacher.safetensors"
    save_teacher(short_run.model, path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_teacher(path)
