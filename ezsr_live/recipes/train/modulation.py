"""Folding a learnt affine modulation into the image tower, so that the saved event
weights are a plain tower state dict that ``--event-weights`` loads unchanged.

The per-dimension scale ``gamma`` multiplies the output projection's columns. The offset
``beta`` has no bias to go into (open_clip's ViT projection is bias-free), but the
projection is preceded by ``ln_post`` whose bias ``b`` enters the output as ``b @ P``:
choosing ``b'`` with ``b' @ P' = gamma * (b @ P) + beta`` (a least-squares solve, exact
when the projection has full column rank, i.e. width >= embedding size, as in every CLIP
ViT) reproduces ``gamma * e + beta`` exactly. Towers ending in a biased Linear
(ModifiedResNet's attention pool) take both directly.
"""
from __future__ import annotations

import torch

from ezsr_live.errors import ModelError


@torch.no_grad()
def fold_modulation(visual: torch.nn.Module, gamma: torch.Tensor, beta: torch.Tensor) -> float:
    """Apply ``gamma * e + beta`` to ``visual``'s output by editing its weights in place;
    returns the largest residual of the offset solve (0 for biased Linear heads)."""
    # solved in float64 on the CPU: exact enough, and lstsq's rank-revealing driver is CPU-only
    gamma = gamma.detach().double().cpu()
    beta = beta.detach().double().cpu()
    proj = getattr(visual, "proj", None)
    ln_post = getattr(visual, "ln_post", None)
    if isinstance(proj, torch.nn.Parameter) and ln_post is not None and getattr(ln_post, "bias", None) is not None:
        p_old = proj.detach().double().cpu()
        p_new = p_old * gamma
        target = (ln_post.bias.detach().double().cpu() @ p_old) * gamma + beta
        # min-norm b' with b' @ p_new = target  <=>  p_new.T @ b' = target
        b_new = torch.linalg.lstsq(p_new.T, target.unsqueeze(1), driver="gelsd").solution.squeeze(1)
        residual = float((b_new @ p_new - target).abs().max())
        proj.copy_(p_new.to(proj.dtype))
        ln_post.bias.copy_(b_new.to(ln_post.bias.dtype))
        return residual
    head = getattr(getattr(visual, "attnpool", None), "c_proj", None)
    if isinstance(head, torch.nn.Linear) and head.bias is not None:
        head.weight.mul_(gamma.to(head.weight.device, head.weight.dtype).unsqueeze(1))
        head.bias.copy_((head.bias.detach().double().cpu() * gamma + beta).to(head.bias.device, head.bias.dtype))
        return 0.0
    raise ModelError(f"cannot fold a learnt modulation into a {type(visual).__name__} tower; "
                     "train without --learn-modulation")
