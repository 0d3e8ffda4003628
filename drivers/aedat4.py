"""AEDAT 4 (``.aedat4``) reader and writer.

Reading decodes in-process (:mod:`._aedat4_decode`): the ``events`` stream becomes
chunks of :data:`~ezsr_live.events.EVENT_DTYPE` (timestamps keep their Unix-epoch
µs), a ``triggers`` stream becomes :attr:`Chunk.triggers` (external-signal edges as
id 0, signal-generator edges as id 1; other trigger sources are skipped), and every
other stream (frames, IMU, ...) is skipped unread. ``info.camera`` is the recording's
camera name (the ``source`` of the stream in the IOHeader's XML), the geometry its
event resolution unless ``geometry=`` is given; events outside it are dropped and
counted.

Why in-process, and why not dv-processing or the ``aedat`` package (measured on a
5.3 M-event LZ4 file written by dv, 2 shared cores): dv-processing 2.0.4 decodes at
37-45 Mev/s but can spin forever holding the GIL, or crash, on a corrupt LZ4 packet,
so it had to run in a child process, which shipping packets over a pipe cut to
3.1 Mev/s. The Rust ``aedat`` 2.3.0 decoder is safe Rust for packets but builds its
arrays one event at a time (20-27 Mev/s, half of dv) and reads the IOHeader
flatbuffer without verifying it; faery 0.7.1 reads at 32-49 Mev/s. Here the file is
framed and checked in Python, each LZ4 block goes to python-lz4's
``LZ4_decompress_safe`` (the same library dv uses, made for hostile input), and a
numba kernel copies dv's 16-byte event structs into our packed records, dropping
out-of-geometry events, in one pass. Hostile files are handled without a process:
every size and offset is checked before use (the IOHeader against
:data:`_MAX_IO_HEADER` and the file, packet sizes against the file and
:data:`~._aedat4_decode.MAX_PACKET_BYTES`, LZ4 blocks against their frame's block
size, flatbuffer offsets against the packet), no loop runs without consuming input,
and memory is bounded by one packet plus one chunk. A damaged file raises one
FormatError naming the file and the byte offset of the packet (or header) at fault.

Zstd-compressed files (rare: dv records LZ4 by default) are still read through
dv-processing in a watched child process (:mod:`._aedat4_worker`): the parent turns
a stall (:data:`STALL_CPU_S` of child CPU time, or :data:`STALL_TIMEOUT_S` of wall
time, without output), a crash, or any exception dv raises into a FormatError.

Writing uses ``dv.io.MonoCameraWriter`` with an event-only configuration (plus a
``triggers`` stream) at the given resolution, LZ4-compressed. dv requires
non-decreasing timestamps: a packet that steps back in time, within one call or
across calls, raises a FormatError (``ezsr convert`` reorders before writing). dv's
writing thread aborts the process when a write fails (a full disk), so ``open_writer``
runs this writer in a child process (:mod:`.isolated`).
dv-processing 2.0.4's Python binding has no bulk constructor for event stores, so
events enter through ``EventStore.push_back`` one call each (about 3 Mev/s);
that is the binding's limit, not a decoding loop of ours.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator
from xml.etree import ElementTree

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

from ._aedat4_decode import (
    MAX_PACKET_BYTES,
    PacketError,
    Scratch,
    convert_events,
    decode_event_packet,
    decode_triggers,
    lz4_frame_decode,
)
from ._child import child_cpu_seconds
from ._packet_pool import PacketPool
from .base import Chunk, EventReader, EventWriter, _copy_bytes
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

log = logging.getLogger(__name__)
DEFAULT_CAMERA_NAME = "ezsr-live"
AEDAT4_MAGIC = b"#!AER-DAT4.0\r\n"
#: an IOHeader (compression, data-table position, XML stream description) larger
#: than this is garbage, not a header
_MAX_IO_HEADER = 16 << 20
_WORKER_MODULE = "ezsr_live.drivers._aedat4_worker"
_MSG_HEADER = struct.Struct("<cQ")


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
        return child_cpu_seconds(self.proc.pid)

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


_COMPRESSIONS = {0: "none", 1: "LZ4", 2: "LZ4 high", 3: "Zstd", 4: "Zstd high"}


@dataclass
class _Stream:
    id: int
    name: str  # dv's output name ("events", "imu", "triggers", ...)
    type: str  # type identifier ("EVTS", "IMUS", "TRIG", "FRME", ...)
    camera: str | None = None
    resolution: tuple[int, int] | None = None


@dataclass
class _IOHeader:
    compression: int
    data_table: int  # -1 when the file has no data table
    streams: list[_Stream] = field(default_factory=list)
    data_start: int = 0
    data_end: int = 0  # where the packets end: the data table, or the last whole packet

    def first(self, type_identifier: str, name: str) -> _Stream | None:
        matches = [s for s in self.streams if s.type == type_identifier]
        return next((s for s in matches if s.name == name), matches[0] if matches else None)


def _parse_io_header(path: str, header: bytes) -> _IOHeader:
    """The IOHeader flatbuffer (compression, data-table position, XML description),
    every offset checked against the header's bytes."""
    at = len(AEDAT4_MAGIC) + 4
    if len(header) < 8 or header[4:8] != b"IOHE":
        raise FormatError(path, "AEDAT 4 IOHeader lacks its 'IOHE' identifier", at)
    try:
        (table,) = struct.unpack_from("<I", header, 0)
        (vtable_back,) = struct.unpack_from("<i", header, table)
        vtable = table - vtable_back
        if vtable < 0:
            raise struct.error
        (vtable_size,) = struct.unpack_from("<H", header, vtable)

        def field_at(index: int) -> int:
            if vtable_size < 4 + 2 * (index + 1):
                return 0
            return struct.unpack_from("<H", header, vtable + 4 + 2 * index)[0]

        compression = struct.unpack_from("<i", header, table + field_at(0))[0] if field_at(0) else 0
        data_table = struct.unpack_from("<q", header, table + field_at(1))[0] if field_at(1) else -1
        description = ""
        if field_at(2):
            where = table + field_at(2)
            string = where + struct.unpack_from("<I", header, where)[0]
            (length,) = struct.unpack_from("<I", header, string)
            if string + 4 + length > len(header):
                raise struct.error
            description = header[string + 4:string + 4 + length].decode("utf-8")
    except (struct.error, UnicodeDecodeError):
        raise FormatError(path, "AEDAT 4 IOHeader is damaged", at) from None
    if compression not in _COMPRESSIONS:
        raise FormatError(path, f"AEDAT 4 IOHeader names an unknown compression ({compression})", at)
    return _IOHeader(compression, int(data_table), _parse_description(path, description, at))


def _parse_description(path: str, description: str, at: int) -> list[_Stream]:
    """Streams of the IOHeader's XML (``<dv><node name="outInfo">`` children)."""
    if "<!DOCTYPE" in description or "<!ENTITY" in description:
        # dv never writes a DTD: refusing one rules out entity-expansion bombs
        raise FormatError(path, "AEDAT 4 stream description carries a DTD", at)
    try:
        root = ElementTree.fromstring(description)
    except ElementTree.ParseError as exc:
        raise FormatError(path, f"AEDAT 4 stream description is not XML ({exc})", at) from None
    streams = []
    for out_info in root.findall("node[@name='outInfo']"):
        for node in out_info.findall("node"):
            attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
            info = {a.get("key"): (a.text or "") for a in node.findall("node[@name='info']/attr")}
            try:
                stream_id = int(node.get("name", ""))
            except ValueError:
                continue
            try:
                resolution = (int(info["sizeX"]), int(info["sizeY"])) if "sizeX" in info else None
            except (KeyError, ValueError):
                resolution = None
            streams.append(_Stream(stream_id, attrs.get("originalOutputName", str(stream_id)),
                                   attrs.get("typeIdentifier", ""), info.get("source") or None, resolution))
    return streams


def read_io_header(path: str, f: BinaryIO, size: int) -> _IOHeader:
    """Magic line and IOHeader of the open file ``f`` of ``size`` bytes."""
    f.seek(0)
    if f.read(len(AEDAT4_MAGIC)) != AEDAT4_MAGIC:
        raise FormatError(path, "not an AEDAT 4.0 file (missing '#!AER-DAT4.0' magic)", 0)
    raw = f.read(4)
    if len(raw) < 4:
        raise FormatError(path, "file ends before the IOHeader", len(AEDAT4_MAGIC))
    (header_size,) = struct.unpack("<i", raw)
    if not 8 <= header_size <= _MAX_IO_HEADER or len(AEDAT4_MAGIC) + 4 + header_size > size:
        raise FormatError(path, f"IOHeader size {header_size} is impossible for this file", len(AEDAT4_MAGIC))
    header = _parse_io_header(path, f.read(header_size))
    header.data_start = len(AEDAT4_MAGIC) + 4 + header_size
    end = size if header.data_table < 0 else header.data_table
    if not header.data_start <= end <= size:
        raise FormatError(path, f"data table position {header.data_table} lies outside the file "
                          f"({size} bytes): truncated or damaged", len(AEDAT4_MAGIC) + 4)
    return header


def _packet_header(path: str, raw: bytes, offset: int, end: int) -> tuple[int, int]:
    if len(raw) < 8:
        raise FormatError(path, "truncated packet header", offset)
    stream_id, packet_size = struct.unpack("<ii", raw)
    if stream_id < 0 or packet_size <= 0 or offset + 8 + packet_size > end:
        raise FormatError(path, f"packet header (stream {stream_id}, {packet_size} bytes) does not fit "
                          f"the file: truncated or damaged", offset)
    if packet_size > MAX_PACKET_BYTES:
        raise FormatError(path, f"packet of {packet_size} bytes exceeds the {MAX_PACKET_BYTES >> 20} MiB "
                          "this reader accepts", offset)
    return stream_id, packet_size


def check_aedat4_container(path: str) -> _IOHeader:
    """Validate the AEDAT 4 framing before decoding anything; returns the IOHeader.

    Checks the magic line, the IOHeader, and that the chain of packet headers
    (``<i4 stream id, <i4 size``) tiles the file exactly up to the data table (or
    the end of the file when there is none). This turns truncated or misframed files
    into a FormatError with a byte offset at open time; damage inside a packet's
    compressed payload is found when that packet is decoded.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = read_io_header(path, f, size)
        offset = header.data_start
        end = size if header.data_table < 0 else header.data_table
        while offset < end:
            f.seek(offset)
            raw = f.read(8)
            if header.data_table < 0 and (len(raw) < 8 or offset + 8 + struct.unpack("<ii", raw)[1] > end):
                # no data table and a last packet cut short: a recording its writer never
                # finished (a crash, a full disk); everything before that packet is whole
                log.warning("%s: the file ends inside a packet at byte %d and has no data table "
                            "(a recording cut short?); reading the %d bytes of whole packets before it",
                            path, offset, offset - header.data_start)
                break
            _, packet_size = _packet_header(path, raw, offset, end)
            offset += 8 + packet_size
        header.data_end = offset
    return header


@register_reader(".aedat4")
class Aedat4Reader(EventReader):
    """Streaming reader of the event (and trigger) stream of an .aedat4 recording."""

    format = "aedat4"

    def _open(self) -> None:
        geometry = self.requested_geometry
        try:
            header = check_aedat4_container(self.path)
        except OSError as exc:
            raise FormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        self._header = header
        events = header.first("EVTS", "events")
        names = [s.name for s in header.streams]
        if events is None:
            raise FormatError(self.path, f"no event stream (streams: {', '.join(names) or 'none'})")
        self._events_id = events.id
        triggers = header.first("TRIG", "triggers")
        self._triggers_id = triggers.id if triggers is not None else None
        self._file_size = os.path.getsize(self.path)
        camera = events.camera or next((s.camera for s in header.streams if s.camera), None)
        if geometry is None:
            if events.resolution is None or min(events.resolution) <= 0:
                raise FormatError(self.path, f"event stream has no usable resolution ({events.resolution!r}); "
                                  "pass a geometry")
            geometry = Geometry(*events.resolution)
        self.info = SourceInfo(
            name=self.path,
            format=self.format,
            geometry=geometry,
            camera=camera,
            header={"camera": camera or "", "streams": names,
                    "resolution": list(events.resolution) if events.resolution else None,
                    "compression": _COMPRESSIONS[header.compression]},
        )

    def estimated_events(self) -> int | None:
        # LZ4 events cost 6-9 bytes each in dv's files; over-estimating costs no memory
        return self._file_size // 4

    def iter_chunks(self) -> Iterator[Chunk]:
        self.stats = type(self.stats)()
        if self._header.compression in (3, 4):
            yield from self._iter_chunks_dv()
        else:
            yield from self._iter_chunks_lz4()

    def read_all(self) -> EventPacket:
        """Every CD event in one packet, decoded straight into an array sized from the
        file (one chunk as large as :meth:`estimated_events`), not chunk by chunk and
        copied; a file that beats the estimate falls back to copying."""
        if self._header.compression in (3, 4):
            return super().read_all()
        self.stats = type(self.stats)()
        capacity = max(self.estimated_events() or 0, 1 << 16)
        parts = [chunk.events for chunk in self._iter_chunks_lz4(capacity, recycle=False)]
        if len(parts) != 1:  # none, or more events than estimated: join them
            out = np.empty(sum(len(p) for p in parts), EVENT_DTYPE)
            at = 0
            for part in parts:
                _copy_bytes(out, at, part)
                at += len(part)
            return out
        events = parts.pop()
        owner = events if events.base is None else events.base
        n = len(events)
        del events
        if not isinstance(owner, np.ndarray) or sys.getrefcount(owner) > 2:
            return owner[:n].copy()  # someone else holds it: never resize under them
        owner.resize(n, refcheck=False)  # the only reference: shrink in place
        return owner

    def _iter_chunks_lz4(self, capacity: int | None = None, recycle: bool = True) -> Iterator[Chunk]:
        """Decode in-process (see the module docstring): chunks of ``capacity`` events
        (``chunk_events``), their arrays reused once dropped unless not ``recycle``."""
        width, height = self.geometry.width, self.geometry.height
        compressed = self._header.compression != 0
        packet = Scratch()  # the packet as read from the file, and the next header
        plain = Scratch()  # decompressed
        pool = PacketPool(capacity or self.chunk_events)
        take = pool.take if recycle else (lambda: np.empty(capacity or self.chunk_events, EVENT_DTYPE))
        chunk = take()
        filled = 0
        triggers: list[np.ndarray] = []
        with open(self.path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            header = read_io_header(self.path, f, size)
            offset = header.data_start
            end = min(self._header.data_end, size)  # up to the last whole packet
            f.seek(offset)
            head = f.read(8)
            while offset < end:
                stream_id, packet_size = _packet_header(self.path, head, offset, end)
                if stream_id != self._events_id and stream_id != self._triggers_id:
                    offset += 8 + packet_size
                    f.seek(offset)
                    head = f.read(8)
                    continue
                # one read: this packet and the header of the next (none after the last)
                tail = 8 if offset + 8 + packet_size + 8 <= end else 0
                view = packet.reserve(packet_size + tail)
                if f.readinto(view[:packet_size + tail]) != packet_size + tail:
                    raise FormatError(self.path, "file ends inside a packet (truncated while read?)", offset)
                head = bytes(view[packet_size:packet_size + tail])
                try:
                    if stream_id == self._events_id:
                        buf, first, count, taken, kept = decode_event_packet(
                            packet, packet_size, compressed, plain, width, height, chunk, filled)
                    else:
                        n = lz4_frame_decode(packet.array, packet_size, plain) if compressed else packet_size
                        triggers.append(decode_triggers(plain.array if compressed else packet.array, n))
                        count = taken = kept = 0
                except PacketError as exc:
                    raise FormatError(self.path, f"{exc} (stream {stream_id} packet)", offset) from None
                done = taken
                while True:
                    self.stats.out_of_bounds += taken - kept
                    filled += kept
                    if filled == len(chunk):
                        yield Chunk(chunk, _joined_triggers(triggers))
                        chunk = take()
                        filled = 0
                    if done == count:
                        break
                    # the packet fills the chunk: the rest goes into the next one
                    taken = min(count - done, len(chunk) - filled)
                    kept = convert_events(buf, first, done, done + taken, width, height, chunk, filled)
                    done += taken
                offset += 8 + packet_size
        if filled or triggers:
            # no copy to trim it: the pages of the chunk that no event reached were never
            # touched, so they cost address space, not memory
            yield Chunk(chunk[:filled], _joined_triggers(triggers))

    def _iter_chunks_dv(self) -> Iterator[Chunk]:
        """Zstd-compressed files: dv-processing in a watched child process."""
        worker = _Worker(self.path, "events")
        dv_dtype = None
        try:
            for kind, payload in worker.messages():
                if kind == b"I":
                    d = json.loads(payload)["dv_dtype"]
                    dv_dtype = np.dtype({k: d[k] for k in ("names", "formats", "offsets", "itemsize")})
                elif kind == b"E" and dv_dtype is not None:
                    store = np.frombuffer(payload, dtype=dv_dtype)
                    events, oob = dv_records_to_packet(store, self.geometry)
                    self.stats.out_of_bounds += oob
                    for start in range(0, len(events), self.chunk_events):
                        yield Chunk(events[start:start + self.chunk_events])
                elif kind == b"T":
                    yield Chunk(np.zeros(0, EVENT_DTYPE), np.frombuffer(payload, dtype=TRIGGER_DTYPE).copy())
        finally:
            worker.close()


def _joined_triggers(triggers: list[np.ndarray]) -> np.ndarray:
    """The pending triggers as one array (emptying the list)."""
    out = np.concatenate(triggers) if triggers else np.zeros(0, TRIGGER_DTYPE)
    triggers.clear()
    return out


@register_writer(".aedat4")
class Aedat4Writer(EventWriter):
    """Writes events (and triggers) to an .aedat4 file with dv-processing, which needs
    non-decreasing time (``open_writer`` reorders the stream for it)."""

    format = "aedat4"
    requires_monotonic = True
    crash_safe = True  # dv writes each packet as it comes; the reader takes a cut tail
    isolated = True  # dv aborts the process when its writer thread fails (a full disk)

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
            # dv appends a C++ stack trace to its message: keep the message itself
            reason = str(exc).split("Stacktrace:")[0].strip().splitlines()
            raise FormatError(self.path, f"dv-processing cannot create it: {reason[-1] if reason else exc}") from None
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
