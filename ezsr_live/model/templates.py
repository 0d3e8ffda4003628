"""Prompt template sets: strings with one ``{}`` placeholder for the label.

The built-in sets come from open_clip's zero-shot metadata (where they are stored as
lambdas); they are turned into plain format strings so that a template set has a
stable, hashable identity for the text-embedding cache.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

from ezsr_live.errors import FormatError

PLACEHOLDER = "{}"


@dataclass(frozen=True)
class TemplateSet:
    """An ordered set of prompt templates, each containing exactly one ``{}``."""

    name: str
    templates: tuple[str, ...]

    @property
    def key(self) -> str:
        """Cache identity: changes whenever any template text changes, whatever the name."""
        digest = hashlib.sha1("\n".join(self.templates).encode("utf-8")).hexdigest()[:12]
        return f"{self.name}:{digest}"

    def prompts(self, label: str) -> list[str]:
        """The prompts for one label (``str.replace``, so braces in labels are harmless)."""
        return [t.replace(PLACEHOLDER, label) for t in self.templates]

    def __len__(self) -> int:
        return len(self.templates)


def _from_lambdas(name: str, fns) -> TemplateSet:
    return TemplateSet(name, tuple(fn(PLACEHOLDER) for fn in fns))


#: CLIP's 80 ImageNet prompt templates (the default).
OPENAI_IMAGENET = _from_lambdas("openai_imagenet", OPENAI_IMAGENET_TEMPLATES)
#: The 7-template subset from CLIP's prompt-engineering notebook: ~11x cheaper to encode.
SIMPLE_IMAGENET = _from_lambdas("simple_imagenet", SIMPLE_IMAGENET_TEMPLATES)
#: A single prompt: the cheapest possible, for huge or fast-changing vocabularies.
PHOTO = TemplateSet("photo", ("a photo of a {}.",))

BUILTIN_TEMPLATES: dict[str, TemplateSet] = {
    "openai": OPENAI_IMAGENET,
    "openai_imagenet": OPENAI_IMAGENET,
    "simple": SIMPLE_IMAGENET,
    "short": SIMPLE_IMAGENET,
    "photo": PHOTO,
}


def read_template_file(path: str | os.PathLike) -> TemplateSet:
    """Read one template per line; blank lines and ``#`` comments are skipped.

    Raises FormatError (with the byte offset of the offending line) when a line does not
    contain exactly one ``{}``, when the file is not UTF-8 text, or when it holds no template.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, f"cannot read template file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, "template file is not UTF-8 text", exc.start) from None
    templates: list[str] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        line_offset = offset
        offset += len(line.encode("utf-8"))
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.count(PLACEHOLDER) != 1:
            raise FormatError(path, f"template {stripped!r} must contain exactly one '{{}}'", line_offset)
        templates.append(stripped)
    if not templates:
        raise FormatError(path, "template file contains no template")
    return TemplateSet(path.stem, tuple(templates))


def get_templates(spec: str | TemplateSet | None = None) -> TemplateSet:
    """A template set from a built-in name (``openai``, ``simple``/``short``, ``photo``),
    a file path, or an existing TemplateSet; ``None`` means the 80 OpenAI templates."""
    if spec is None:
        return OPENAI_IMAGENET
    if isinstance(spec, TemplateSet):
        return spec
    if spec in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[spec]
    if os.path.exists(spec):
        return read_template_file(spec)
    raise FormatError(spec, f"neither a built-in template set ({', '.join(BUILTIN_TEMPLATES)}) nor a file")
