"""Prophesee RAW recordings (``.raw``): EVT 2.0, EVT 2.1 and EVT 3.0, read and written.

**Header.** A RAW file starts with text lines ``% key value``, optionally closed by
``% end``; the binary words follow. Every key/value goes into ``info.header`` (a later
duplicate key overwrites an earlier one). The EVT version comes from
``% format EVT3;height=H;width=W`` (also ``EVT2``, ``EVT21``) or, in legacy headers, from
``% evt 3.0|2.0|2.1``; the ``format`` line wins when both are present. The geometry
comes, in this order, from the reader's ``geometry=`` argument, the ``format`` line,
``% geometry WxH``, or the legacy ``% system_ID`` (21: 640x480, 48: 1280x720); anything
else is a :class:`FormatError` asking for ``--geometry WxH``. ``info.camera`` comes from
``camera`` / ``plugin_name`` / ``sensor_name``, ``info.serial`` from ``serial_number``.
EVT 2.1 uses the 64-bit little-endian layout unless the format line says
``endianness=legacy`` or the header is a legacy ``% evt 2.1`` one (head word first).

**Decoding** (kernels and word layouts in :mod:`._raw_codec`) streams the file in blocks
of :data:`BLOCK_BYTES` into one reused buffer and yields :class:`Chunk` s of exactly
``chunk_events`` CD events (capped at :data:`MAX_CHUNK_EVENTS`; the last chunk is
shorter, and one is cut short when :data:`TRIGGER_CAPACITY` triggers are pending), so
memory stays constant whatever the file size and the events never depend on the chunk
size. Output arrays of chunks the consumer has dropped are decoded into again. CD events before the first
TIME_HIGH, events outside the geometry and words of unsupported types are dropped and
counted in :attr:`EventReader.stats`. External triggers go to ``Chunk.triggers``
(triggers before the first TIME_HIGH are dropped). A file whose length leaves a partial
word at the end was cut short (a recording killed or stopped by a full disk while it
was written): every complete word is decoded and yielded, and a warning names the byte
offset of the partial word.

**Writing.** :class:`Evt3Writer` (``.raw``, ``.evt3.raw``) and :class:`Evt2Writer`
(``.evt2.raw``; the reader takes every one of these suffixes) stream (``write`` may be
called any number of times; the encoder state carries over) and accept events in any
time order. They write plain words only (EVT 3.0: TIME_HIGH, TIME_LOW, ADDR_Y, ADDR_X,
i.e. 2 to 8 bytes per event; EVT 2.0: one CD word per event plus TIME_HIGH words; no
vector words), starting with a TIME_HIGH before the first event. The header, written
with the first packet, records in ``% ezsr_time_origin_us`` the start of the first
event's time-counter period (a multiple of 2^24 µs for EVT 3.0, 2^34 µs for EVT 2.0; the
line is left out when it is 0), and :class:`RawReader` adds it back, so Unix-epoch or
negative times cost nothing (other RAW readers see times relative to that origin).

Round-trip guarantee: the reader returns exactly the events written, in the order
written, whenever the *wrap period* ``t >> 24`` (EVT 3.0, 2^24 µs ≈ 16.8 s) or
``t >> 34`` (EVT 2.0, 2^34 µs ≈ 4.77 h) never decreases from one event to the next.
Inside a period, time may go back by any amount: the writer walks TIME_HIGH back in
steps of at most ``10 << 12`` µs, which the reader's wrap rule takes as written (so a
step back of D µs costs about D / 40960 extra words); forward, it crosses periods in
steps the reader must count as wraps (a forward jump may span at most 2^20 such steps:
2^43 µs for EVT 3.0, 2^53 µs for EVT 2.0). Streams decoded by :class:`RawReader` always
satisfy the condition (its wrap count never decreases). Input that does not (including
triggers), coordinates outside the geometry, a polarity other than 0/1 or a trigger id
beyond the format's field (4 bits EVT 3.0, 5 bits EVT 2.0) raise :class:`FormatError`;
the events of the packet before the offending one are written.
"""
from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, ClassVar, Iterator

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import (
    TRIGGER_DTYPE,
    EventPacket,
    Geometry,
    SourceInfo,
    as_event_packet,
    whole_file_buffer,
)

from . import _raw_codec as codec
from ._packet_pool import PacketPool
from .base import Chunk, EventReader, EventWriter
from .registry import register_reader, register_writer

log = logging.getLogger(__name__)

#: bytes read from the file per kernel pass (a multiple of every word size)
BLOCK_BYTES = 1 << 22
#: chunk size cap: larger ``chunk_events`` give chunks of this size (218 MB each)
MAX_CHUNK_EVENTS = 1 << 24
#: triggers held before a chunk is yielded early to bound memory (triggers are rare)
TRIGGER_CAPACITY = 1 << 16
#: longest header line accepted; a longer "line" is binary data that starts with '%'
MAX_HEADER_LINE = 4096
#: a camera's header is a few kB; beyond these the file is damaged or hostile (parsing
#: and printing an 8 MB header took 20 s)
MAX_HEADER_BYTES = 1 << 20
MAX_HEADER_LINES = 2000
#: largest |time origin| a header may declare: decoded times stay far inside int64
MAX_TIME_ORIGIN_US = 1 << 61
#: words per encoder output buffer (flushed to the file when full)
ENCODE_BUFFER_WORDS = 1 << 20
#: largest geometry the 11-bit coordinate fields can address
MAX_RAW_SIZE = 2048
#: header key of our writers: µs to add to every decoded time (a whole number of wrap
#: periods), so that e.g. Unix-epoch times need no TIME_HIGH walk from 0
TIME_ORIGIN_KEY = "ezsr_time_origin_us"

LEGACY_SYSTEM_GEOMETRY = {21: Geometry(640, 480), 48: Geometry(1280, 720)}

_FORMAT_NAMES = {"EVT3": "evt3", "EVT30": "evt3", "EVT2": "evt2", "EVT20": "evt2", "EVT21": "evt21"}
_EVT_VERSIONS = {"3.0": "evt3", "3": "evt3", "2.0": "evt2", "2": "evt2", "2.1": "evt21"}
_WORD_DTYPES = {"evt3": np.dtype("<u2"), "evt2": np.dtype("<u4"), "evt21": np.dtype("<u8")}
_MAX_EVENTS_PER_WORD = {
    "evt3": codec.EVT3_MAX_EVENTS_PER_WORD,
    "evt2": codec.EVT2_MAX_EVENTS_PER_WORD,
    "evt21": codec.EVT21_MAX_EVENTS_PER_WORD,
}


# ======================================================================================
# header
# ======================================================================================


@dataclass
class RawHeader:
    """What the text header of a RAW file says."""

    fields: dict[str, str]
    data_offset: int  # byte offset of the first event word


def read_header(path: str | os.PathLike) -> RawHeader:
    """Parse the ``% key value`` lines at the start of a RAW file.

    The header ends at ``% end`` or at the first line that is not a printable text line
    starting with ``%`` (binary words may start with the byte ``%`` too).
    """
    fields: dict[str, str] = {}
    offset = 0
    lines = 0
    with open(path, "rb") as f:
        while True:
            if offset > MAX_HEADER_BYTES or lines >= MAX_HEADER_LINES:
                raise FormatError(path, f"text header longer than {MAX_HEADER_LINES} lines or "
                                        f"{MAX_HEADER_BYTES >> 10} KiB: damaged, or not a RAW file", offset)
            line = f.readline(MAX_HEADER_LINE)
            lines += 1
            if not line.startswith(b"%"):
                break
            if not line.endswith(b"\n") and len(line) == MAX_HEADER_LINE:
                break
            try:
                text = line.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                break
            if not text.isprintable():
                break
            offset += len(line)
            content = text[1:].strip()
            if content == "end":
                break
            key, _, value = content.partition(" ")
            if key:
                fields[key] = value.strip()
    return RawHeader(fields, offset)


def _time_origin(path: str, text: str, fmt: str) -> int:
    """Our writers' time origin: a whole number of wrap periods, small enough that every
    decoded time stays inside int64 (a hostile value would wrap timestamps silently)."""
    period = 1 << (24 if fmt == "evt3" else 34)
    try:
        origin = int(text)
    except ValueError:
        origin = None
    if origin is None or abs(origin) > MAX_TIME_ORIGIN_US or origin % period:
        raise FormatError(path, f"bad header line '% {TIME_ORIGIN_KEY} {text[:40]}' (a whole number of "
                                f"{period} us periods within +-2^61 us expected)")
    return origin


def _parse_format_line(value: str) -> tuple[str, dict[str, str]]:
    """``"EVT3;height=720;width=1280"`` -> ``("EVT3", {"height": "720", "width": "1280"})``."""
    name, *options = [part.strip() for part in value.split(";")]
    parsed = {}
    for option in options:
        key, _, val = option.partition("=")
        parsed[key.strip().lower()] = val.strip()
    return name.upper().replace(".", ""), parsed


def _describe_encoding(path: str, fields: dict[str, str]) -> tuple[str, bool, Geometry | None]:
    """(format, EVT 2.1 legacy layout, geometry found in the header or None)."""
    fmt = None
    legacy = False
    geometry = None
    if "format" in fields:
        name, options = _parse_format_line(fields["format"])
        fmt = _FORMAT_NAMES.get(name)
        if fmt is None:
            raise FormatError(path, f"unsupported RAW encoding {name!r} (readable: EVT 2.0, 2.1, 3.0)")
        legacy = options.get("endianness", "").lower() == "legacy"
        if "width" in options or "height" in options:
            try:
                geometry = Geometry(int(options["width"]), int(options["height"]))
            except (KeyError, ValueError):
                raise FormatError(path, f"bad geometry in header line '% format {fields['format']}'") from None
    if "evt" in fields:
        version = _EVT_VERSIONS.get(fields["evt"].strip())
        if fmt is None:
            if version is None:
                raise FormatError(path, f"unsupported RAW encoding '% evt {fields['evt']}' (readable: 2.0, 2.1, 3.0)")
            fmt = version
            legacy = version == "evt21"
        elif version is not None and version != fmt:
            log.warning(
                "%s: header says '%% evt %s' and '%% format %s'; using the format line",
                path,
                fields["evt"],
                fields["format"],
            )
    if fmt is None:
        raise FormatError(path, "no RAW header naming the encoding ('% evt 3.0' or '% format EVT3;...')", 0)
    if geometry is None and "geometry" in fields:
        try:
            geometry = Geometry.parse(fields["geometry"])
        except ValueError:
            raise FormatError(path, f"bad header line '% geometry {fields['geometry']}'") from None
    if geometry is None and "system_ID" in fields:
        try:
            geometry = LEGACY_SYSTEM_GEOMETRY.get(int(fields["system_ID"]))
        except ValueError:
            geometry = None
    return fmt, legacy, geometry


# ======================================================================================
# reader
# ======================================================================================


@register_reader(".raw", ".evt3.raw", ".evt2.raw")
class RawReader(EventReader):
    """Streaming reader of Prophesee RAW files (EVT 2.0, 2.1, 3.0, sniffed from the header)."""

    format = "raw"

    def _open(self) -> None:
        geometry = self.requested_geometry
        try:
            header = read_header(self.path)
        except OSError as exc:
            raise FormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        fmt, self._legacy_evt21, header_geometry = _describe_encoding(self.path, header.fields)
        geom = geometry or header_geometry
        if geom is None:
            system = header.fields.get("system_ID")
            why = f"unknown sensor (system_ID {system})" if system is not None else "the header gives no sensor geometry"
            raise FormatError(self.path, f"{why}: give it with --geometry WxH")
        if geom.width > MAX_RAW_SIZE or geom.height > MAX_RAW_SIZE:
            # RAW coordinates are 11-bit: a larger header is damaged or hostile, and
            # believing it would make every frame buffer gigabytes large
            raise FormatError(self.path, f"sensor geometry {geom} exceeds what RAW encodes "
                              f"({MAX_RAW_SIZE}x{MAX_RAW_SIZE})")
        self._data_offset = header.data_offset
        self._t_origin = _time_origin(self.path, header.fields.get(TIME_ORIGIN_KEY, "0"), fmt)
        self.info = SourceInfo(
            name=self.path,
            format=fmt,
            geometry=geom,
            camera=next((header.fields[k] for k in ("camera", "plugin_name", "sensor_name") if k in header.fields), None),
            serial=header.fields.get("serial_number"),
            header=dict(header.fields),
        )

    #: CD events per data byte, generous (EVT 3.0 camera files hold ~1.2 words of 2 bytes
    #: per event, vector words more; EVT 2.0 one 4-byte word): read_all's buffer is
    #: virtual memory until events reach it
    _EVENTS_PER_BYTE = {"evt3": 0.5, "evt2": 0.25, "evt21": 0.5}

    def estimated_events(self) -> int | None:
        try:
            data = os.path.getsize(self.path) - self._data_offset
        except OSError:
            return None
        return int(max(0, data) * self._EVENTS_PER_BYTE[self.info.format])

    def iter_chunks(self) -> Iterator[Chunk]:
        fmt = self.info.format
        word = _WORD_DTYPES[fmt]
        chunk = min(self.chunk_events, MAX_CHUNK_EVENTS)
        capacity = chunk + _MAX_EVENTS_PER_WORD[fmt]
        width, height = self.info.geometry.width, self.info.geometry.height
        decode = self._kernel()
        state = codec.new_decoder_state()
        self.stats.out_of_bounds = self.stats.unknown_words = self.stats.before_first_time_high = 0

        raw = np.empty(BLOCK_BYTES + word.itemsize, np.uint8)
        pool = PacketPool(capacity)
        out = pool.take()
        triggers = np.empty(TRIGGER_CAPACITY, TRIGGER_DTYPE)
        n_out = n_triggers = 0
        carried = 0  # bytes of a partial word kept from the previous read
        consumed = self._data_offset  # file offset of raw[0]
        with open(self.path, "rb") as f:
            f.seek(self._data_offset)
            view = memoryview(raw)
            while True:
                n_read = f.readinto(view[carried : carried + BLOCK_BYTES])
                if not n_read:
                    break
                total = carried + n_read
                n_words = total // word.itemsize
                words = raw[: n_words * word.itemsize].view(word)
                pos = 0
                while pos < n_words:
                    pos, n_out, n_triggers = decode(
                        words, pos, out, n_out, chunk, triggers, n_triggers, width, height, self._t_origin, state
                    )
                    self._sync_stats(state)
                    if n_out >= chunk or n_triggers == TRIGGER_CAPACITY:
                        full = n_out - n_out % chunk
                        trig = triggers[:n_triggers].copy()
                        n_triggers = 0
                        if full == 0:  # cut short by pending triggers
                            yield Chunk(out[:n_out].copy(), trig)
                            n_out = 0
                            continue
                        # hand ``out`` over to the consumer, keep the tail in another buffer
                        done, out = out, pool.take()
                        out[: n_out - full] = done[full:n_out]
                        for k in range(0, full, chunk):
                            yield Chunk(done[k : k + chunk], trig if k == 0 else _no_triggers())
                        n_out -= full
                used = n_words * word.itemsize
                carried = total - used
                raw[:carried] = raw[used:total]
                consumed += used
        if n_out or n_triggers:
            yield Chunk(out[:n_out], triggers[:n_triggers].copy())
        if carried:
            self._warn_cut_word(word.itemsize, consumed, carried)

    def _warn_cut_word(self, word_size: int, offset: int, stray: int) -> None:
        log.warning("%s: the file ends inside a %d-byte %s word at byte %d (%d stray bytes): a recording "
                    "cut short (a crash or a full disk?); every event before it was read",
                    self.path, word_size, self.info.format.upper(), offset, stray)

    def read_all(self) -> EventPacket:
        """Every CD event of the file in one packet, decoded straight into it.

        The array is sized from the file (:meth:`estimated_events`; pages no event
        reaches are never touched) and grown in place when vector words beat the
        estimate, so no chunk is decoded and then copied: the same events as
        :meth:`iter_chunks` at the speed of decoding alone. Triggers are skipped."""
        fmt = self.info.format
        word = _WORD_DTYPES[fmt]
        per_word = _MAX_EVENTS_PER_WORD[fmt]
        width, height = self.info.geometry.width, self.info.geometry.height
        decode = self._kernel()
        state = codec.new_decoder_state()
        self.stats.out_of_bounds = self.stats.unknown_words = self.stats.before_first_time_high = 0
        out = whole_file_buffer(max(self.estimated_events() or 0, 1 << 16) + per_word)
        raw = np.empty(BLOCK_BYTES + word.itemsize, np.uint8)
        triggers = np.empty(TRIGGER_CAPACITY, TRIGGER_DTYPE)
        n_out = carried = 0
        consumed = self._data_offset
        with open(self.path, "rb") as f:
            f.seek(self._data_offset)
            view = memoryview(raw)
            while n_read := f.readinto(view[carried : carried + BLOCK_BYTES]):
                total = carried + n_read
                n_words = total // word.itemsize
                words = raw[: n_words * word.itemsize].view(word)
                pos = 0
                while pos < n_words:
                    limit = len(out) - per_word
                    pos, n_out, _ = decode(
                        words, pos, out, n_out, limit, triggers, 0, width, height, self._t_origin, state
                    )
                    if n_out >= limit:  # realloc: the kernel remaps pages, nothing is copied
                        out.resize(len(out) + len(out) // 2, refcheck=False)
                used = n_words * word.itemsize
                carried = total - used
                raw[:carried] = raw[used:total]
                consumed += used
        self._sync_stats(state)
        if carried:
            self._warn_cut_word(word.itemsize, consumed, carried)
        out.resize(n_out, refcheck=False)
        return out

    def _kernel(self) -> Callable[..., tuple[int, int, int]]:
        fmt = self.info.format
        if fmt == "evt3":
            return codec.decode_evt3
        if fmt == "evt2":
            return codec.decode_evt2
        return functools.partial(_decode_evt21, bool(self._legacy_evt21))

    def _sync_stats(self, state: np.ndarray) -> None:
        self.stats.out_of_bounds = int(state[codec.ST_OUT_OF_BOUNDS])
        self.stats.unknown_words = int(state[codec.ST_UNKNOWN_WORDS])
        self.stats.before_first_time_high = int(state[codec.ST_BEFORE_FIRST_TIME_HIGH])


def _decode_evt21(legacy: bool, *args: Any) -> tuple[int, int, int]:
    """:func:`codec.decode_evt21` with the reader kernels' common signature."""
    *head, t_origin, state = args
    return codec.decode_evt21(*head, legacy, t_origin, state)  # type: ignore[no-any-return]


def _no_triggers() -> np.ndarray:
    return np.zeros(0, TRIGGER_DTYPE)


# ======================================================================================
# writers
# ======================================================================================


class _RawWriter(EventWriter):
    """Shared streaming machinery of the RAW writers; subclasses name the encoding.

    The header is written with the first packet (or at close), because it records the
    time origin taken from the first event.
    """

    format: ClassVar[str] = ""
    crash_safe = True  # each packet's words reach the file as written; the reader takes a cut tail
    _format_line: ClassVar[str] = ""  # e.g. "EVT3"
    _evt_version: ClassVar[str] = ""  # e.g. "3.0"
    _word: ClassVar[np.dtype] = np.dtype("<u2")
    _max_trigger_id: ClassVar[int] = 0
    _encode: ClassVar[Callable[..., tuple[int, int, int]]]
    _wrap_bits: ClassVar[int] = 0  # log2 of the time-counter period, µs

    def __init__(self, path: str | os.PathLike, geometry: Geometry, *, info: SourceInfo | None = None) -> None:
        super().__init__(path, geometry, info=info)
        if geometry.width > MAX_RAW_SIZE or geometry.height > MAX_RAW_SIZE:
            limit = f"{MAX_RAW_SIZE}x{MAX_RAW_SIZE}"
            raise FormatError(self.path, f"{self._format_line} cannot address a {geometry} sensor (at most {limit})")
        self._state = codec.new_encoder_state()
        self._buffer = np.empty(ENCODE_BUFFER_WORDS, self._word)
        self._t_origin: int | None = None  # set by the first event or trigger
        self.n_triggers_written = 0
        try:
            self._file: BinaryIO | None = open(self.path, "wb")
        except OSError as exc:
            raise FormatError(self.path, f"cannot create: {exc.strerror or exc}") from None

    def _header_text(self) -> str:
        w, h = self.geometry.width, self.geometry.height
        lines = [
            f"evt {self._evt_version}",
            f"format {self._format_line};height={h};width={w}",
            f"geometry {w}x{h}",
            "generator ezsr-live",
        ]
        if self._t_origin:
            lines.append(f"{TIME_ORIGIN_KEY} {self._t_origin}")
        if self.source_info is not None:
            if self.source_info.camera:
                lines.append(f"camera {_one_line(self.source_info.camera)}")
            if self.source_info.serial:
                lines.append(f"serial_number {_one_line(self.source_info.serial)}")
        lines.append("end")
        return "".join(f"% {line}\n" for line in lines)

    def write(self, events: EventPacket) -> None:
        """Append CD events, in the order given (any time order; see the module docstring)."""
        events = as_event_packet(events, source=self.path)
        if len(events) == 0:
            return
        t, x, y, p = events["t"], events["x"], events["y"], events["p"]
        self._check_polarity(p)
        if int(x.max()) >= self.geometry.width or int(y.max()) >= self.geometry.height:
            bad = int(np.flatnonzero((x >= self.geometry.width) | (y >= self.geometry.height))[0])
            raise FormatError(
                self.path,
                f"event {self.n_written + bad} at ({int(x[bad])}, {int(y[bad])}) lies outside the {self.geometry} sensor",
            )
        self._encode_all(t, x, y, p, False)

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append external-trigger words at this point of the stream."""
        triggers = np.asarray(triggers)
        if triggers.dtype != TRIGGER_DTYPE:
            raise TypeError(f"expected a TRIGGER_DTYPE array, got {triggers.dtype}")
        if len(triggers) == 0:
            return
        t, ids, p = triggers["t"], triggers["id"], triggers["p"]
        self._check_polarity(p)
        if int(ids.max()) > self._max_trigger_id:
            raise FormatError(
                self.path, f"trigger id {int(ids.max())} does not fit {self._format_line} (at most {self._max_trigger_id})"
            )
        self._encode_all(t, ids, ids, p, True)

    def _check_polarity(self, p: np.ndarray) -> None:
        if p.min() < 0 or p.max() > 1:
            raise FormatError(self.path, "polarity must be 0 (OFF) or 1 (ON)")

    def _start(self, first_t: int) -> BinaryIO:
        if self._file is None:
            raise FormatError(self.path, "write after close")
        if self._t_origin is None:
            if abs(first_t) > MAX_TIME_ORIGIN_US:
                raise FormatError(self.path, f"time {first_t} us is beyond what a RAW file records (+-2^61 us)")
            # a whole number of wrap periods: the words are those of the unshifted times
            self._t_origin = (first_t >> self._wrap_bits) << self._wrap_bits
            self._file.write(self._header_text().encode("utf-8"))
        return self._file

    def _encode_all(self, t: np.ndarray, a: np.ndarray, b: np.ndarray, p: np.ndarray, is_trigger: bool) -> None:
        f = self._start(int(t[0]))
        encode = type(self)._encode
        start = 0
        while True:
            start, n_words, status = encode(t, a, b, p, is_trigger, start, self._t_origin, self._buffer, self._state)
            f.write(memoryview(self._buffer[:n_words]).cast("B"))
            if status == codec.ENC_OK:
                break
            if status != codec.ENC_OUTPUT_FULL:
                self._count(start, is_trigger)
                what = f"{'trigger' if is_trigger else 'event'} {start} of this packet (t={int(t[start])} µs)"
                if status == codec.ENC_TOO_FAR_AHEAD:
                    problem = (
                        f"{what} jumps too far ahead for {self._format_line} "
                        f"(more than {codec.MAX_TIME_HIGH_WALK} TIME_HIGH words)"
                    )
                else:
                    problem = (
                        f"{what} goes back into an earlier 2^{self._wrap_bits} µs time period, "
                        f"which {self._format_line} cannot represent"
                    )
                raise FormatError(self.path, problem)
        self._count(len(t), is_trigger)

    def _count(self, n: int, is_trigger: bool) -> None:
        if is_trigger:
            self.n_triggers_written += n
        else:
            self.n_written += n

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def abort(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass  # what the buffer held cannot be written either

    def close(self) -> None:
        if self._file is not None:
            if self._t_origin is None:  # nothing written: header only
                self._t_origin = 0
                self._file.write(self._header_text().encode("utf-8"))
            self._file.close()
            self._file = None


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


@register_writer(".raw", ".evt3.raw")
class Evt3Writer(_RawWriter):
    """EVT 3.0 RAW writer (the default for ``.raw``): plain TIME_HIGH / TIME_LOW / ADDR_Y /
    ADDR_X words, at most 2 + 2 bytes per event (2 when row and time repeat)."""

    format = "evt3"
    _format_line = "EVT3"
    _evt_version = "3.0"
    _word = np.dtype("<u2")
    _max_trigger_id = 0xF
    _encode = staticmethod(codec.encode_evt3)
    _wrap_bits = codec.EVT3_HIGH_BITS + codec.EVT3_LOW_BITS


@register_writer(".evt2.raw")
class Evt2Writer(_RawWriter):
    """EVT 2.0 RAW writer: one 32-bit CD word per event plus TIME_HIGH words every 64 µs."""

    format = "evt2"
    _format_line = "EVT2"
    _evt_version = "2.0"
    _word = np.dtype("<u4")
    _max_trigger_id = 0x1F
    _encode = staticmethod(codec.encode_evt2)
    _wrap_bits = codec.EVT2_HIGH_BITS + codec.EVT2_LOW_BITS
