"""Official EZSR checkpoints load through the public path and give the official embeddings.

The fixtures were generated outside this tree by the official repository's own
``eva_clip`` code, with random weights at reduced sizes (tests/fixtures/official_ezsr/
README.md); the numbers compared here are that code's outputs, not ours.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import open_clip
import pytest
import torch

from ezsr_live.errors import ModelError
from ezsr_live.cli.model_options import add_model_arguments, config_from_args
from ezsr_live.model.clip_loader import canonical_model_name, load_clip, model_identity, uses_quick_gelu
from ezsr_live.model.event_encoder import read_event_weights
from ezsr_live.model.recognizer import Recognizer, RecognizerConfig
from ezsr_live.model.registry import load_registry, spec_for_weights_file

from . import official_fixtures as of

TOL = 1e-5
OFFICIAL_FILES = {
    "EZSR-OPENAI-VITB32.pt": ("ViT-B-32", "openai"),
    "EZSR-OPENAI-VITB16.pt": ("ViT-B-16", "openai"),
    "EZSR-OPENAI-VITL14.pt": ("ViT-L-14", "openai"),
    "EZSR-OPENAI-VITL14336.pt": ("ViT-L-14-336", "openai"),
    "EZSR-EVA-VITB16.pt": ("EVA02-B-16", "merged2b_s8b_b131k"),
    "EZSR-EVA-VITL14.pt": ("EVA02-L-14", "merged2b_s4b_b131k"),
    "EZSR-EVA-VITL14336.pt": ("EVA02-L-14-336", "merged2b_s6b_b61k"),
    "EZSR-CLIP-bigE-14-plus.pt": ("EVA02-E-14-plus", "laion2b_s9b_b144k"),
}


@pytest.fixture(scope="module", autouse=True)
def _reduced_architectures():
    of.register()


def _recognizer(family: str, precision: str, tmp_path: Path, **overrides) -> Recognizer:
    templates = tmp_path / "identity_template.txt"
    templates.write_text("{}\n")
    cfg = RecognizerConfig(model=of.FAMILY_MODELS[family], pretrained=None,
                           event_weights=str(of.FIXTURES / f"{family}_{precision}.pt"), device="cpu",
                           labels="a dog,a cat", templates=str(templates), **overrides)
    return Recognizer.from_config(cfg)


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("family", ["openai_vit", "eva02_vit", "eva02_bigE"])
def test_each_family_gives_the_official_image_embeddings(family, precision, tmp_path):
    rec = _recognizer(family, precision, tmp_path,
                      text_tower="event_weights" if family == "eva02_bigE" else "pretrained")
    ref = of.official_embeddings(family)
    with torch.no_grad():
        got = rec.encoder(of.official_input())
    # EVA-CLIP's rotary tables are a fixed formula; timm recomputes them in fp32, which is
    # what the official code computes when its tables are not the fp16 file's rounded copies
    key = "image_fp16_exact_rope" if (family, precision) == ("eva02_vit", "fp16") else f"image_{precision}"
    assert _max_diff(got, ref[key]) <= TOL
    normalised = torch.nn.functional.normalize(ref[key], dim=-1)
    assert _max_diff(rec.embed(of.official_input()), normalised) <= TOL


def test_eva_fp16_rope_tables_in_the_file_are_rounded_copies(tmp_path):
    """The official code fed the fp16 file's own rope tables drifts by their rounding only."""
    rec = _recognizer("eva02_vit", "fp16", tmp_path)
    with torch.no_grad():
        got = rec.encoder(of.official_input())
    assert 1e-5 < _max_diff(got, of.official_embeddings("eva02_vit")["image_fp16"]) < 2e-3


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_bige_file_supplies_its_own_text_tower(precision, tmp_path):
    rec = _recognizer("eva02_bigE", precision, tmp_path, text_tower="event_weights")
    ref = of.official_embeddings("eva02_bigE")
    prompts = ref["prompts"]
    tokens = open_clip.get_tokenizer(of.FAMILY_MODELS["eva02_bigE"])(prompts)
    assert torch.equal(tokens, ref["tokens"])  # same BPE, same context length
    rec.vocabulary.set_labels(prompts)
    want = torch.nn.functional.normalize(ref[f"text_{precision}"], dim=-1)
    assert _max_diff(rec.vocabulary.matrix(), want) <= TOL
    assert rec.logit_scale == pytest.approx(float(ref[f"logit_scale_{precision}"].exp()), rel=1e-6)


def test_without_the_own_text_tower_the_text_is_not_the_files(tmp_path):
    """The default text tower is the tag's (random here): so the test above can fail."""
    rec = _recognizer("eva02_bigE", "fp32", tmp_path)
    ref = of.official_embeddings("eva02_bigE")
    rec.vocabulary.set_labels(ref["prompts"])
    assert _max_diff(rec.vocabulary.matrix(), torch.nn.functional.normalize(ref["text_fp32"], dim=-1)) > 1e-2


def test_openai_tower_with_gelu_does_not_match(tmp_path):
    """The reduced OpenAI config says quick_gelu; built with GELU the same weights are off
    by far more than the tolerance, which is what the registry names used to give."""
    config = json.loads((of.CONFIGS / f"{of.FAMILY_MODELS['openai_vit']}.json").read_text())
    config.pop("quick_gelu")
    gelu_config = tmp_path / "ezsr-test-official-openai-gelu.json"
    gelu_config.write_text(json.dumps(config))
    open_clip.add_model_config(gelu_config)
    clip = load_clip("ezsr-test-official-openai-gelu", None)
    state, _ = read_event_weights(of.FIXTURES / "openai_vit_fp32.pt")
    clip.model.visual.load_state_dict({k[len("visual."):]: v for k, v in state.items()})
    with torch.no_grad():
        got = clip.model.visual(of.official_input())
    assert _max_diff(got, of.official_embeddings("openai_vit")["image_fp32"]) > 1e-3


def test_a_wrong_layout_is_reported_by_key(tmp_path):
    """An EVA file given to an OpenAI tower is refused with the keys that do not fit."""
    cfg = RecognizerConfig(model=of.FAMILY_MODELS["openai_vit"], pretrained=None, device="cpu",
                           event_weights=str(of.FIXTURES / "eva02_vit_fp32.pt"), labels="a,b", templates="photo")
    with pytest.raises(ModelError, match=r"eva02_vit_fp32\.pt: event weights do not fit.*missing keys: .*conv1"):
        Recognizer.from_config(cfg)


def _registry_with_fixtures(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "weights"
    root.mkdir()
    models = []
    for family, model in of.FAMILY_MODELS.items():
        shutil.copy(of.FIXTURES / f"{family}_fp16.pt", root / f"{family}.pt")
        models.append({"name": f"fixture-{family}", "base_model": model, "pretrained": None,
                       "event_weights": f"{family}.pt", "sha256": None, "input_size": 32,
                       "representation": "ezsr_histogram", "window": {"events": 15000},
                       **({"text_tower": "event_weights"} if family == "eva02_bigE" else {})})
    (root / "registry.json").write_text(json.dumps({"models": models}))
    monkeypatch.setenv("EZSR_WEIGHTS_DIR", str(root))
    return root


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("family", ["openai_vit", "eva02_vit", "eva02_bigE"])
def test_weights_name_and_event_weights_file_load_the_same_official_tower(family, tmp_path, monkeypatch):
    root = _registry_with_fixtures(tmp_path, monkeypatch)
    ref = of.official_embeddings(family)
    key = "image_fp16_exact_rope" if family == "eva02_vit" else "image_fp16"
    for argv in (["--weights", f"fixture-{family}"],
                 ["--event-weights", str(root / f"{family}.pt")]):  # found by its file name
        cfg = config_from_args(_parse(*argv, "--labels", "a,b", "--templates", "photo", "--device", "cpu"))
        assert cfg.window == ("events", 15000.0)
        rec = Recognizer.from_config(cfg)
        with torch.no_grad():
            assert _max_diff(rec.encoder(of.official_input()), ref[key]) <= TOL, argv


# --- the real registry and the real architectures (no weights needed) -------------------

def test_the_eight_official_files_resolve_to_registry_entries():
    specs = load_registry()
    for name, (base, tag) in OFFICIAL_FILES.items():
        spec = spec_for_weights_file(f"/downloads/{name}")
        assert spec is not None, name
        assert (spec.base_model, spec.pretrained) == (base, tag)
        assert tag in open_clip.list_pretrained_tags_by_model(base)
        assert spec.window == ("events", 15000.0) and spec.representation == "ezsr_histogram"
        assert spec.input_size == (336 if "336" in base else 224)
        assert specs[spec.name] == spec
    assert spec_for_weights_file("EZSR-CLIP-bigE-14-plus.pt").text_tower == "event_weights"


def test_quick_gelu_follows_the_pretrained_config_for_every_openai_entry():
    openai = [s for s in load_registry().values() if s.pretrained == "openai"]
    assert len(openai) >= 5
    for spec in openai:
        assert open_clip.get_pretrained_cfg(spec.base_model, "openai")["quick_gelu"] is True
        assert not (open_clip.get_model_config(spec.base_model) or {}).get("quick_gelu")  # the trap
        assert uses_quick_gelu(spec.base_model, "openai"), spec.name
        assert canonical_model_name(spec.base_model, "openai") == spec.base_model + "-quickgelu"
    # typed either way, the same space; other tags keep GELU
    assert model_identity("ViT-B-16", "openai") == model_identity("ViT-B-16-quickgelu", "openai")
    assert not uses_quick_gelu("ViT-B-16", "laion2b_s34b_b88k")
    assert uses_quick_gelu("ViT-B-32-quickgelu", "laion400m_e32")


@pytest.fixture
def no_download(monkeypatch):
    """Stand-in for the network only: the tag resolves as usual, nothing is fetched, so the
    tower is built exactly as for a real user, with random values."""
    import open_clip.factory

    monkeypatch.setattr(open_clip.factory, "download_pretrained", lambda cfg, cache_dir=None: None)


def _activations(module: torch.nn.Module) -> set[str]:
    return {type(m).__name__ for m in module.modules() if type(m).__name__ in ("GELU", "QuickGELU")}


def test_cli_model_and_registry_name_build_quick_gelu_towers(no_download, tmp_path, monkeypatch):
    # the official file layout, for ViT-B-16 (random values; fp16 to keep it small)
    clip = load_clip("ViT-B-16", "openai")
    assert _activations(clip.model.visual) == {"QuickGELU"} and _activations(clip.model.transformer) == {"QuickGELU"}
    weights = tmp_path / "EZSR-OPENAI-VITB16.pt"
    torch.save({f"visual.{k}": v.half() for k, v in clip.model.visual.state_dict().items()}, weights)
    del clip
    registry = json.loads((Path(__file__).resolve().parents[2] / "weights" / "registry.json").read_text())
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("EZSR_WEIGHTS_DIR", str(tmp_path))
    for argv in (["--model", "ViT-B-16", "--pretrained", "openai", "--event-weights", str(weights)],
                 ["--weights", "ezsr-openai-vitb16"]):
        cfg = config_from_args(_parse(*argv, "--labels", "a,b", "--templates", "photo", "--device", "cpu"))
        rec = Recognizer.from_config(cfg)
        assert _activations(rec.encoder) == {"QuickGELU"}, argv
        assert rec.model_id == "ViT-B-16-quickgelu/openai"
        assert cfg.window == ("events", 15000.0)


def test_pretrained_pickle_is_refused_in_one_line(tmp_path):
    import os

    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    path = tmp_path / "evil.pt"
    torch.save({"state_dict": Payload()}, path)
    with pytest.raises(ModelError) as err:
        load_clip(of.FAMILY_MODELS["openai_vit"], str(path))
    message = str(err.value)
    assert str(path) in message and "refused" in message and "getcwd" in message
    assert "weights_only" not in message and "\n" not in message


def test_cli_refuses_a_pickled_pretrained_file_with_exit_2(tmp_path, capsys):
    import os

    from ezsr_live.cli.live import main as ezsr_live

    from tests.conftest import REPO_ROOT

    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    path = tmp_path / "teacher.pt"
    torch.save({"state_dict": Payload()}, path)
    rc = ezsr_live(["--replay", str(REPO_ROOT / "weights" / "demo" / "moving_disc.raw"), "--headless",
                    "--model", of.FAMILY_MODELS["openai_vit"], "--pretrained", str(path), "--device", "cpu",
                    "--labels", "a,b", "--templates", "photo", "--max-results", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert [line for line in err if line.startswith("ezsr-live:")] == [
        line for line in err if "teacher.pt" in line]
    assert any("teacher.pt: refused" in line and "getcwd" in line for line in err)
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("corrupt", ["nan", "int"])
def test_non_finite_or_integer_weights_are_refused_by_name(corrupt, tmp_path):
    state, _ = read_event_weights(of.FIXTURES / "openai_vit_fp32.pt")
    key = "visual.ln_post.weight"
    state[key] = state[key].clone()
    if corrupt == "nan":
        state[key][0] = float("nan")
    else:
        state[key] = state[key].round().to(torch.int32)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    cfg = RecognizerConfig(model=of.FAMILY_MODELS["openai_vit"], pretrained=None, device="cpu",
                           event_weights=str(path), labels="a,b", templates="photo")
    with pytest.raises(ModelError, match=r"bad\.pt: .*(NaN or infinite|integer tensors).*ln_post\.weight"):
        Recognizer.from_config(cfg)
