"""AEDAT 4 (``.aedat4``) reader and writer through dv-processing 2.0.4.

Reading uses ``dv.io.MonoCameraRecording``: the ``events`` stream becomes packets of
:data:`~ezsr_live.events.EVENT_DTYPE` (vectorised from dv's ``EventStore.numpy()``;
timestamps keep their Unix-epoch µs), a ``triggers`` stream becomes
:attr:`Chunk.triggers` (external-signal edges as id 0, signal-generator edges as
id 1; other dv trigger types are skipped), and every other stream (frames, IMU, ...)
is ignored. ``info.camera`` is the recording's camera name, the geometry its event
resolution unless ``geometry=`` is given; events outside it are dropped and counted.

dv-processing runs in a child process (:mod:`._aedat4_worker`): on some corrupted
LZ4 packets it loops forever holding the GIL, which nothing in-process can stop. The
parent turns a stall (:data:`STALL_CPU_S` of child CPU time, or :data:`STALL_TIMEOUT_S`
of wall time, without output), a crash, or any exception
dv raises into a :class:`~ezsr_live.errors.FormatError` naming the file. Pipe
back-pressure keeps memory bounded to about one dv packet plus one chunk.

Writing uses ``dv.io.MonoCameraWriter`` with an event-only configuration (plus a
``triggers`` stream) at the given resolution, LZ4-compressed. dv requires
non-decreasing timestamps: a packet that steps back in time, within one call or
across calls, raises a FormatError (``ezsr convert`` reorders before writing).
dv-processing 2.0.4's Python binding has no bulk constructor for event stores, so
events enter through ``EventStore.push_back`` one call each (about 3 Mev/s);
that is the binding's limit, not a decoding loop of ours.
"""
from __future__ import annotations

import json
import os
import selectors
import struct
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import (
    EVENT_DTYPE,
    TRIGGER_DTYPE,
    EventPacket,
    Geometry,
    SourceInfo,
    as_event_packet,
)

from .base import Chunk, EventReader, EventWriter
from .dv_common import dv_records_to_packet
from .registry import register_reader, register_writer

#: CPU seconds the dv-processing child may burn without sending anything before the
#: file is declared undecodable: a healthy file costs about a millisecond per packet,
#: while a corrupt LZ4 packet makes dv spin at full speed. Counting the child's CPU
#: time rather than wall time tells a spin from a child starved on a busy machine.
STALL_CPU_S = 2.0
#: wall-clock seconds without any message before giving up regardless (also the
#: only guard where /proc is unavailable)
STALL_TIMEOUT_S = 60.0
_POLL_S = 0.1
DEFAULT_CAMERA_NAME = "ezsr-live"
AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
#: an IOHeader (compression, data-table position, XML stream description) larger
#: than this is garbage, not a header
_MAX_IO_HEADER = 16 << 20
_WORKER_MODULE = "ezsr_live.drivers._aedat4_worker"
_MSG_HEADER = struct.Struct("<cQ")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _Worker:
    """One dv-processing child process and the framed messages it sends."""

    def __init__(self, path: str, mode: str) -> None:
        self.path = path
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", _WORKER_MODULE, mode, path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)

    def _cpu_seconds(self) -> float | None:
        """CPU time the child has used so far (Linux /proc), or None."""
        try:
            with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return None

    def _read_exact(self, n: int) -> bytes:
        parts: list[bytes] = []
        while n:
            started = time.monotonic()
            cpu_at_start = self._cpu_seconds()
            while not self._selector.select(timeout=_POLL_S):
                cpu = self._cpu_seconds()
                spinning = cpu is not None and cpu_at_start is not None and cpu - cpu_at_start > STALL_CPU_S
                if spinning or time.monotonic() - started > STALL_TIMEOUT_S:
                    how = f"spun {STALL_CPU_S:g} CPU s" if spinning else f"sent nothing for {STALL_TIMEOUT_S:g} s"
                    raise FormatError(self.path, f"dv-processing {how} without progress decoding it (corrupt file?)")
            data = os.read(self._fd, min(n, 1 << 20))
            if not data:
                raise FormatError(self.path, f"dv-processing failed reading it ({self._crash_reason()})")
            parts.append(data)
            n -= len(data)
        return b"".join(parts)

    def _crash_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return "reader process hung"
        self._stderr.seek(0)
        tail = self._stderr.read()[-300:].decode("utf-8", "replace").strip()
        return f"reader process exited with code {code}" + (f": {tail}" if tail else "")

    def messages(self) -> Iterator[tuple[bytes, bytes]]:
        """Yield (kind, payload) until ``D``; an ``X`` becomes a FormatError."""
        while True:
            kind, length = _MSG_HEADER.unpack(self._read_exact(_MSG_HEADER.size))
            payload = self._read_exact(length) if length else b""
            if kind == b"X":
                raise FormatError(self.path, f"dv-processing cannot read it: {payload.decode('utf-8', 'replace')}")
            if kind == b"D":
                return
            yield kind, payload

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._selector.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()


def _io_header_data_table_position(path: str, header: bytes) -> int:
    """The ``dataTablePosition`` field of the IOHeader flatbuffer (-1 when absent)."""
    if len(header) < 8 or header[4:8] != b"IOHE":
        raise FormatError(path, "AEDAT 4 IOHeader lacks its 'IOHE' identifier", len(AEDAT4_MAGIC) + 4)
    try:
        (table,) = struct.unpack_from("<I", header, 0)
        (vtable_back,) = struct.unpack_from("<i", header, table)
        vtable = table - vtable_back
        (vtable_size,) = struct.unpack_from("<H", header, vtable)
        if vtable_size < 4 + 2 * 2:
            return -1  # field 1 (dataTablePosition) not present: the default
        (field_offset,) = struct.unpack_from("<H", header, vtable + 4 + 2)
        if field_offset == 0:
            return -1
        (position,) = struct.unpack_from("<q", header, table + field_offset)
    except struct.error:
        raise FormatError(path, "AEDAT 4 IOHeader is damaged", len(AEDAT4_MAGIC) + 4) from None
    return int(position)


def check_aedat4_container(path: str) -> None:
    """Validate the AEDAT 4 framing in-process, before dv-processing sees the file.

    Checks the magic line, the IOHeader, and that the chain of packet headers
    (``<i4 stream id, <i4 size``) tiles the file exactly up to the data table (or
    the end of the file when there is none). This turns truncated or misframed files
    into a FormatError with a byte offset at once, without starting a dv process;
    damage inside a packet's compressed payload is left to dv (and its watchdog).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(len(AEDAT4_MAGIC)) != AEDAT4_MAGIC:
            raise FormatError(path, "not an AEDAT 4.0 file (missing '#!AER-DAT4.0' magic)", 0)
        raw = f.read(4)
        if len(raw) < 4:
            raise FormatError(path, "file ends before the IOHeader", len(AEDAT4_MAGIC))
        (header_size,) = struct.unpack("<i", raw)
        if not 8 <= header_size <= _MAX_IO_HEADER or len(AEDAT4_MAGIC) + 4 + header_size > size:
            raise FormatError(path, f"IOHeader size {header_size} is impossible for this file", len(AEDAT4_MAGIC))
        data_table = _io_header_data_table_position(path, f.read(header_size))
        offset = len(AEDAT4_MAGIC) + 4 + header_size
        end = size if data_table < 0 else data_table
        if not offset <= end <= size:
            raise FormatError(path, f"data table position {data_table} lies outside the file "
                              f"({size} bytes): truncated or damaged", len(AEDAT4_MAGIC) + 4)
        while offset < end:
            f.seek(offset)
            raw = f.read(8)
            if len(raw) < 8:
                raise FormatError(path, "truncated packet header", offset)
            stream_id, packet_size = struct.unpack("<ii", raw)
            if stream_id < 0 or packet_size <= 0 or offset + 8 + packet_size > end:
                raise FormatError(path, f"packet header (stream {stream_id}, {packet_size} bytes) does not fit "
                                  f"the file: truncated or damaged", offset)
            offset += 8 + packet_size


@register_reader(".aedat4")
class Aedat4Reader(EventReader):
    """Streaming reader of the event (and trigger) stream of an .aedat4 recording."""

    format = "aedat4"

    def _open(self) -> None:
        geometry = self.requested_geometry
        try:
            check_aedat4_container(self.path)
        except OSError as exc:
            raise FormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        meta = self._open_info()
        if not meta["has_events"]:
            raise FormatError(self.path, f"no event stream (streams: {', '.join(meta['streams']) or 'none'})")
        d = meta["dv_dtype"]
        self._dv_dtype = np.dtype({k: d[k] for k in ("names", "formats", "offsets", "itemsize")})
        resolution = meta["resolution"]
        if geometry is None:
            try:
                geometry = Geometry(int(resolution[0]), int(resolution[1]))
            except (TypeError, ValueError, IndexError):
                raise FormatError(self.path, f"event stream has no usable resolution ({resolution!r}); pass a geometry") from None
        self.info = SourceInfo(
            name=self.path,
            format=self.format,
            geometry=geometry,
            camera=meta["camera"] or None,
            header={"camera": meta["camera"], "streams": meta["streams"],
                    "resolution": resolution},
        )

    def _open_info(self) -> dict:
        worker = _Worker(self.path, "info")
        try:
            for kind, payload in worker.messages():
                if kind == b"I":
                    return json.loads(payload)
            raise FormatError(self.path, "dv-processing reported nothing about it")
        finally:
            worker.close()

    def iter_chunks(self) -> Iterator[Chunk]:
        self.stats = type(self.stats)()
        worker = _Worker(self.path, "events")
        try:
            for kind, payload in worker.messages():
                if kind == b"E":
                    store = np.frombuffer(payload, dtype=self._dv_dtype)
                    events, oob = dv_records_to_packet(store, self.geometry)
                    self.stats.out_of_bounds += oob
                    for start in range(0, len(events), self.chunk_events):
                        yield Chunk(events[start:start + self.chunk_events])
                elif kind == b"T":
                    yield Chunk(np.zeros(0, EVENT_DTYPE), np.frombuffer(payload, dtype=TRIGGER_DTYPE).copy())
        finally:
            worker.close()


@register_writer(".aedat4")
class Aedat4Writer(EventWriter):
    """Writes events (and triggers) to an .aedat4 file with dv-processing, which needs
    non-decreasing time (``open_writer`` reorders the stream for it)."""

    format = "aedat4"
    requires_monotonic = True

    def __init__(self, path: str | os.PathLike, geometry: Geometry, *, info: SourceInfo | None = None) -> None:
        super().__init__(path, geometry, info=info)
        import dv_processing as dv

        self._dv = dv
        camera = (info.camera if info is not None and info.camera else None) or DEFAULT_CAMERA_NAME
        config = dv.io.MonoCameraWriter.EventOnlyConfig(camera, (geometry.width, geometry.height))
        config.addTriggerStream("triggers")
        try:
            self._writer = dv.io.MonoCameraWriter(self.path, config)
        except Exception as exc:  # noqa: BLE001 - dv reports I/O failures as assorted C++ errors
            raise FormatError(self.path, f"dv-processing cannot create it: {exc}") from None
        self._last_t = np.iinfo(np.int64).min
        self._last_trigger_t = np.iinfo(np.int64).min

    def _check_monotonic(self, t: np.ndarray, last: int, what: str) -> None:
        steps_back = np.flatnonzero(np.diff(t) < 0) if len(t) > 1 else np.zeros(0, np.intp)
        if len(t) and t[0] < last:
            raise FormatError(self.path, f"{what} timestamps go back in time across packets "
                              f"({int(t[0])} µs after {last} µs); .aedat4 needs non-decreasing time, reorder first")
        if len(steps_back):
            i = int(steps_back[0])
            raise FormatError(self.path, f"{what} timestamps go back in time at index {i + 1} of the packet "
                              f"({int(t[i + 1])} µs after {int(t[i])} µs); .aedat4 needs non-decreasing time, reorder first")

    def write(self, events: EventPacket) -> None:
        events = as_event_packet(events, source=self.path)
        if not len(events):
            return
        t = np.ascontiguousarray(events["t"], dtype=np.int64)
        self._check_monotonic(t, self._last_t, "event")
        x = events["x"]
        y = events["y"]
        if int(x.max()) >= self.geometry.width or int(y.max()) >= self.geometry.height:
            raise FormatError(self.path, f"event coordinates exceed the {self.geometry} geometry being written")
        store = self._dv.EventStore()
        push = store.push_back
        # the binding offers no bulk constructor (see module docstring)
        for ti, xi, yi, pi in zip(t.tolist(), x.tolist(), y.tolist(), (events["p"] != 0).tolist()):
            push(ti, xi, yi, pi)
        self._writer.writeEvents(store)
        self._last_t = int(t[-1])
        self.n_written += len(events)

    def write_triggers(self, triggers: np.ndarray) -> None:
        if not len(triggers):
            return
        t = np.ascontiguousarray(triggers["t"], dtype=np.int64)
        self._check_monotonic(t, self._last_trigger_t, "trigger")
        kinds = self._dv.TriggerType
        edge = {
            (0, 1): kinds.EXTERNAL_SIGNAL_RISING_EDGE, (0, 0): kinds.EXTERNAL_SIGNAL_FALLING_EDGE,
            (1, 1): kinds.EXTERNAL_GENERATOR_RISING_EDGE, (1, 0): kinds.EXTERNAL_GENERATOR_FALLING_EDGE,
        }
        vector = self._dv.TriggerPacket.TriggersVector()
        for ti, ident, p in zip(t.tolist(), triggers["id"].tolist(), triggers["p"].tolist()):
            vector.append(self._dv.Trigger(ti, edge[(1 if ident == 1 else 0, 1 if p else 0)]))
        self._writer.writeTriggerPacket(self._dv.TriggerPacket(vector))
        self._last_trigger_t = int(t[-1])

    def close(self) -> None:
        # dv flushes and writes the file's data table when the writer is destroyed
        writer = getattr(self, "_writer", None)
        if writer is not None:
            self._writer = None
            del writer
