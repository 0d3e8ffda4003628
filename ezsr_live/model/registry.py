"""The model registry: ``weights/registry.json`` lists known event-encoder configurations.

Each entry names a base CLIP architecture and pretrained tag, an event-weights file
(looked up beside the registry unless it is a path), its sha256, the input size and the
event representation the weights were trained on. A pinned checksum that does not
match the file is a ModelError; an unpinned one (``null``) loads with a warning.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ezsr_live.errors import ModelError

log = logging.getLogger(__name__)

#: ``weights/`` beside the package (a source checkout); EZSR_WEIGHTS_DIR overrides it.
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
_REQUIRED = ("name", "base_model", "input_size", "representation")


def weights_dir() -> Path:
    return Path(os.environ.get("EZSR_WEIGHTS_DIR", DEFAULT_WEIGHTS_DIR))


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry."""

    name: str
    base_model: str
    pretrained: str | None
    event_weights: str | None
    sha256: str | None
    input_size: int
    representation: str
    root: Path  # folder that relative event_weights names resolve against
    pretrained_sha256: str | None = None  # when ``pretrained`` is a file shipped beside the registry
    labels: str | None = None  # default vocabulary (a label file beside the registry, or a built-in set)
    templates: str | None = None  # default prompt templates (a file beside the registry, or a set name)
    knn_pool: str | None = None  # default k-NN pool folder beside the registry
    rank: int = 0  # default-model preference when several are available: higher first

    def _local(self, name: str | None) -> Path | None:
        if not name:
            return None
        p = Path(name)
        p = p if p.is_absolute() else self.root / p
        return p if p.exists() else None

    @property
    def pretrained_arg(self) -> str | None:
        """What to pass to open_clip: a shipped checkpoint's full path, else the tag."""
        local = self._local(self.pretrained)
        return str(local) if local is not None else self.pretrained

    @property
    def labels_arg(self) -> str | None:
        local = self._local(self.labels)
        return str(local) if local is not None else self.labels

    @property
    def templates_arg(self) -> str | None:
        local = self._local(self.templates)
        return str(local) if local is not None else self.templates

    @property
    def knn_pool_path(self) -> Path | None:
        return self._local(self.knn_pool)

    def available(self) -> bool:
        """Are the event weights (and a shipped teacher, if any) present on this machine?"""
        ew = self.event_weights_path
        if ew is None or not ew.is_file():
            return False
        return self.pretrained_sha256 is None or self._local(self.pretrained) is not None

    @property
    def event_weights_path(self) -> Path | None:
        if not self.event_weights:
            return None
        p = Path(self.event_weights)
        return p if p.is_absolute() else self.root / p


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelSpec]:
    """Read a registry file (default ``weights/registry.json``) into ``{name: ModelSpec}``."""
    path = Path(path) if path else weights_dir() / "registry.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model registry not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model registry: {exc}") from None
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ModelError(f"{path}: registry must be an object with a 'models' list")
    specs: dict[str, ModelSpec] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(k not in entry for k in _REQUIRED):
            raise ModelError(f"{path}: entry {i} lacks one of {', '.join(_REQUIRED)}")
        sha = entry.get("sha256")
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64):
            raise ModelError(f"{path}: entry {entry['name']!r}: sha256 must be 64 hex digits or null")
        spec = ModelSpec(
            name=str(entry["name"]), base_model=str(entry["base_model"]),
            pretrained=entry.get("pretrained"), event_weights=entry.get("event_weights"),
            sha256=sha.lower() if sha else None, input_size=int(entry["input_size"]),
            representation=str(entry["representation"]), root=path.parent,
            pretrained_sha256=entry.get("pretrained_sha256"), labels=entry.get("labels"),
            templates=entry.get("templates"), knn_pool=entry.get("knn_pool"), rank=int(entry.get("rank", 0)),
        )
        if spec.name in specs:
            raise ModelError(f"{path}: duplicate registry name {spec.name!r}")
        specs[spec.name] = spec
    return specs


def lookup(name: str, registry: str | os.PathLike | None = None) -> ModelSpec:
    specs = load_registry(registry)
    if name not in specs:
        raise ModelError(f"unknown registered model {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_event_weights(spec: ModelSpec) -> Path | None:
    """Return the spec's event-weights path after checking it exists and matches sha256."""
    path = spec.event_weights_path
    if path is None:
        return None
    if not path.is_file():
        raise ModelError(f"{path}: event weights for {spec.name!r} not found "
                         f"(put the file there or pass --event-weights PATH)")
    if spec.sha256 is None:
        log.warning("%s: no sha256 pinned for %r in the registry; loading unverified", path, spec.name)
        return path
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelError(f"{path}: sha256 {actual} does not match the registry's {spec.sha256} for {spec.name!r}")
    return path


def verify_pretrained(spec: ModelSpec) -> str | None:
    """The ``pretrained`` argument for open_clip, after checking a shipped checkpoint's sha256."""
    if spec.pretrained_sha256 is None:
        return spec.pretrained_arg
    path = spec._local(spec.pretrained)
    if path is None:
        raise ModelError(f"{spec.root / str(spec.pretrained)}: CLIP weights for {spec.name!r} not found")
    actual = sha256_of(path)
    if actual != spec.pretrained_sha256.lower():
        raise ModelError(f"{path}: sha256 {actual} does not match the registry's "
                         f"{spec.pretrained_sha256} for {spec.name!r}")
    return str(path)


def default_model(registry: str | os.PathLike | None = None) -> ModelSpec | None:
    """The best registered model whose weights are present here (highest rank first)."""
    specs = [s for s in load_registry(registry).values() if s.available()]
    return max(specs, key=lambda s: s.rank) if specs else None


def describe(spec: ModelSpec) -> dict[str, Any]:
    return {"name": spec.name, "base_model": spec.base_model, "pretrained": spec.pretrained,
            "event_weights": spec.event_weights, "sha256": spec.sha256,
            "input_size": spec.input_size, "representation": spec.representation}
