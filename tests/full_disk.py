"""Running a command where writes fail as they do when a disk fills up.

Where unprivileged mount namespaces work (``unshare --mount --map-root-user``, or
plain ``unshare --mount`` as root), the folder becomes a tmpfs of the given size in a
private namespace and writes fail with ENOSPC, exactly as on a full disk. Elsewhere the
command runs under a file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored) and writes
fail with EFBIG: the same code path in every writer (a write that fails part-way),
named differently.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: what each mechanism's failure reads like in our one-line messages
PROBLEM = {"tmpfs": "no space left on device (", "fsize": "file too large ("}

_SCRIPT = r'''
size=$1; dir=$2; left=$3; keep=$4; copy=$5; shift 5
mount -t tmpfs -o size="$size" tmpfs "$dir" || exit 99
"$@"; rc=$?
ls -A "$dir" > "$left"
if [ -n "$keep" ] && [ -e "$dir/$keep" ]; then cp "$dir/$keep" "$copy"; fi
exit $rc
'''


@lru_cache(maxsize=1)
def _unshare() -> list[str] | None:
    """The unshare command line that works here, if any."""
    if shutil.which("unshare") is None:
        return None
    probe = tempfile.mkdtemp(prefix="ezsr-tmpfs-probe-")
    try:
        for cmd in (["unshare", "--mount", "--map-root-user"], ["unshare", "--mount"]):
            try:
                done = subprocess.run([*cmd, "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', probe],
                                      capture_output=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if done.returncode == 0:
                return cmd
        return None
    finally:
        os.rmdir(probe)


def default_mechanism() -> str:
    return "tmpfs" if _unshare() is not None else "fsize"


@dataclass
class FullDiskRun:
    returncode: int
    stderr: str
    left: list[str]  # what the folder holds afterwards
    kept: Path | None  # the file named ``keep``, as the command left it
    mechanism: str

    @property
    def problem(self) -> str:
        return PROBLEM[self.mechanism]


def run_on_full_disk(argv: list[str], folder: Path, size_bytes: int, *, keep: str | None = None,
                     mechanism: str | None = None, timeout: float = 300) -> FullDiskRun:
    """Run ``argv`` with ``folder`` able to hold only ``size_bytes``."""
    mechanism = mechanism or default_mechanism()
    folder.mkdir(parents=True, exist_ok=True)
    if mechanism == "tmpfs":
        unshare = _unshare()
        assert unshare is not None, "no mount namespace here: use mechanism='fsize'"
        left_file, copy = folder.with_suffix(".left"), folder.parent / f"kept-{keep}"
        done = subprocess.run([*unshare, "sh", "-c", _SCRIPT, "sh", str(size_bytes), str(folder), str(left_file),
                               keep or "", str(copy), *argv], capture_output=True, text=True, timeout=timeout)
        assert done.returncode != 99, done.stderr
        left = left_file.read_text().split()
        kept = copy if keep and copy.exists() else None
    else:
        def limit() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size_bytes, size_bytes))

        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=limit)
        left = sorted(os.listdir(folder))
        kept = folder / keep if keep and (folder / keep).exists() else None
    return FullDiskRun(done.returncode, done.stderr, left, kept, mechanism)
