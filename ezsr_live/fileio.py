"""Files written whole or not at all, and their checksums (used by every layer)."""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_counter = itertools.count()


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``dest`` that replaces ``dest`` when the block succeeds.

    The temporary name ends with ``dest``'s own name, so writers that choose a format by
    extension (``open_writer``, ``np.savez``) see the right one. If the block raises,
    whatever was written there (a file or a folder) is removed and ``dest`` is untouched.
    A folder ``dest`` that already exists is replaced as a whole.
    """
    dest = Path(dest)
    tmp = dest.parent / f".partial-{os.getpid()}-{next(_counter)}-{dest.name}"
    try:
        yield tmp
        if dest.is_dir() and not dest.is_symlink() and tmp.is_dir():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def atomic_write_text(dest: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``dest`` through a synced temporary file and a rename."""
    with atomic_path(dest) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """The file's SHA-256, hex, read in chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
