"""A writer run in a child process, for formats whose library can take the process
down when a write fails.

dv-processing 2.0.4 writes .aedat4 from a thread of its own and aborts the whole
process when a write fails there (``FileWriteError`` escaping that thread on a full
disk); HDF5 1.14 crashes (SIGSEGV) releasing a file whose flush failed. A writer class
that declares ``isolated`` is therefore run by :mod:`._writer_worker`, and
:class:`IsolatedWriter` feeds it over a pipe. Whatever becomes of the child, this
process stays: its failure is read from its stderr and raised here, as an
:class:`OSError` with the errno it names (which
:class:`~ezsr_live.drivers.guarded.GuardedWriter` turns into one line) or as the
FormatError it raised.

Events cross the pipe as raw EVENT_DTYPE bytes as soon as they are written, and the
child writes them as it gets them: when this process dies (even by SIGKILL) the child
sees its input end and finishes the file, so a crash here loses nothing already
handed over.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import TRIGGER_DTYPE, EventPacket, Geometry, SourceInfo, as_event_packet
from ezsr_live.fileio import failed_write_errno

from .base import EventWriter

_WORKER_MODULE = "ezsr_live.drivers._writer_worker"
_FRAME = struct.Struct("<cQ")
_FORMAT_ERROR_MARK = "ezsr-writer-format-error: "  # as _writer_worker.FORMAT_ERROR_MARK
#: seconds the child may take to finish the file after the last packet
CLOSE_TIMEOUT_S = 600.0


class IsolatedWriter(EventWriter):
    """Runs ``cls(path, geometry, info=info, **options)`` in a child process."""

    def __init__(self, cls: type[EventWriter], path: str | os.PathLike, geometry: Geometry, *,
                 info: SourceInfo | None = None, **options: object) -> None:
        super().__init__(path, geometry, info=info)
        self.format = cls.format  # type: ignore[misc]  # the wrapped class's, per instance
        self.inner_class = cls
        opts = dict(options, camera=info.camera if info else None, serial=info.serial if info else None)
        self._stderr = tempfile.TemporaryFile()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE, cls.__module__, cls.__qualname__, self.path,
             str(geometry.width), str(geometry.height), json.dumps(opts)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
        )
        assert self._proc.stdout is not None and self._proc.stdin is not None
        self._in = self._proc.stdin.fileno()
        ready = self._proc.stdout.read(1)
        self._proc.stdout.close()
        if ready != b"R":
            self._fail()

    def _send(self, kind: bytes, payload: bytes = b"") -> None:
        if self._proc is None:
            raise FormatError(self.path, "write after close")
        data = memoryview(_FRAME.pack(kind, len(payload)) + payload)
        try:
            while data:
                data = data[os.write(self._in, data):]
        except BrokenPipeError:
            self._fail()

    def _fail(self) -> None:
        """The child is gone or refused: raise why."""
        proc, self._proc = self._proc, None
        assert proc is not None
        self._close_stdin(proc)
        try:
            code = proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self._stderr.seek(0)
        text = self._stderr.read()[-8000:].decode("utf-8", "replace")
        self._stderr.close()
        for line in text.splitlines():
            if line.startswith(_FORMAT_ERROR_MARK):
                raise FormatError(self.path, line[len(_FORMAT_ERROR_MARK):])
        errno = failed_write_errno(RuntimeError(text))
        if errno is not None:
            raise OSError(errno, os.strerror(errno), self.path)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        detail = f": {lines[-1][:300]}" if lines else ""
        raise FormatError(self.path, f"the {self.format} writer process failed (exit code {code}){detail}")

    @staticmethod
    def _close_stdin(proc: subprocess.Popen[bytes]) -> None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass

    def write(self, events: EventPacket) -> None:
        events = as_event_packet(events, source=self.path)
        if len(events):
            self._send(b"E", events.tobytes())
            self.n_written += len(events)

    def write_triggers(self, triggers: np.ndarray) -> None:
        if len(triggers):
            self._send(b"T", np.ascontiguousarray(triggers, dtype=TRIGGER_DTYPE).tobytes())

    def close(self) -> None:
        if self._proc is None:
            return
        self._send(b"C")
        proc = self._proc
        if proc is None:
            return
        self._close_stdin(proc)
        try:
            code = proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            self._fail()
        self._proc = None
        self._stderr.close()

    def abort(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            self._close_stdin(proc)
            proc.wait()
            self._stderr.close()
