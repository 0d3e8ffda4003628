"""--freeze: the named tower parameters keep the teacher's values, the rest train."""
from __future__ import annotations


import torch
from safetensors.torch import load_file

from ezsr_live.cli.toolbox import main
from ezsr_live.model.clip_loader import load_clip

from .conftest import TINY_CONFIG


def _teacher_state(model: str) -> dict[str, torch.Tensor]:
    # the loop seeds with --seed before building the model: the same seed gives the same init
    torch.manual_seed(0)
    return {k: v.clone() for k, v in load_clip(model, None, "cpu", "fp32").model.visual.state_dict().items()}


def test_frozen_prefixes_keep_the_teacher_values_and_the_rest_trains(image_tree, tiny_model_name, tmp_path):
    out = tmp_path / "run"
    rc = main(["train", str(image_tree), "-o", str(out), "--model", tiny_model_name, "--pretrained", "",
               "--model-config", str(TINY_CONFIG), "--steps", "3", "--batch-size", "8", "--lr", "1e-2",
               "--warmup-steps", "1", "--workers", "0", "--seed", "0", "--no-progress",
               "--freeze", "transformer.resblocks.1", "--freeze", "ln_post", "--freeze", "proj"])
    assert rc == 0
    teacher = _teacher_state(tiny_model_name)
    trained = {k: v.float() for k, v in load_file(str(out / "event_encoder.safetensors")).items()}
    frozen = [k for k in teacher if k.startswith(("transformer.resblocks.1.", "ln_post.")) or k == "proj"]
    free = [k for k in teacher if k.startswith(("conv1.", "transformer.resblocks.0.", "ln_pre."))]
    assert frozen and free
    for k in frozen:
        torch.testing.assert_close(trained[k], teacher[k], msg=f"{k} changed although frozen")
    assert any(not torch.allclose(trained[k], teacher[k]) for k in free)


def test_a_prefix_that_matches_nothing_is_an_error_naming_it(image_tree, tiny_model_name, tmp_path, capsys):
    rc = main(["train", str(image_tree), "-o", str(tmp_path / "run"), "--model", tiny_model_name,
               "--pretrained", "", "--model-config", str(TINY_CONFIG), "--steps", "1", "--batch-size", "8",
               "--workers", "0", "--no-progress", "--freeze", "layer4"])
    assert rc != 0
    err = capsys.readouterr().err
    assert "layer4" in err and "transformer" in err
