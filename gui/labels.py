"""Rules for labels typed or pasted into the editor (no Qt here, so they are easy to test)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ezsr_live.fileio import atomic_write_text
from ezsr_live.model.templates import PLACEHOLDER, TemplateSet
from ezsr_live.model.vocabulary import DISABLED_PREFIX, label_key

_SEPARATORS = re.compile(r"[,\r\n]+")


def split_label_text(text: str) -> list[str]:
    """Labels from typed or pasted text: a comma- and/or line-separated list, stripped.

    Empty pieces are kept (as ``""``) so that the caller can refuse them."""
    pieces = [piece.strip() for piece in _SEPARATORS.split(text)]
    # separators at the ends ("cat," or a trailing newline of a pasted list) are not labels
    while pieces and not pieces[-1]:
        pieces.pop()
    while pieces and not pieces[0]:
        pieces.pop(0)
    return pieces if pieces else [""]


@dataclass
class LabelCheck:
    """The outcome of checking new labels against a vocabulary."""

    accepted: list[str] = field(default_factory=list)
    empty: int = 0
    duplicates: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """An inline message for what was refused ("" when nothing was)."""
        parts = []
        if self.empty:
            parts.append("a label cannot be empty")
        if self.duplicates:
            shown = ", ".join(repr(d) for d in self.duplicates[:5])
            more = f" (+{len(self.duplicates) - 5} more)" if len(self.duplicates) > 5 else ""
            parts.append(f"already in the vocabulary: {shown}{more}")
        return "; ".join(parts)


def check_new_labels(candidates: Sequence[str], existing: Iterable[str]) -> LabelCheck:
    """Split ``candidates`` into accepted labels and refused ones.

    Labels compare by :func:`~ezsr_live.model.vocabulary.label_key` (case-insensitively:
    CLIP's tokenizer lower-cases text, so "Cat" and "cat" would be the same class twice),
    the rule of every way labels come in: typed, pasted, loaded, ``--labels``."""
    seen = {label_key(label) for label in existing}
    check = LabelCheck()
    for label in candidates:
        label = label.strip()
        if not label:
            check.empty += 1
        elif label_key(label) in seen:
            check.duplicates.append(label)
        else:
            seen.add(label_key(label))
            check.accepted.append(label)
    return check


def parse_template_text(text: str) -> tuple[TemplateSet | None, str]:
    """Templates typed one per line; (set, "") or (None, message) when a line is invalid."""
    templates = [line.strip() for line in text.splitlines() if line.strip()]
    if not templates:
        return None, "give at least one template, e.g. 'a photo of a {}.'"
    for line in templates:
        if line.count(PLACEHOLDER) != 1:
            return None, f"template {line!r} must contain exactly one '{PLACEHOLDER}'"
    return TemplateSet("custom", tuple(dict.fromkeys(templates))), ""


def write_label_file(path: str | os.PathLike, entries: Sequence[tuple[str, bool]]) -> None:
    """One (label, enabled) per line, in order, written atomically (a crash never leaves
    a half-written file). Switched-off labels are written as ``# disabled: label``: a
    comment for ``--labels FILE``, a switched-off label again for the editor's Load."""
    text = "# ezsr-live vocabulary: one label per line\n" + "".join(
        f"{label}\n" if enabled else f"{DISABLED_PREFIX}{label}\n" for label, enabled in entries)
    atomic_write_text(path, text)
