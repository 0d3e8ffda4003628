"""Registry entries are checked field by field: one line naming the entry and the field."""
from __future__ import annotations

import json

import pytest

from ezsr_live.errors import ModelError
from ezsr_live.model.registry import load_registry

GOOD = {"name": "m", "base_model": "ViT-B-32", "pretrained": "openai", "event_weights": "m.pt",
        "sha256": None, "input_size": 224, "representation": "ezsr_histogram"}


def _load(tmp_path, **changes):
    entry = {**GOOD, **changes}
    entry = {k: v for k, v in entry.items() if v is not ...}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"models": [entry]}))
    return load_registry(path)


def test_a_good_entry_loads_with_its_window(tmp_path):
    spec = _load(tmp_path, window={"events": 15000})["m"]
    assert spec.window == ("events", 15000.0) and spec.window_text == "15,000 events"
    assert _load(tmp_path, window={"ms": 30})["m"].window == ("ms", 30.0)


@pytest.mark.parametrize("changes, message", [
    ({"input_size": "abc"}, "'input_size' must be int"),
    ({"input_size": [64]}, "'input_size' must be int"),
    ({"input_size": True}, "'input_size' must be int"),
    ({"input_size": 3}, "input_size 3 is out of range"),
    ({"rank": "1"}, "'rank' must be int"),
    ({"pretrained_sha256": 5}, "'pretrained_sha256' must be str"),
    ({"sha256": "abc"}, "sha256 must be 64 hex digits"),
    ({"event_weights": 7}, "'event_weights' must be str"),
    ({"event_weights": "../../../etc/passwd"}, "must be a file name inside the registry's folder"),
    ({"event_weights": "/etc/passwd"}, "must be a file name inside the registry's folder"),
    ({"knn_pool": "../elsewhere"}, "must be a file name inside the registry's folder"),
    ({"window": {"events": 0}}, "window events out of range"),
    ({"window": {"frames": 3}}, "window must be"),
    ({"window": {"ms": float("inf")}}, "window"),
    ({"text_tower": "mine"}, "text_tower must be one of"),
    ({"name": ...}, "'name' is required"),
])
def test_wrongly_typed_fields_are_refused_by_name(tmp_path, changes, message):
    with pytest.raises(ModelError, match=message) as err:
        _load(tmp_path, **changes)
    assert "registry.json: entry" in str(err.value) and "\n" not in str(err.value)


def test_paths_outside_the_folder_need_an_explicit_opt_in(tmp_path, monkeypatch):
    monkeypatch.setenv("EZSR_REGISTRY_ALLOW_PATHS", "1")
    assert _load(tmp_path, event_weights="/data/m.pt")["m"].event_weights == "/data/m.pt"
