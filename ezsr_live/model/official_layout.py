"""The official EZSR release's key layouts, mapped onto open_clip's.

The official inference code builds its towers with a fork of EVA-CLIP (``eva_clip``) and
saves ``model.state_dict()`` of the whole CLIP, so every file is ``visual.``-prefixed and
the bigE file carries ``text.*`` and ``logit_scale`` too. open_clip builds the same
architectures two ways:

* OpenAI ViTs (``EZSR-OPENAI-*``): open_clip's own ``VisionTransformer``, whose key names
  are the official ones; nothing to convert beyond the ``visual.`` prefix.
* EVA02 ViTs (``EZSR-EVA-*``, ``EZSR-CLIP-bigE-14-plus``): a timm ``Eva`` trunk inside
  open_clip's ``TimmModel`` (``trunk.*`` keys), where EVA-CLIP's SwiGLU, sub-LN and
  separate q/v biases have other names, and the rotary tables are recomputed buffers
  rather than checkpoint entries.

:func:`to_open_clip_visual` renames a tower's keys when (and only when) the target is a
timm trunk and the source is in EVA-CLIP's layout; everything else passes through, so
the exact key check in :mod:`event_encoder` still reports anything that does not fit.
"""
from __future__ import annotations

from typing import Mapping

import torch

#: EVA-CLIP names -> timm Eva names, inside a block (applied in this order)
_EVA_BLOCK_RENAMES = (
    ("mlp.ffn_ln.", "mlp.norm."),
    ("attn.inner_attn_ln.", "attn.norm."),
    ("mlp.w1.", "mlp.fc1_g."),
    ("mlp.w2.", "mlp.fc1_x."),
    ("mlp.w3.", "mlp.fc2."),
)
_TRUNK = "trunk."


def is_eva_clip_visual(state: Mapping[str, torch.Tensor]) -> bool:
    """A visual tower (prefix already stripped) in EVA-CLIP's layout: a patch embedding
    and ``blocks.N`` at the top level (open_clip's ViT says ``conv1`` and
    ``transformer.resblocks``; a converted one says ``trunk.``)."""
    return "patch_embed.proj.weight" in state and any(k.startswith("blocks.") for k in state)


def to_open_clip_visual(state: Mapping[str, torch.Tensor], target_keys: set[str]) -> dict[str, torch.Tensor]:
    """``state`` (a visual tower, unprefixed) in the key layout of ``target_keys``.

    EVA-CLIP's rotary tables (``rope.freqs_cos``/``freqs_sin``, per block too) are dropped:
    timm recomputes them in fp32 from the same formula, which is also what an fp16 file's
    rounded copies were rounded from."""
    if not (is_eva_clip_visual(state) and any(k.startswith(_TRUNK) for k in target_keys)):
        return dict(state)
    separate_qkv = f"{_TRUNK}blocks.0.attn.q_proj.weight" in target_keys
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("rope.") or ".rope." in key:
            continue
        for old, new in _EVA_BLOCK_RENAMES:
            key = key.replace(old, new)
        if separate_qkv:
            key = key.replace("attn.q_bias", "attn.q_proj.bias").replace("attn.v_bias", "attn.v_proj.bias")
        out[_TRUNK + key] = value
    return out


def text_tower_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The text tower and logit scale a whole-model file carries (official bigE), in
    open_clip's ``CustomTextCLIP`` names, which EVA-CLIP's ``text.*`` names already are."""
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    return {k: v for k, v in state.items() if k.startswith("text.") or k in ("logit_scale", "logit_bias")}
