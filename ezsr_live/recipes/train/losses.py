"""Distillation losses: the scalar-wise modulation loss, InfoNCE, and their combination.

The **scalar-wise modulation loss** regresses every dimension of the student's (event)
embedding onto the same dimension of the teacher's (image) embedding:
``mean_over_batch( reduce_over_dims( metric(m(e_d) - t_d) ) )``, where ``m`` is the
optional learnable per-dimension affine modulation ``gamma_d * e_d + beta_d``
(:class:`AffineModulation`). With ``normalize=True`` both embeddings are L2-normalised
first, so that the loss lives on the sphere zero-shot scoring uses; with the ``l2``
metric and ``reduction="sum"`` it is then exactly ``2 - 2 cos(e, t)`` per sample plus the
modulation's correction.

Defaults (``l2``, normalised, summed over dimensions) are the scale-free choice: the
summed squared error of unit vectors does not depend on the embedding width, so the same
learning rate serves ViT-B (512-d) and ViT-L (768-d). On the demo miniature over three
seeds (``ezsr demo study``, docs/results.md) cosine modulation led raw per-dimension L2
by 7.9 points and raw L1 by 2.3, since raw regression spends its effort on the norm that
zero-shot scoring discards; on the 165-class compositional teacher cosine and raw L2 were
level (20.4 against 20.0). Nobody has compared them on ImageNet-scale data yet.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import METRICS, LossConfig


#: CLIP clamps its learnt logit scale here (temperature 0.01); so does a learnt one here
MAX_LOGIT_SCALE = 100.0


class LearntLogitScale(torch.nn.Module):
    """InfoNCE's logit scale as a learnt log-parameter, started at ``initial`` (already
    exponentiated, as open_clip reports it) and clamped at :data:`MAX_LOGIT_SCALE`.

    A teacher trained at the cap stores ``log(100)``, which fp16 rounds up: it reads
    back as 100.03 (OpenAI's checkpoints, and the demo's at ``--logit-scale 100``). The
    start is clamped as training clamps, rather than refused."""

    def __init__(self, initial: float):
        super().__init__()
        if not (math.isfinite(initial) and initial > 0):
            raise ValueError(f"initial logit scale must be a positive number, got {initial}")
        self.log_scale = torch.nn.Parameter(torch.tensor(min(float(initial), MAX_LOGIT_SCALE)).log())

    def forward(self) -> torch.Tensor:
        return self.log_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()


class AffineModulation(torch.nn.Module):
    """Per-dimension ``gamma * e + beta``, initialised to the identity."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = torch.nn.Parameter(torch.ones(dim))
        self.beta = torch.nn.Parameter(torch.zeros(dim))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return e * self.gamma.to(e.dtype) + self.beta.to(e.dtype)


def modulation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    metric: str = "l2",
    normalize: bool = True,
    reduction: str = "sum",
) -> torch.Tensor:
    """Scalar-wise regression of ``student`` (B, D) onto ``teacher`` (B, D); a scalar.

    ``reduction`` over dimensions: ``sum`` or ``mean``; always averaged over the batch.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    s, t = student.float(), teacher.float()
    if normalize:
        s, t = F.normalize(s, dim=-1), F.normalize(t, dim=-1)
    if metric == "l2":
        per = (s - t).square()
    elif metric == "l1":
        per = (s - t).abs()
    else:
        # beta scaled to the per-dimension magnitude of unit vectors (~1/sqrt(D)) when
        # normalised, else 1; smooth_l1 would otherwise be plain l2 on the sphere
        beta = 1.0 / s.shape[-1] ** 0.5 if normalize else 1.0
        per = F.smooth_l1_loss(s, t, reduction="none", beta=beta)
    per_sample = per.sum(-1) if reduction == "sum" else per.mean(-1)
    return per_sample.mean()


def info_nce(student: torch.Tensor, teacher: torch.Tensor, logit_scale: float | torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric contrastive loss between normalised student and teacher embeddings,
    with a logit scale (already exponentiated): the teacher's as a float, or a learnt one
    as a tensor (the gradient reaches it). Batch-local negatives."""
    s = F.normalize(student.float(), dim=-1)
    t = F.normalize(teacher.float(), dim=-1)
    scale = logit_scale.float() if isinstance(logit_scale, torch.Tensor) else float(logit_scale)
    logits = scale * s @ t.T
    target = torch.arange(s.shape[0], device=s.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    config: LossConfig,
    logit_scale: float | torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """(total loss, its components as floats) for student embeddings already modulated;
    ``logit_scale`` is the teacher's (a float) or a learnt one (a tensor)."""
    parts: dict[str, torch.Tensor] = {}
    if config.kind == "infonce":
        parts["infonce"] = info_nce(student, teacher, logit_scale)
        total = parts["infonce"]
    else:
        parts["modulation"] = modulation_loss(student, teacher, config.metric, config.normalize, config.reduction)
        total = parts["modulation"]
        if config.infonce_weight > 0:
            parts["infonce"] = info_nce(student, teacher, logit_scale)
            total = total + config.infonce_weight * parts["infonce"]
    # cosine is reported whatever the loss: it is what zero-shot accuracy depends on
    with torch.no_grad():
        cos = F.cosine_similarity(student.float(), teacher.float(), dim=-1).mean()
    figures = {**{k: float(v.detach()) for k, v in parts.items()}, "cosine": float(cos)}
    if isinstance(logit_scale, torch.Tensor):
        figures["logit_scale"] = float(logit_scale.detach())
    return total, figures
