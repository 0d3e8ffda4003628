"""Child process that runs one writer for :class:`ezsr_live.drivers.isolated.IsolatedWriter`.

Usage::

    python -m ezsr_live.drivers._writer_worker MODULE CLASS PATH WIDTH HEIGHT OPTIONS_JSON

The parent sends frames on stdin, ``kind (1 byte) + payload length (<u8) + payload``:
``E`` events (EVENT_DTYPE bytes), ``T`` triggers (TRIGGER_DTYPE bytes), ``C`` close.
We answer ``R`` on stdout once the writer is created. When stdin ends without ``C``
(the parent died, even by SIGKILL) the file is finished as on ``C``. A failure is
reported on stderr: a FormatError after :data:`FORMAT_ERROR_MARK` (re-raised as one
by the parent), anything else as its text, in which the parent looks for the errno; an
abort or a crash in the library ends this process only.
"""
from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import struct
import sys
from typing import BinaryIO

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import EVENT_DTYPE, TRIGGER_DTYPE, Geometry, SourceInfo

FRAME = struct.Struct("<cQ")
FORMAT_ERROR_MARK = "ezsr-writer-format-error: "


def _read_exact(f: BinaryIO, n: int) -> bytes | None:
    """``n`` bytes, or None when the stream ends first (the parent went away)."""
    parts = []
    while n:
        data = f.read(n)
        if not data:
            return None
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


def main(argv: list[str]) -> int:
    module, name, path, width, height, options = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # an abort in the library must not leave core files
    # the parent ends us by closing stdin; signals meant for it (Ctrl-C, a SIGTERM to
    # the process group) would otherwise cut the file before it is finished
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything a library prints goes to stderr
    opts = json.loads(options)
    info = SourceInfo(name=path, format="", geometry=Geometry(width, height),
                      camera=opts.pop("camera", None), serial=opts.pop("serial", None))
    try:
        cls = getattr(importlib.import_module(module), name)
        writer = cls(path, Geometry(width, height), info=info, **opts)
        out.write(b"R")
        stdin = sys.stdin.buffer
        while True:
            head = _read_exact(stdin, FRAME.size)
            if head is None:
                break
            kind, length = FRAME.unpack(head)
            payload = _read_exact(stdin, length) if length else b""
            if payload is None or kind == b"C":
                break
            if kind == b"E":
                writer.write(np.frombuffer(payload, EVENT_DTYPE))
            elif kind == b"T":
                writer.write_triggers(np.frombuffer(payload, TRIGGER_DTYPE))
        writer.close()
    except FormatError as exc:
        print(FORMAT_ERROR_MARK + exc.problem.replace("\n", " "), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
