"""The geometry diagnostic on constructed embedding spaces whose answer is known."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.recipes.evaluation.geometry import diagnose


def _space(outside: float, n_per_class: int = 60, classes: int = 6, dim: int = 32, seed: int = 0):
    """Images vary only in dims 0..7 (class signal in 0..5 plus nuisance); each class's
    text direction is its image direction plus ``outside`` of a direction in dims 16..21,
    where no image varies."""
    rng = np.random.default_rng(seed)
    eye = np.eye(dim)
    labels = np.repeat(np.arange(classes), n_per_class)
    images = eye[labels] * 1.0 + 0.35 * rng.standard_normal((len(labels), 8)) @ eye[:8]
    images += eye[8] * 2.0  # a common mean direction, as CLIP embeddings have
    text = eye[:classes] + outside * eye[16:16 + classes]
    return images, labels, text


def test_text_directions_inside_the_image_subspace_cannot_show_lemma1():
    report = diagnose(*_space(outside=0.0), noise_norm=1.0)
    assert report.text_energy_outside < 0.01
    assert report.zero_shot > 0.9
    assert abs(report.null_noise_drop) < 0.02 and not report.can_show_lemma1
    assert report.subspace_dim <= 8 and report.participation_ratio < 8


def test_text_directions_leaving_the_image_subspace_can_show_lemma1():
    report = diagnose(*_space(outside=1.5), noise_norm=1.0)
    assert report.text_energy_outside > 0.5
    assert report.zero_shot > 0.9  # the images still classify: their own directions are in the text
    assert report.null_noise_drop > 0.2 and report.can_show_lemma1


def test_class_share_and_whitening_are_what_the_construction_says():
    images, labels, text = _space(outside=0.0)
    report = diagnose(images, labels, text)
    # per-class unit offsets against 0.35 noise in 8 dims: class holds a good part of the variance
    assert 0.3 < report.class_variance_share < 0.9
    assert report.zero_shot_centred > 0.9 and report.zero_shot_whitened > 0.5
    with pytest.raises(ValueError):
        diagnose(images, labels[:-1], text)


def test_ezsr_geometry_runs_on_an_image_folder_with_the_tiny_model(image_tree, tiny_model_name, capsys):
    from tests.conftest import TINY_MODEL_CONFIG

    rc = ezsr(["geometry", str(image_tree), "--model", tiny_model_name, "--pretrained", "",
               "--model-config", str(TINY_MODEL_CONFIG), "--templates", "photo", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["images"] == 24 and doc["classes"] == 3 and doc["dim"] == 32
    assert 0.0 <= doc["text_energy_outside"] <= 1.0 and isinstance(doc["can_show_lemma1"], bool)
