"""Choosing a model when the user names none: the best registered one present here."""
from __future__ import annotations

import argparse
import json

import pytest

from ezsr_live.fileio import sha256_file
from ezsr_live.errors import ModelError
from ezsr_live.cli.model_options import add_model_arguments, config_from_args
from ezsr_live.model.registry import default_model, load_registry, verify_pretrained


def _registry(tmp_path, entries):
    (tmp_path / "registry.json").write_text(json.dumps({"models": entries}))
    return tmp_path / "registry.json"


def _entry(name, rank, weights, **extra):
    return {"name": name, "base_model": "ViT-B-16", "pretrained": "openai", "event_weights": weights,
            "sha256": None, "input_size": 224, "representation": "ezsr_histogram", "rank": rank, **extra}


def test_the_highest_ranked_model_whose_files_are_present_wins(tmp_path):
    (tmp_path / "small.pt").write_bytes(b"x")
    (tmp_path / "demo.safetensors").write_bytes(b"x")
    reg = _registry(tmp_path, [_entry("official-b16", 2, "missing.pt"), _entry("official-b32", 1, "small.pt"),
                               _entry("demo", 0, "demo.safetensors")])
    assert default_model(reg).name == "official-b32"
    (tmp_path / "small.pt").unlink()
    assert default_model(reg).name == "demo"
    (tmp_path / "demo.safetensors").unlink()
    assert default_model(reg) is None


def test_a_shipped_teacher_is_checked_against_its_sha256(tmp_path):
    (tmp_path / "teacher.safetensors").write_bytes(b"teacher weights")
    (tmp_path / "student.safetensors").write_bytes(b"x")
    good = sha256_file(tmp_path / "teacher.safetensors")
    reg = _registry(tmp_path, [_entry("demo", 0, "student.safetensors", pretrained="teacher.safetensors",
                                      pretrained_sha256=good, labels="labels.txt")])
    spec = load_registry(reg)["demo"]
    assert verify_pretrained(spec) == str(tmp_path / "teacher.safetensors")
    (tmp_path / "teacher.safetensors").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="does not match"):
        verify_pretrained(spec)


def test_without_model_options_the_registry_default_and_its_vocabulary_are_used(tmp_path, monkeypatch):
    (tmp_path / "student.safetensors").write_bytes(b"x")
    (tmp_path / "labels.txt").write_text("circle\nsquare\n")
    _registry(tmp_path, [_entry("demo", 0, "student.safetensors", labels="labels.txt", templates="photo")])
    monkeypatch.setenv("EZSR_WEIGHTS_DIR", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    cfg = config_from_args(parser.parse_args([]))
    assert cfg.registry_name == "demo"
    assert cfg.labels == str(tmp_path / "labels.txt") and cfg.templates == "photo"
    # anything the user says wins
    cfg = config_from_args(parser.parse_args(["--labels", "a,b", "--model", "ViT-B-32"]))
    assert cfg.registry_name is None and cfg.labels == "a,b" and cfg.pretrained == "openai"


def test_no_model_anywhere_is_a_clear_error(tmp_path, monkeypatch):
    _registry(tmp_path, [_entry("official", 2, "absent.pt")])
    monkeypatch.setenv("EZSR_WEIGHTS_DIR", str(tmp_path))
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    with pytest.raises(ModelError, match="no model given"):
        config_from_args(parser.parse_args([]))
