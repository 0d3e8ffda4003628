"""Label embeddings on disk, so that a vocabulary encoded once loads at once next time.

One small file per (text-tower identity, template-set key, label) under
``$XDG_CACHE_HOME/ezsr-live/text-embeddings`` (``~/.cache`` without it;
``EZSR_TEXT_CACHE`` names another folder, or ``off``). A file holds a header naming
its whole key, the vector's length and its SHA-256, then the float32 vector: a file
whose key, length or checksum does not match (truncated, corrupt, a hash collision, a
concurrent writer's half-written temporary) is a miss, re-encoded and rewritten, never
trusted. Files are written to a temporary name in the same folder and renamed over
the entry (atomic on POSIX and Windows), so concurrent writers of one entry each leave
a whole file. The folder is kept under ``max_bytes`` by removing the least recently
used entries (hits refresh a file's modification time).

A text tower is cached only when it has a stable identity: random weights (``NAME/random``)
differ from run to run and are never cached; a weights file's identity includes its
size and modification time, so that a replaced file is not taken for the old one.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

log = logging.getLogger(__name__)

MAGIC = b"EZSR-TEXT-EMB 1\n"
#: the folder's bound: 256 MB hold some 130,000 labels of a 512-d model
DEFAULT_MAX_BYTES = 256 << 20
ENV_FOLDER = "EZSR_TEXT_CACHE"
#: entries written between two checks of the folder's size
PRUNE_EVERY = 512

Key = tuple[str, str, str]  # (text-tower identity, template-set key, label)


def default_folder() -> Path | None:
    """Where the cache lives, or None when ``EZSR_TEXT_CACHE=off``."""
    chosen = os.environ.get(ENV_FOLDER)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off", "no", "false") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ezsr-live" / "text-embeddings"


def text_tower_identity(model_identity: str, *weights_files: str | os.PathLike | None) -> str | None:
    """A cacheable identity of a text tower: ``model_identity`` plus, for each weights
    file it was loaded from, the file's name, size and modification time; None for
    random weights (nothing stable to key them by)."""
    if model_identity.endswith("/random"):
        return None
    parts = [model_identity]
    for path in weights_files:
        if path is None or not os.path.isfile(path):
            continue
        st = os.stat(path)
        parts.append(f"{Path(path).name}:{st.st_size}:{st.st_mtime_ns}")
    return "+".join(parts)


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


class DiskTextCache:
    """The on-disk store (see the module docstring); every method is safe to call from
    several threads and processes at once."""

    def __init__(self, folder: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.writes = 0
        self._pruned_at: int | None = None

    def path(self, key: Key) -> Path:
        model, templates, label = key
        return self.folder / _digest(f"{model}\0{templates}", 24) / f"{_digest(label, 40)}.emb"

    # -- reading -------------------------------------------------------------------
    def get(self, key: Key) -> torch.Tensor | None:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        vec = self._decode(data, key)
        if vec is None:
            self.corrupt += 1
            self.misses += 1
            log.warning("text-embedding cache: %s is damaged; the label is encoded again", path)
            return None
        self.hits += 1
        try:
            os.utime(path)  # recently used: the last to be pruned
        except OSError:
            pass
        return vec

    def get_many(self, keys: Iterable[Key]) -> dict[Key, torch.Tensor]:
        found = {}
        for key in keys:
            vec = self.get(key)
            if vec is not None:
                found[key] = vec
        return found

    @staticmethod
    def _decode(data: bytes, key: Key) -> torch.Tensor | None:
        if not data.startswith(MAGIC):
            return None
        end = data.find(b"\n", len(MAGIC))
        if end < 0:
            return None
        try:
            header = json.loads(data[len(MAGIC):end].decode("utf-8"))
            dim = int(header["dim"])
            stored_key = (str(header["model"]), str(header["templates"]), str(header["label"]))
            checksum = str(header["sha256"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None
        payload = data[end + 1:]
        if stored_key != tuple(key) or dim < 1 or len(payload) != 4 * dim:
            return None
        if hashlib.sha256(payload).hexdigest() != checksum:
            return None
        vec = np.frombuffer(payload, dtype="<f4").astype(np.float32)
        if not np.isfinite(vec).all():
            return None
        return torch.from_numpy(vec)

    # -- writing -------------------------------------------------------------------
    def put_many(self, items: Sequence[tuple[Key, torch.Tensor]]) -> None:
        """Store entries; a failure to write (read-only or full disk) only costs the
        next run the encoding, so it is logged once, not raised."""
        try:
            for key, vec in items:
                self._write(key, vec)
        except OSError as exc:
            log.warning("text-embedding cache: cannot write under %s (%s); labels are not cached",
                        self.folder, exc.strerror or exc)
            return
        # listing the folder costs; once per session's first writes, then every few hundred
        if self._pruned_at is None or self.writes - self._pruned_at >= PRUNE_EVERY:
            self._pruned_at = self.writes
            self.prune()

    def _write(self, key: Key, vec: torch.Tensor) -> None:
        payload = np.ascontiguousarray(vec.detach().float().cpu().numpy(), dtype="<f4").tobytes()
        model, templates, label = key
        header = json.dumps({"model": model, "templates": templates, "label": label,
                             "dim": len(payload) // 4, "sha256": hashlib.sha256(payload).hexdigest()},
                            ensure_ascii=True)
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".emb")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + header.encode("ascii") + b"\n" + payload)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.writes += 1

    def prune(self) -> int:
        """Remove the least recently used entries until the folder is under its bound;
        returns how many were removed."""
        entries = []
        total = 0
        try:
            for sub in self.folder.iterdir():
                if not sub.is_dir():
                    continue
                for f in sub.iterdir():
                    try:
                        st = f.stat()
                    except OSError:
                        continue  # removed by another process meanwhile
                    entries.append((st.st_mtime_ns, st.st_size, f))
                    total += st.st_size
        except OSError:
            return 0
        removed = 0
        if total <= self.max_bytes:
            return 0
        for _, size, f in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            try:
                f.unlink()
                removed += 1
            except OSError:
                pass
            total -= size
        return removed


def default_cache() -> DiskTextCache | None:
    """The user's cache (see :func:`default_folder`), or None when switched off."""
    folder = default_folder()
    return DiskTextCache(folder) if folder is not None else None
