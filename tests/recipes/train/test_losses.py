"""Distillation losses, the learning-rate schedule and folding a learnt modulation."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from ezsr_live.errors import ModelError
from ezsr_live.model.clip_loader import load_clip
from ezsr_live.recipes.train import LossConfig, distillation_loss, fold_modulation, info_nce, lr_at, modulation_loss


def test_l2_modulation_loss_on_normalised_embeddings_is_two_minus_two_cosine():
    torch.manual_seed(0)
    s, t = torch.randn(6, 16), torch.randn(6, 16)
    expected = (2 - 2 * F.cosine_similarity(s, t)).mean()
    torch.testing.assert_close(modulation_loss(s, t, "l2", normalize=True, reduction="sum"), expected)
    torch.testing.assert_close(modulation_loss(s, t, "l2", True, "mean"), expected / 16)


@pytest.mark.parametrize("metric", ["l2", "l1", "smooth_l1"])
def test_modulation_loss_is_zero_only_for_matching_embeddings(metric):
    t = torch.randn(4, 8)
    assert modulation_loss(3 * t, t, metric, normalize=True) < 1e-6  # scale-free when normalised
    assert modulation_loss(3 * t, t, metric, normalize=False) > 0.1
    assert modulation_loss(torch.randn(4, 8), t, metric) > 0.01


def test_info_nce_matches_clips_symmetric_cross_entropy():
    torch.manual_seed(1)
    s, t = torch.randn(5, 8), torch.randn(5, 8)
    logits = 10.0 * F.normalize(s, dim=-1) @ F.normalize(t, dim=-1).T
    ref = (F.cross_entropy(logits, torch.arange(5)) + F.cross_entropy(logits.T, torch.arange(5))) / 2
    torch.testing.assert_close(info_nce(s, t, 10.0), ref)


def test_combined_loss_adds_weighted_infonce_and_infonce_alone_is_the_baseline():
    s, t = torch.randn(4, 8), torch.randn(4, 8)
    total, parts = distillation_loss(s, t, LossConfig(infonce_weight=0.5), 20.0)
    torch.testing.assert_close(total, torch.tensor(parts["modulation"] + 0.5 * parts["infonce"]))
    base, parts = distillation_loss(s, t, LossConfig(kind="infonce"), 20.0)
    assert set(parts) == {"infonce", "cosine"}
    with pytest.raises(ValueError):
        LossConfig(metric="l3")


def test_learning_rate_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    lrs = [lr_at(s, 1.0, 10, 110, 0.1) for s in range(110)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-2)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lr_at(110, 1.0, 10, 110, 0.1) == pytest.approx(0.1)


def test_folded_modulation_reproduces_gamma_e_plus_beta_exactly(tiny_model_name):
    clip = load_clip(tiny_model_name, None, "cpu")
    tower = clip.model.visual
    gamma, beta = 1 + 0.3 * torch.randn(32), 0.2 * torch.randn(32)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = tower(x) * gamma + beta
        folded = copy.deepcopy(tower)
        residual = fold_modulation(folded, gamma, beta)
        torch.testing.assert_close(folded(x), expected, atol=1e-5, rtol=1e-5)
    assert residual < 1e-6


def test_folding_into_a_tower_without_a_projection_is_refused():
    with pytest.raises(ModelError, match="cannot fold"):
        fold_modulation(torch.nn.Linear(4, 4, bias=False), torch.ones(4), torch.zeros(4))
