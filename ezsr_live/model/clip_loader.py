"""Loading CLIP models through open_clip, and choosing the compute device.

Everything goes through open_clip's own factory, so ``--model``/``--pretrained`` accept
exactly what open_clip accepts: a built-in architecture name with a pretrained tag
(``openai``, ``laion2b_s34b_b79k`` ... downloaded into open_clip's cache on a user's
machine), a local checkpoint file, or ``local-dir:PATH`` / ``hf-hub:ORG/REPO`` names.
``pretrained=None`` builds random weights (tests and benchmarks).
"""
from __future__ import annotations

import contextlib
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, cast

import open_clip
import torch

from ezsr_live.errors import ModelError
from ezsr_live.model.defaults import DEVICE_CHOICES, QUICKGELU_SUFFIX
from ezsr_live.model.event_encoder import image_tower, unpickling_refusal

log = logging.getLogger(__name__)


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda[:N]|mps`` into a device; a requested but absent backend is a ModelError."""
    if isinstance(spec, torch.device):
        return spec
    spec = (spec or "auto").lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = spec.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda requested but no CUDA device is available")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("--device mps requested but the MPS backend is not available")
    if kind not in ("cpu", "cuda", "mps"):
        raise ModelError(f"unknown device {spec!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    return torch.device(spec)


def default_cpu_threads() -> int:
    """Intra-op threads for CPU inference: all cores but one (at most 16).

    The event kernels and the UI run concurrently with the encoder in the live pipeline;
    an OpenMP team that needs every core stalls whenever one of them is busy (measured
    here: ViT-B-32 at batch 1 takes 170 ms on one thread but 590 ms on two while another
    process holds one of the two cores)."""
    n = os.cpu_count() or 1
    return max(1, min(n - 1, 16))


def configure_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (``None``: :func:`default_cpu_threads`); returns it."""
    threads = threads or default_cpu_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def register_model_config(path: str | os.PathLike) -> list[str]:
    """Make open_clip aware of extra architecture JSON configs (a file or a folder of them);
    returns the architecture names now known from that path."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: model config not found")
    open_clip.add_model_config(path)
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    return [f.stem for f in files if f.stem in open_clip.list_models()]


#: folders (under the weights directory) whose ``NAME.json`` architecture configs ship with
#: the project and are registered the first time NAME is asked for (e.g. ``ezsr-demo``)
BUNDLED_CONFIG_DIRS = ("demo",)


#: architecture configs that ship inside the package: the tiny test model and the
#: reduced official-layout towers the checkpoint tests load (registered by name on use)
PACKAGE_CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def ensure_model_config(model_name: str) -> bool:
    """Register a bundled open_clip config for ``model_name`` unless open_clip knows it
    already; returns whether open_clip knows the name afterwards."""
    if model_name in open_clip.list_models():
        return True
    if "/" in model_name or ":" in model_name or model_name.endswith(".json"):
        return False  # hub, local-dir and file names are open_clip's own business
    from ezsr_live.model.registry import weights_dir

    folders = [PACKAGE_CONFIG_DIR, *(weights_dir() / folder for folder in BUNDLED_CONFIG_DIRS)]
    for folder in folders:
        candidate = folder / f"{model_name}.json"
        if candidate.is_file():
            register_model_config(candidate)
            return True
    return False


def _is_tag(pretrained: str | None) -> bool:
    return bool(pretrained) and not os.path.isfile(str(pretrained))


def uses_quick_gelu(model_name: str, pretrained: str | None) -> bool:
    """Whether ``model_name`` with ``pretrained`` must be built with QuickGELU.

    open_clip's built-in ``ViT-B-16`` config says GELU, while its ``openai`` weights were
    trained with QuickGELU (the tag's pretrained config records ``quick_gelu``); open_clip
    3.x builds what the architecture config says and only logs a warning. The weights'
    own training is what counts, so the tag decides; the architecture config decides for
    files and random weights. timm towers (EVA02) ignore the flag in open_clip anyway."""
    ensure_model_config(model_name)
    config = open_clip.get_model_config(model_name) or {}
    if config.get("quick_gelu", False):
        return True
    if _is_tag(pretrained):
        return bool(open_clip.get_pretrained_cfg(model_name, str(pretrained)).get("quick_gelu", False))
    return False


def canonical_model_name(model_name: str, pretrained: str | None) -> str:
    """``ViT-B-16`` with ``openai`` -> ``ViT-B-16-quickgelu``: the architecture actually built,
    so that ``ViT-B-16``/``ViT-B-16-quickgelu`` with the same weights share one identity."""
    if model_name.endswith(QUICKGELU_SUFFIX) or not uses_quick_gelu(model_name, pretrained):
        return model_name
    config = open_clip.get_model_config(model_name) or {}
    return model_name if config.get("quick_gelu", False) else model_name + QUICKGELU_SUFFIX


def model_identity(model_name: str, pretrained: str | None) -> str:
    """A short identity for the RGB CLIP embedding space: ``NAME/TAG``, ``NAME/FILE`` or
    ``NAME/random``, NAME being the architecture built (:func:`canonical_model_name`).
    Pools and text-embedding caches record it; those of another space are refused."""
    if not pretrained:
        return f"{model_name}/random"
    if os.path.isfile(pretrained):
        return f"{model_name}/{Path(pretrained).name}"
    return f"{canonical_model_name(model_name, pretrained)}/{pretrained}"


class OpenClipModel(Protocol):
    """What this package uses of open_clip's ``CLIP``/``CustomTextCLIP`` besides their
    ``nn.Module`` side. torch types every module attribute as ``Tensor | Module``, so
    :attr:`ClipBundle.clip` states what these classes are (a cast: open_clip has no
    type information of its own)."""

    logit_scale: torch.Tensor

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor: ...

    def encode_image(self, image: torch.Tensor, normalize: bool = False) -> torch.Tensor: ...


@dataclass
class ClipBundle:
    """A loaded CLIP model with what the rest of the engine needs to know about it."""

    model: torch.nn.Module  # open_clip CLIP / CustomTextCLIP, in eval mode
    tokenizer: Callable[[list[str]], torch.Tensor]
    preprocess: Callable[[Any], torch.Tensor]  # PIL image -> tensor, for RGB pools
    model_name: str
    pretrained: str | None
    device: torch.device
    precision: str

    @property
    def identity(self) -> str:
        return model_identity(self.model_name, self.pretrained)

    @property
    def clip(self) -> OpenClipModel:
        """The model as the open_clip class it is (:class:`OpenClipModel`)."""
        return cast(OpenClipModel, self.model)

    @property
    def visual(self) -> torch.nn.Module:
        return image_tower(self.model)

    @property
    def embed_dim(self) -> int:
        proj = getattr(self.visual, "output_dim", None)
        if proj is None:
            projection = getattr(self.model, "text_projection", None)
            if not isinstance(projection, torch.Tensor):
                raise ModelError(f"{self.model_name}: neither the image tower nor the text tower says its width")
            proj = int(projection.shape[-1])
        return int(proj)

    @property
    def image_size(self) -> int:
        size = getattr(self.visual, "image_size", 224)
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def logit_scale(self) -> float:
        return float(self.clip.logit_scale.detach().float().exp().item())

    @torch.inference_mode()
    def encode_text(self, prompts: list[str]) -> torch.Tensor:
        """L2-normalised float32 text embeddings (CPU tensor, one row per prompt)."""
        tokens = self.tokenizer(prompts).to(self.device)
        emb = self.clip.encode_text(tokens).float()
        return torch.nn.functional.normalize(emb, dim=-1).cpu()


@contextlib.contextmanager
def _quiet_root_info():
    """open_clip narrates model creation with INFO records on the root logger; keep its
    warnings (e.g. random initialisation) but not the narration unless debugging."""
    root = logging.getLogger()
    old = root.level
    if old == logging.INFO:
        root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(old)


def load_clip(
    model_name: str,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    *,
    load_weights: bool = True,
) -> ClipBundle:
    """Build a CLIP model with open_clip (``create_model_and_transforms``) in eval mode.

    ``precision`` is open_clip's (``fp32``, ``fp16``, ``bf16``). The architecture follows
    the weights: OpenAI tags get QuickGELU whatever the name (:func:`uses_quick_gelu`).
    ``load_weights=False`` builds the architecture ``pretrained`` describes without
    fetching its weights (the caller loads them from elsewhere, e.g. an official file
    that carries its own text tower); the bundle keeps the tag's identity. open_clip
    failures (unknown architecture, unknown tag, unreadable checkpoint, failed download)
    become ModelError with open_clip's message.
    """
    dev = resolve_device(device)
    ensure_model_config(model_name)
    try:
        quick_gelu = uses_quick_gelu(model_name, pretrained)
        with _quiet_root_info():
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained if load_weights else None, precision=precision, device=dev,
                weights_only=True, force_quick_gelu=quick_gelu,
            )
            tokenizer = open_clip.get_tokenizer(model_name)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{pretrained}: refused: {unpickling_refusal(exc)}") from None
    except (RuntimeError, ValueError, FileNotFoundError, OSError, KeyError) as exc:
        raise ModelError(f"cannot load CLIP model {model_name!r} (pretrained={pretrained!r}): {exc}") from exc
    if quick_gelu:
        log.debug("%s with %s: built with QuickGELU, as those weights were trained", model_name, pretrained)
    model.eval()
    log.debug("loaded %s (pretrained=%s) on %s in %s", model_name, pretrained, dev, precision)
    return ClipBundle(model, tokenizer, preprocess, model_name, pretrained, dev, precision)
