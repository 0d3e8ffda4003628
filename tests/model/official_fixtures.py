"""The official EZSR fixtures (tests/fixtures/official_ezsr): reduced-size towers in the
official checkpoint layout, with the embeddings the official code computes from them.

open_clip builds EVA02 towers through timm by model name, so the reduced official
architectures get timm names here: the same ``Eva`` options as timm's
``eva02_base_patch16_clip_224`` and ``eva02_enormous_patch14_clip_224``, at the fixture's
sizes (manifest.json says which). Nothing else about the loading path is test-only.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ezsr_live.model.clip_loader import PACKAGE_CONFIG_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "official_ezsr"
CONFIGS = PACKAGE_CONFIG_DIR

#: fixture family -> open_clip architecture name of the reduced model
FAMILY_MODELS = {
    "openai_vit": "ezsr-test-official-openai",
    "eva02_vit": "ezsr-test-official-eva02",
    "eva02_bigE": "ezsr-test-official-bige",
}

_REDUCED = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=2)
#: timm names -> Eva options (timm's CLIP variants, reduced to the fixture sizes)
TIMM_MODELS = {
    "ezsr_test_eva02_reduced": dict(
        _REDUCED, qkv_fused=False, mlp_ratio=2.6667, swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True,
        use_rot_pos_emb=True, ref_feat_shape=(16, 16)),
    "ezsr_test_eva02_bige_reduced": dict(_REDUCED, mlp_ratio=15360 / 1792, use_post_norm=True),
}


def register() -> None:
    """Make timm and open_clip know the reduced architectures (idempotent)."""
    import timm
    from timm.models import register_model
    from timm.models.eva import Eva

    from ezsr_live.model.clip_loader import register_model_config

    for name, options in TIMM_MODELS.items():
        if name in timm.list_models(name):
            continue

        def build(pretrained: bool = False, _options=options, **kwargs) -> Eva:
            for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
                kwargs.pop(key, None)  # timm's factory passes these to every builder
            kwargs.setdefault("global_pool", "token")
            return Eva(**{**_options, **kwargs})

        build.__name__ = name
        register_model(build)
    for model in FAMILY_MODELS.values():
        register_model_config(CONFIGS / f"{model}.json")


def manifest() -> dict:
    return json.loads((FIXTURES / "manifest.json").read_text())


def official_input() -> torch.Tensor:
    return torch.load(FIXTURES / "input.pt", weights_only=True)


def official_embeddings(family: str) -> dict:
    return torch.load(FIXTURES / f"{family}_embeddings.pt", weights_only=True)
