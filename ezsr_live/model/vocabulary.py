"""Editable vocabularies and their text embeddings.

A label's embedding is the L2-normalised mean of the L2-normalised text embeddings of
its prompts (one per template). Embeddings are cached by (model identity, template-set
key, label), so editing a vocabulary (add, remove, rename, new templates) encodes only
labels not seen before with that model and template set. Encoding runs in batches and
can be done in slices (:meth:`Vocabulary.encode_pending` with ``max_labels``) so that a
worker thread never blocks a live view for long.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Sequence

import torch

from ezsr_live.errors import FormatError, ModelError
from ezsr_live.model.builtin_labels import BUILTIN_LABEL_SETS
from ezsr_live.model.templates import TemplateSet, get_templates
from ezsr_live.model.text_cache import DiskTextCache

log = logging.getLogger(__name__)

TextEncoder = Callable[[list[str]], torch.Tensor]  # prompts -> (N, D) normalised embeddings
#: called as (labels ready, labels in the vocabulary) while a vocabulary is encoded
ProgressListener = Callable[[int, int], None]


#: how a label file lists a label that is kept but switched off: as a comment, so that
#: whatever reads labels from the file (``--labels FILE``) leaves it out, while the
#: window's editor restores it, switched off
DISABLED_PREFIX = "# disabled: "


def label_key(label: str) -> str:
    """What makes two labels the same: CLIP's tokenizer lower-cases text, so "Star" and
    "star" would be one class twice. Every way labels come in (typed, pasted, a file,
    ``--labels``) compares them by this."""
    return label.strip().casefold()


def unique_labels(labels: Sequence[str]) -> list[str]:
    """``labels`` stripped, without blanks and without repeats (by :func:`label_key`;
    the first spelling wins), in order."""
    seen: set[str] = set()
    kept = []
    for label in labels:
        label = label.strip()
        if label and label_key(label) not in seen:
            seen.add(label_key(label))
            kept.append(label)
    return kept


def read_label_entries(path: str | os.PathLike) -> list[tuple[str, bool]]:
    """(label, enabled) per line: blank lines and ``#`` comments skipped, except the
    :data:`DISABLED_PREFIX` ones, which give switched-off labels."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a BOM (Windows editors) is not part of a label
    except OSError as exc:
        raise FormatError(path, f"cannot read label file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise FormatError(path, "label file is not UTF-8 text", exc.start) from None
    marker = DISABLED_PREFIX.strip()
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(marker) and line[len(marker):].strip():
            entries.append((line[len(marker):].strip(), False))
        elif line and not line.startswith("#"):
            entries.append((line, True))
    if not any(enabled for _, enabled in entries):
        raise FormatError(path, "label file contains no label")
    return entries


def read_label_file(path: str | os.PathLike) -> list[str]:
    """One label per line; blank lines and ``#`` comments (switched-off labels too) skipped."""
    return [label for label, enabled in read_label_entries(path) if enabled]


def parse_labels(spec: str | Sequence[str]) -> list[str]:
    """Labels from a built-in set name (``imagenet``, ``caltech101``, ``cifar10``), a text
    file, a comma-separated list, or a sequence; duplicates (:func:`label_key`) dropped,
    order kept.

    Built-in sets are returned whole, duplicates included (ImageNet's names hold two
    "crane"s and two "maillot"s), so that label positions stay the datasets' class ids."""
    if isinstance(spec, str):
        if spec.lower() in BUILTIN_LABEL_SETS:
            return list(BUILTIN_LABEL_SETS[spec.lower()])
        if os.path.isfile(spec):
            raw = read_label_file(spec)
        else:
            raw = spec.split(",")
    else:
        raw = list(spec)
    labels = unique_labels([s for s in raw if s])
    if not labels:
        raise ModelError(f"no labels in {spec!r}")
    return labels


class TextEmbeddingCache:
    """LRU cache of label embeddings keyed by (model identity, template key, label)."""

    def __init__(self, max_entries: int = 200_000):
        self.max_entries = max_entries
        self._data: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str, str]) -> torch.Tensor | None:
        with self._lock:
            vec = self._data.get(key)
            if vec is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return vec

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        with self._lock:
            return key in self._data

    def put(self, key: tuple[str, str, str], vec: torch.Tensor) -> None:
        with self._lock:
            self._data[key] = vec
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class Vocabulary:
    """An ordered, editable label list with cached text embeddings.

    ``version`` increases on every edit; consumers (the recogniser) compare it to know
    when to fetch a new :meth:`matrix`. Edits and encoding are thread-safe.
    """

    def __init__(
        self,
        encode_text: TextEncoder,
        model_id: str,
        labels: str | Sequence[str] = (),
        templates: str | TemplateSet | None = None,
        cache: TextEmbeddingCache | None = None,
        batch_size: int = 256,
        *,
        disk: DiskTextCache | None = None,
        disk_identity: str | None = None,
    ):
        self._encode_text = encode_text
        self.model_id = model_id
        self.cache = cache if cache is not None else TextEmbeddingCache()
        # on disk only with a stable identity of the text tower (never random weights)
        self.disk = disk if disk is not None and disk_identity else None
        self.disk_identity = disk_identity
        self._disk_missed: set[tuple[str, str, str]] = set()
        self._listeners: list[ProgressListener] = []
        self.batch_size = max(1, int(batch_size))
        self._templates = get_templates(templates)
        self._labels: list[str] = parse_labels(labels) if labels else []
        self._lock = threading.RLock()
        self.version = 0
        self.prompts_encoded = 0  # total prompts sent to the text tower (for tests/telemetry)

    # -- reading -------------------------------------------------------------------
    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._labels)

    @property
    def templates(self) -> TemplateSet:
        return self._templates

    def __len__(self) -> int:
        return len(self._labels)

    def _key(self, label: str) -> tuple[str, str, str]:
        return (self.model_id, self._templates.key, label)

    def pending(self) -> list[str]:
        """Labels whose embedding is not cached yet."""
        with self._lock:
            return [lb for lb in dict.fromkeys(self._labels) if self._key(lb) not in self.cache]

    # -- editing -------------------------------------------------------------------
    def _changed(self) -> None:
        self.version += 1

    def set_labels(self, labels: str | Sequence[str]) -> None:
        with self._lock:
            self._labels = parse_labels(labels)
            self._changed()

    def add(self, *labels: str) -> None:
        with self._lock:
            present = {label_key(lb) for lb in self._labels}
            new = [lb for lb in unique_labels(labels) if label_key(lb) not in present]
            if new:
                self._labels.extend(new)
                self._changed()

    def remove(self, *labels: str) -> None:
        with self._lock:
            unknown = [lb for lb in labels if lb not in self._labels]
            if unknown:
                raise ModelError(f"not in the vocabulary: {', '.join(unknown)}")
            self._labels = [lb for lb in self._labels if lb not in labels]
            self._changed()

    def rename(self, old: str, new: str) -> None:
        """Replace label ``old`` by ``new`` at the same position (only ``new`` is encoded)."""
        with self._lock:
            if old not in self._labels:
                raise ModelError(f"not in the vocabulary: {old}")
            new = new.strip()
            if not new or any(label_key(lb) == label_key(new) for lb in self._labels if lb != old):
                raise ModelError(f"cannot rename {old!r} to {new!r}: empty or already present")
            self._labels[self._labels.index(old)] = new
            self._changed()

    def set_templates(self, templates: str | TemplateSet | None) -> None:
        with self._lock:
            self._templates = get_templates(templates)
            self._changed()

    # -- progress --------------------------------------------------------------------
    def add_progress_listener(self, listener: ProgressListener) -> None:
        """Call ``listener(ready, total)`` after each encoded batch and once when all labels
        are ready, from the thread that encodes (a GUI hands it on to its own thread)."""
        self._listeners.append(listener)

    def progress(self) -> tuple[int, int]:
        """(labels whose embedding is ready, labels in the vocabulary)."""
        with self._lock:
            total = len(dict.fromkeys(self._labels))
            return total - len(self.pending()), total

    def _report(self) -> None:
        if self._listeners:
            ready, total = self.progress()
            for listener in self._listeners:
                listener(ready, total)

    # -- encoding ------------------------------------------------------------------
    def _from_disk(self, todo: list[str], templates: TemplateSet) -> list[str]:
        """Take what the disk cache holds of ``todo`` into memory; the labels still to encode."""
        if self.disk is None or self.disk_identity is None:
            return todo
        keys = {lb: (self.disk_identity, templates.key, lb) for lb in todo}
        unknown = [key for key in keys.values() if key not in self._disk_missed]
        found = self.disk.get_many(unknown)
        self._disk_missed.update(key for key in unknown if key not in found)
        for lb, key in keys.items():
            if key in found:
                self.cache.put((self.model_id, templates.key, lb), found[key])
        return [lb for lb, key in keys.items() if key not in found]

    def encode_pending(self, max_labels: int | None = None) -> int:
        """Encode up to ``max_labels`` uncached labels (all when None), in batches of about
        ``batch_size`` prompts; returns how many labels were encoded. Labels the disk
        cache holds are loaded first and do not count: they cost no encoding."""
        with self._lock:
            todo = self.pending()
            templates = self._templates
        if not todo:
            return 0
        todo = self._from_disk(todo, templates)
        if max_labels is not None:
            todo = todo[:max_labels]
        per_batch = max(1, self.batch_size // len(templates))
        for start in range(0, len(todo), per_batch):
            group = todo[start:start + per_batch]
            prompts = [p for lb in group for p in templates.prompts(lb)]
            emb = self._encode_text(prompts).float().cpu()
            self.prompts_encoded += len(prompts)
            emb = torch.nn.functional.normalize(emb, dim=-1).view(len(group), len(templates), -1)
            means = torch.nn.functional.normalize(emb.mean(dim=1), dim=-1)
            for lb, vec in zip(group, means):
                self.cache.put((self.model_id, templates.key, lb), vec.clone())
            if self.disk is not None and self.disk_identity is not None:
                self.disk.put_many([((self.disk_identity, templates.key, lb), vec) for lb, vec in zip(group, means)])
            self._report()
        if not todo:
            self._report()  # all came from the disk
        return len(todo)

    def matrix(self) -> torch.Tensor:
        """(L, D) float32 label embeddings in label order, encoding whatever is missing."""
        with self._lock:
            self.encode_pending()
            rows = [self.cache.get(self._key(lb)) for lb in self._labels]
            if any(r is None for r in rows):  # evicted meanwhile by a tiny cache: encode again
                self.encode_pending()
                rows = [self.cache.get(self._key(lb)) for lb in self._labels]
            found = [r for r in rows if r is not None]
            if not found:
                raise ModelError("the vocabulary is empty")
            if len(found) < len(rows):
                raise ModelError(f"the text-embedding cache ({self.cache.max_entries:,} entries) cannot hold "
                                 f"the {len(rows):,} labels of this vocabulary")
            return torch.stack(found)


class FixedVocabulary:
    """A vocabulary with given embeddings and no text tower (benchmarks, precomputed sets)."""

    def __init__(self, labels: Sequence[str], embeddings: torch.Tensor):
        if len(labels) != embeddings.shape[0]:
            raise ModelError(f"{len(labels)} labels but {embeddings.shape[0]} embeddings")
        self._labels = tuple(labels)
        self._matrix = torch.nn.functional.normalize(embeddings.float(), dim=-1)
        self.version = 0

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def matrix(self) -> torch.Tensor:
        return self._matrix
