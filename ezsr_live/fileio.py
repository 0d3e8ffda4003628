"""Files written whole or not at all, and their checksums (used by every layer)."""
from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import re
import shutil
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

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


#: what a failed write means to the user, by errno
_STORAGE_PROBLEMS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file system's or this process's file-size limit, ulimit -f)",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error on the device",
}
#: C libraries that report a failed write as text (dv-processing, HDF5) name the errno
#: as strerror or as ``errno = N``
_ERRNO_IN_TEXT = re.compile(r"errno\s*=\s*(\d+)")


def failed_write_errno(exc: BaseException) -> int | None:
    """The errno behind a failed write: the exception's own, one of its causes', or the
    one its text names (``'No space left on device'``, ``errno = 28``)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return seen.errno
        text = str(seen)
        match = _ERRNO_IN_TEXT.search(text)
        if match:
            return int(match.group(1))
        for code in _STORAGE_PROBLEMS:
            if os.strerror(code) in text:
                return code
        seen = seen.__cause__ or seen.__context__
    return None


def describe_failed_write(path: str | os.PathLike, exc: BaseException) -> str:
    """One line for a write that failed: what the errno means and how much room is left
    where ``path`` lies, e.g. ``no space left on device (0 B free in /data)``."""
    code = failed_write_errno(exc)
    problem = _STORAGE_PROBLEMS.get(code) if code is not None else None
    if problem is None:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0][:200]
        return f"cannot write ({detail})"
    if code not in (errno.ENOSPC, errno.EDQUOT):
        return f"{problem}"
    folder = os.path.dirname(os.path.abspath(path))
    try:
        free = f"{_size(shutil.disk_usage(folder).free)} free in {folder}"
    except OSError:
        free = os.strerror(code)
    return f"{problem} ({free})"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


_BOM = b"\xef\xbb\xbf"


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` (a leading UTF-8 BOM skipped), every failure a one-line :class:`ValueError`: bad syntax, invalid
    UTF-8, a number beyond Python's 4,300-digit limit (a plain ValueError from the
    parser) and nesting deeper than the parser recurses (a RecursionError)."""
    if isinstance(text, bytes):
        text = text.removeprefix(_BOM)  # as editors on Windows save UTF-8
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested deeper than the JSON parser goes") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError and the digit limit
        raise ValueError(_one_line(exc)) from None


def parse_toml(data: bytes) -> dict[str, Any]:
    """``tomllib.loads`` of UTF-8 bytes, every failure a one-line :class:`ValueError`
    (as :func:`parse_json`)."""
    try:
        return tomllib.loads(data.removeprefix(_BOM).decode("utf-8"))
    except RecursionError:
        raise ValueError("nested deeper than the TOML parser goes") from None
    except ValueError as exc:  # TOMLDecodeError, UnicodeDecodeError and the digit limit
        raise ValueError(_one_line(exc)) from None


def show_json(value: Any, limit: int = 80) -> str:
    """``value`` as JSON for a message, cut to ``limit`` characters; never fails (a
    value nested as deep as the parser allows is deeper than ``json.dumps`` goes)."""
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError, TypeError):
        text = f"a {type(value).__name__} nested too deeply to show"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "integer string conversion" in text:
        return "a number of more than 4300 digits"
    return text[:300]
