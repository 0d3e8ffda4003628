"""InfoNCE with a learnt temperature (``ezsr train --learn-temperature``): the logit
scale is a parameter the gradient reaches, starts at the teacher's, is clamped at CLIP's
100, survives a checkpoint and resume, and is refused where no InfoNCE term uses it."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from ezsr_live.cli.toolbox import main
from ezsr_live.recipes.train import LossConfig, TrainConfig, info_nce, train
from ezsr_live.recipes.train.losses import MAX_LOGIT_SCALE, LearntLogitScale

from .conftest import TINY_CONFIG


def test_a_tensor_logit_scale_gives_the_float_ones_loss_and_receives_its_gradient():
    torch.manual_seed(0)
    s, t = torch.randn(6, 8), torch.randn(6, 8)
    scale = LearntLogitScale(12.5)
    torch.testing.assert_close(scale(), torch.tensor(12.5))
    loss = info_nce(s, t, scale())
    torch.testing.assert_close(loss, info_nce(s, t, 12.5))
    loss.backward()
    # d loss / d log_scale, by central finite differences of the float version
    h = 1e-3
    numeric = (info_nce(s, t, 12.5 * math.exp(h)) - info_nce(s, t, 12.5 * math.exp(-h))) / (2 * h)
    assert scale.log_scale.grad is not None
    torch.testing.assert_close(scale.log_scale.grad, numeric, atol=1e-3, rtol=1e-3)


def test_the_learnt_scale_is_clamped_at_clips_maximum():
    scale = LearntLogitScale(50.0)
    with torch.no_grad():
        scale.log_scale.fill_(math.log(1e4))
    assert float(scale().detach()) == pytest.approx(MAX_LOGIT_SCALE)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            LearntLogitScale(bad)


def test_a_teacher_stored_at_the_cap_in_fp16_starts_at_the_cap():
    stored = float(torch.tensor(math.log(MAX_LOGIT_SCALE), dtype=torch.float16).float().exp())
    assert stored > MAX_LOGIT_SCALE  # fp16 rounds log(100) up: what such a checkpoint reads back as
    scale = LearntLogitScale(stored)  # refused before: the demo study's learnt-temperature runs all failed
    assert float(scale().detach()) == pytest.approx(MAX_LOGIT_SCALE)
    assert float(scale.log_scale.detach()) == pytest.approx(math.log(MAX_LOGIT_SCALE))


def test_a_learnt_temperature_needs_an_infonce_term():
    with pytest.raises(ValueError, match="InfoNCE"):
        LossConfig(kind="modulation", learn_temperature=True)
    assert LossConfig(kind="modulation", infonce_weight=0.5, learn_temperature=True).uses_infonce
    assert LossConfig(kind="infonce", learn_temperature=True).uses_infonce


def test_the_cli_refuses_a_learnt_temperature_without_infonce_in_one_line(image_tree, tmp_path, capsys):
    rc = main(["train", str(image_tree), "-o", str(tmp_path / "run"), "--model", "x", "--learn-temperature"])
    err = capsys.readouterr().err
    assert rc == 2 and "InfoNCE" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def _config(data, out, model, **overrides) -> TrainConfig:
    base = dict(data=str(data), out=str(out), model=model, pretrained=None, model_config=str(TINY_CONFIG),
                steps=6, batch_size=8, lr=5e-2, warmup_steps=1, workers=0, checkpoint_every=3, log_every=1,
                resume="auto", progress=False, tensorboard="off", threads=1,
                loss=LossConfig(kind="infonce", learn_temperature=True))
    base.update(overrides)
    return TrainConfig(**base)


def test_training_moves_the_scale_records_it_and_a_resumed_run_continues_from_the_saved_one(
        image_tree, tiny_model_name, tmp_path):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    result = train(_config(image_tree, out, tiny_model_name))
    scales = [row["logit_scale"] for row in result.history]
    assert len(scales) == 6 and len(set(scales)) > 1  # it is learnt, not the fixed teacher value
    saved = load_file(str(out / "checkpoints" / "step_00000003" / "trainer.safetensors"))
    assert "temperature.log_scale" in saved
    meta = json.loads((out / "event_encoder.json").read_text())
    final = load_file(str(out / "checkpoints" / "step_00000006" / "trainer.safetensors"))["temperature.log_scale"]
    assert meta["learnt_logit_scale"] == pytest.approx(float(final.exp()), rel=1e-5)  # after the last step
    assert meta["loss"]["learn_temperature"] is True

    # as if the run had died after the step-3 checkpoint
    interrupted = tmp_path / "interrupted"
    shutil.copytree(out, interrupted)
    shutil.rmtree(interrupted / "checkpoints" / "step_00000006")
    (interrupted / "checkpoints" / "latest").write_text("step_00000003\n")
    resumed = train(_config(image_tree, interrupted, tiny_model_name))
    assert resumed.start_step == 3
    torch.testing.assert_close(torch.tensor([r["logit_scale"] for r in resumed.history]),
                               torch.tensor(scales[3:]), rtol=1e-4, atol=1e-4)

    # a checkpoint with a learnt temperature is not silently resumed without one
    (interrupted / "checkpoints" / "latest").write_text("step_00000003\n")
    with pytest.raises(Exception, match="learn-temperature"):
        train(_config(image_tree, interrupted, tiny_model_name, loss=LossConfig(kind="infonce")))


def test_the_fixed_temperature_run_keeps_the_teachers_scale(image_tree, tiny_model_name, tmp_path):
    result = train(_config(image_tree, tmp_path / "fixed", tiny_model_name, steps=2, checkpoint_every=2,
                           loss=LossConfig(kind="infonce")))
    assert all("logit_scale" not in row for row in result.history)
    s, t = torch.randn(4, 8), torch.randn(4, 8)
    assert float(info_nce(s, t, 1.0)) == pytest.approx(float(
        (F.cross_entropy(F.normalize(s, dim=-1) @ F.normalize(t, dim=-1).T, torch.arange(4))
         + F.cross_entropy((F.normalize(s, dim=-1) @ F.normalize(t, dim=-1).T).T, torch.arange(4))) / 2), rel=1e-5)
