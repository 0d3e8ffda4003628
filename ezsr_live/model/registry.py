"""The model registry: ``weights/registry.json`` lists known event-encoder configurations.

Each entry names a base CLIP architecture and pretrained tag, an event-weights file
(looked up beside the registry unless it is a path), its sha256, the input size and the
event representation the weights were trained on. A pinned checksum that does not
match the file is a ModelError; an unpinned one (``null``) loads with a warning.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ezsr_live.fileio import parse_json, sha256_file, show_json
from ezsr_live.errors import ModelError

log = logging.getLogger(__name__)

#: ``weights/`` of a source checkout, beside the package
CHECKOUT_WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "weights"
#: the same folder as an installed wheel ships it (package data ``ezsr_live/weights``)
PACKAGED_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
#: where the registry is looked for when EZSR_WEIGHTS_DIR is not set: the checkout's
#: folder (where ``ezsr demo train --install`` and downloaded official files go), else
#: the installed package's copy
def default_weights_dir(checkout: Path = CHECKOUT_WEIGHTS_DIR, packaged: Path = PACKAGED_WEIGHTS_DIR) -> Path:
    """``checkout`` when it holds a registry (or neither does: the message then names
    the checkout's folder), else ``packaged``."""
    if (checkout / "registry.json").is_file() or not (packaged / "registry.json").is_file():
        return checkout
    return packaged


DEFAULT_WEIGHTS_DIR = default_weights_dir()


def weights_dir() -> Path:
    """The folder of ``registry.json`` and the weights it names: EZSR_WEIGHTS_DIR, else
    :data:`DEFAULT_WEIGHTS_DIR`."""
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
    #: the live window the event weights were trained on: ("events", N) or ("ms", T)
    window: tuple[str, float] | None = None
    #: "pretrained": the tag supplies the text tower; "event_weights": the event-weights
    #: file carries its own (official bigE), used when present, the tag's otherwise
    text_tower: str = "pretrained"
    description: str | None = None

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

    @property
    def window_text(self) -> str:
        if self.window is None:
            return "none recorded"
        kind, value = self.window
        return f"{int(value):,} events" if kind == "events" else f"{value:g} ms"


def _field(path: Path, entry: dict[str, Any], key: str, kinds: tuple[type, ...], required: bool = False) -> Any:
    """``entry[key]`` after checking its JSON type (bool is not accepted as a number)."""
    name = entry.get("name", "?")
    if key not in entry or entry[key] is None:
        if required:
            raise ModelError(f"{path}: entry {name!r}: {key!r} is required")
        return None
    value = entry[key]
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        want = " or ".join(k.__name__ for k in kinds)
        raise ModelError(f"{path}: entry {name!r}: {key!r} must be {want}, got {show_json(value)}")
    return value


def _relative_inside(path: Path, entry: dict[str, Any], key: str, value: str | None) -> str | None:
    """Registry file names resolve inside the weights folder: an absolute path or ``..``
    climbing out of it could point the loader at any file on the machine."""
    if value is None:
        return None
    if "\0" in value or len(value.encode("utf-8", "surrogatepass")) > 4096 or any(
            len(part.encode("utf-8", "surrogatepass")) > 255 for part in Path(value).parts):
        # the operating system would refuse it at the first look-up (a NUL, a name too long)
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: {key} {show_json(value)} is not a usable "
                         "file name (a NUL byte, or longer than the file system allows)")
    p = Path(value)
    if p.is_absolute() or ".." in p.parts:
        if os.environ.get("EZSR_REGISTRY_ALLOW_PATHS") != "1":
            raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: {key} {value!r} must be a file name "
                             "inside the registry's folder (set EZSR_REGISTRY_ALLOW_PATHS=1 to allow other paths)")
    return value


def _sha(path: Path, entry: dict[str, Any], key: str) -> str | None:
    sha = _field(path, entry, key, (str,))
    if sha is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: {key} must be 64 hex digits or null")
    return sha.lower() if sha else None


def _choice(path: Path, entry: dict[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    value = _field(path, entry, key, (str,))
    if value is not None and value not in choices:
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: {key} must be one of {', '.join(choices)}, "
                         f"got {value!r}")
    return value


def _window(path: Path, entry: dict[str, Any]) -> tuple[str, float] | None:
    window = _field(path, entry, "window", (dict,))
    if window is None:
        return None
    if len(window) != 1 or not set(window) <= {"events", "ms"}:
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: window must be {{\"events\": N}} "
                         f"or {{\"ms\": T}}, got {show_json(window)}")
    (kind, value), = window.items()
    ok = (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5_000_000) if kind == "events" \
        else (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 60_000)
    if not ok:
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: window {kind} out of range: {show_json(value)}")
    return kind, float(value)


def _spec(path: Path, entry: dict[str, Any]) -> ModelSpec:
    input_size = _field(path, entry, "input_size", (int,), required=True)
    if not 16 <= input_size <= 4096:
        raise ModelError(f"{path}: entry {entry.get('name', '?')!r}: input_size {input_size} is out of range")
    return ModelSpec(
        name=_field(path, entry, "name", (str,), required=True),
        base_model=_field(path, entry, "base_model", (str,), required=True),
        pretrained=_field(path, entry, "pretrained", (str,)),
        event_weights=_relative_inside(path, entry, "event_weights", _field(path, entry, "event_weights", (str,))),
        sha256=_sha(path, entry, "sha256"),
        input_size=input_size,
        representation=_field(path, entry, "representation", (str,), required=True),
        root=path.parent,
        pretrained_sha256=_sha(path, entry, "pretrained_sha256"),
        labels=_field(path, entry, "labels", (str,)),
        templates=_field(path, entry, "templates", (str,)),
        knn_pool=_relative_inside(path, entry, "knn_pool", _field(path, entry, "knn_pool", (str,))),
        rank=_field(path, entry, "rank", (int,)) or 0,
        window=_window(path, entry),
        text_tower=_choice(path, entry, "text_tower", ("pretrained", "event_weights")) or "pretrained",
        description=_field(path, entry, "description", (str,)),
    )


def load_registry(path: str | os.PathLike | None = None) -> dict[str, ModelSpec]:
    """Read a registry file (default ``weights/registry.json``) into ``{name: ModelSpec}``."""
    path = Path(path) if path else weights_dir() / "registry.json"
    try:
        doc = parse_json(path.read_bytes())
    except FileNotFoundError:
        raise ModelError(f"{path}: model registry not found (set EZSR_WEIGHTS_DIR to the folder that holds "
                         "registry.json and the weights it names)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model registry: {exc}") from None
    entries = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ModelError(f"{path}: registry must be an object with a 'models' list")
    specs: dict[str, ModelSpec] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModelError(f"{path}: entry {i} is not an object")
        spec = _spec(path, entry)
        if spec.name in specs:
            raise ModelError(f"{path}: duplicate registry name {spec.name!r}")
        specs[spec.name] = spec
    return specs


def spec_for_weights_file(path: str | os.PathLike, registry: str | os.PathLike | None = None, *,
                          specs: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """The registry entry whose event-weights file has this file name (the official
    release files keep their names: ``EZSR-OPENAI-VITB16.pt`` is ``ezsr-openai-vitb16``).
    ``specs``: an already loaded registry."""
    name = Path(path).name
    for spec in (specs if specs is not None else load_registry(registry)).values():
        if spec.event_weights and Path(spec.event_weights).name == name:
            return spec
    return None


def lookup(name: str, registry: str | os.PathLike | None = None) -> ModelSpec:
    specs = load_registry(registry)
    if name not in specs:
        raise ModelError(f"unknown registered model {name!r}; known: {', '.join(sorted(specs))}")
    return specs[name]


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
    actual = sha256_file(path)
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
    actual = sha256_file(path)
    if actual != spec.pretrained_sha256.lower():
        raise ModelError(f"{path}: sha256 {actual} does not match the registry's "
                         f"{spec.pretrained_sha256} for {spec.name!r}")
    return str(path)


def default_model(registry: str | os.PathLike | None = None, *,
                  specs: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """The best registered model whose weights are present here (highest rank first)."""
    present = [s for s in (specs if specs is not None else load_registry(registry)).values() if s.available()]
    return max(present, key=lambda s: s.rank) if present else None
