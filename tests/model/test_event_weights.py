"""Event-encoder weights: our safetensors checkpoints, the official EZSR .pt format,
refusals (pickled payloads, missing/unexpected/misshapen keys) and the model registry."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from ezsr_live.fileio import sha256_file
from ezsr_live.errors import ModelError
from ezsr_live.model.event_encoder import load_visual_weights, make_event_encoder, save_event_weights
from ezsr_live.model.registry import load_registry, lookup, verify_event_weights


class NotATensor:  # a class torch.load(weights_only=True) must refuse to rebuild
    def __init__(self):
        self.payload = "anything"


def _distinct_tower_state(clip) -> dict[str, torch.Tensor]:
    """The tower's keys with values unlike any random init, to prove they were loaded."""
    return {k: torch.full_like(v, 0.01 * (i + 1)) for i, (k, v) in enumerate(clip.model.visual.state_dict().items())}


def _assert_loaded(visual, expected: dict[str, torch.Tensor]) -> None:
    got = visual.state_dict()
    assert set(got) == set(expected)
    for k, v in expected.items():
        torch.testing.assert_close(got[k], v, msg=k)


def test_own_safetensors_checkpoint_round_trips_with_sidecar(tiny_clip, fresh_clip, tmp_path):
    path = save_event_weights(tiny_clip.model.visual, tmp_path / "run.safetensors",
                              base_model="ezsr-test-tiny", input_size=32, training_run="unit-test")
    sidecar = json.loads((tmp_path / "run.json").read_text())
    assert sidecar == {"base_model": "ezsr-test-tiny", "input_size": 32,
                       "representation": "ezsr_histogram", "training_run": "unit-test"}
    encoder, info = make_event_encoder(fresh_clip.model, "ezsr-test-tiny", path, 32)
    _assert_loaded(encoder, tiny_clip.model.visual.state_dict())
    assert info.training_run == "unit-test" and info.format == "safetensors"


def test_safetensors_without_sidecar_is_refused(tiny_clip, fresh_clip, tmp_path):
    path = save_event_weights(tiny_clip.model.visual, tmp_path / "run.safetensors", "ezsr-test-tiny", 32)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ModelError, match="sidecar"):
        make_event_encoder(fresh_clip.model, "ezsr-test-tiny", path, 32)


def test_sidecar_naming_another_base_model_is_refused(tiny_clip, fresh_clip, tmp_path):
    path = save_event_weights(tiny_clip.model.visual, tmp_path / "run.safetensors", "ViT-B-16", 32)
    with pytest.raises(ModelError, match="ViT-B-16"):
        make_event_encoder(fresh_clip.model, "ezsr-test-tiny", path, 32)


@pytest.mark.parametrize("prefix", ["visual.", "", "module.visual."])
def test_official_state_dict_loads_with_or_without_visual_prefix(tiny_clip, fresh_clip, tmp_path, prefix):
    state = _distinct_tower_state(tiny_clip)
    payload = {prefix + k: v for k, v in state.items()}
    if prefix:  # the official whole-model files may carry text-tower keys: ignored
        payload[prefix.replace("visual.", "") + "text_projection"] = torch.zeros(32, 32)
        payload[prefix.replace("visual.", "") + "logit_scale"] = torch.tensor(4.6)
    path = tmp_path / "EZSR-OPENAI-TINY.pt"
    torch.save(payload, path)
    encoder, info = make_event_encoder(fresh_clip.model, "ezsr-test-tiny", path, 32)
    _assert_loaded(encoder, state)
    assert info.format == "torch"


def test_event_weights_can_go_into_a_copy_keeping_the_rgb_tower(tiny_clip, fresh_clip, tmp_path):
    before = {k: v.clone() for k, v in fresh_clip.model.visual.state_dict().items()}
    path = tmp_path / "w.pt"
    torch.save(_distinct_tower_state(tiny_clip), path)
    encoder, _ = make_event_encoder(fresh_clip.model, "ezsr-test-tiny", path, 32, keep_rgb_tower=True)
    assert encoder is not fresh_clip.model.visual
    _assert_loaded(fresh_clip.model.visual, before)


def test_pickled_payload_is_refused_naming_the_file(fresh_clip, tmp_path):
    path = tmp_path / "EZSR-OPENAI-VITB32.pt"
    torch.save({"conv1.weight": torch.zeros(1), "extra": NotATensor()}, path)
    with pytest.raises(ModelError, match="EZSR-OPENAI-VITB32.pt.*refused"):
        load_visual_weights(fresh_clip.model.visual, path)


def test_missing_and_unexpected_keys_are_listed_by_name(tiny_clip, fresh_clip, tmp_path):
    state = dict(tiny_clip.model.visual.state_dict())
    del state["ln_post.weight"]
    state["adapter.weight"] = torch.zeros(3)
    path = tmp_path / "w.pt"
    torch.save({"visual." + k: v for k, v in state.items()}, path)
    with pytest.raises(ModelError) as err:
        load_visual_weights(fresh_clip.model.visual, path)
    message = str(err.value)
    assert "missing keys: ln_post.weight" in message
    assert "unexpected keys: adapter.weight" in message
    assert str(path) in message


def test_shape_mismatch_is_reported_with_both_shapes(tiny_clip, fresh_clip, tmp_path):
    state = dict(tiny_clip.model.visual.state_dict())
    state["proj"] = torch.zeros(64, 16)
    path = tmp_path / "w.pt"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"proj \(64, 16\) != \(64, 32\)"):
        load_visual_weights(fresh_clip.model.visual, path)


def test_garbage_file_is_a_model_error(fresh_clip, tmp_path):
    path = tmp_path / "w.pt"
    path.write_bytes(b"\x00not a checkpoint at all")
    with pytest.raises(ModelError, match="w.pt"):
        load_visual_weights(fresh_clip.model.visual, path)


def test_without_event_weights_the_raw_tower_is_used_with_a_warning(fresh_clip, caplog):
    with caplog.at_level(logging.WARNING):
        encoder, info = make_event_encoder(fresh_clip.model, "ezsr-test-tiny", None, 32)
    assert encoder is fresh_clip.model.visual and info is None
    assert "accuracy will be poor" in caplog.text


# -- registry -------------------------------------------------------------------------
def _registry(tmp_path: Path, sha: str | None) -> Path:
    weights = tmp_path / "tiny.pt"
    weights.write_bytes(b"payload")
    doc = {"models": [{"name": "tiny", "base_model": "ezsr-test-tiny", "pretrained": None,
                       "event_weights": "tiny.pt", "sha256": sha, "input_size": 32,
                       "representation": "ezsr_histogram"}]}
    reg = tmp_path / "registry.json"
    reg.write_text(json.dumps(doc))
    return reg


def test_shipped_registry_lists_the_official_openai_towers():
    specs = load_registry()
    files = {s.event_weights for s in specs.values()}
    assert {"EZSR-OPENAI-VITB32.pt", "EZSR-OPENAI-VITB16.pt", "EZSR-OPENAI-VITL14.pt",
            "EZSR-OPENAI-VITL14336.pt"} <= files
    assert specs["ezsr-openai-vitl14-336"].input_size == 336


def test_registry_checksum_mismatch_is_an_error(tmp_path):
    spec = lookup("tiny", _registry(tmp_path, "0" * 64))
    with pytest.raises(ModelError, match="sha256"):
        verify_event_weights(spec)


def test_registry_checksum_match_returns_the_weights_path(tmp_path):
    reg = _registry(tmp_path, "0" * 64)
    spec = lookup("tiny", _registry(tmp_path, sha256_file(tmp_path / "tiny.pt")))
    assert verify_event_weights(spec) == tmp_path / "tiny.pt"
    assert reg.exists()


def test_unknown_registry_name_lists_the_known_ones(tmp_path):
    with pytest.raises(ModelError, match="known: tiny"):
        lookup("nope", _registry(tmp_path, None))
