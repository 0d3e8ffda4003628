"""In-process decoding of AEDAT 4 packets for :mod:`.aedat4`: dv's event and trigger
flatbuffers after their LZ4 frame (:mod:`._lz4_frame`), and the conversion to
:data:`~ezsr_live.events.EVENT_DTYPE`.

An event packet is one numba call (:func:`decode_event_packet`): LZ4 frame, the
flatbuffer's root table, vtable and ``elements`` vector, and the copy of dv's 16-byte
event structs into our packed records, dropping out-of-geometry events; Python only
frames the file and hands over the packet bytes. Every offset read from a packet is
checked against the packet before it is used; damage raises :class:`PacketError` with
a reason (the reader adds the file and the packet's offset). The numba kernels check
their own indices (numba does not).
"""
from __future__ import annotations

import struct

import numpy as np
from numba import njit

from ezsr_live.events import TRIGGER_DTYPE

from ._lz4_frame import (
    HAVE_LZ4_KERNEL,
    LZ4_ERRORS,
    LZ4_NEED_ROOM,
    LZ4_OK,
    MAX_PACKET_BYTES,
    PacketError,
    Scratch,
    i32_at,
    i64_at,
    lz4_frame,
    lz4_frame_decode,
    u16_at,
    u32_at,
)

__all__ = ["DV_EVENT_DTYPE", "MAX_PACKET_BYTES", "PacketError", "Scratch", "convert_events",
           "decode_event_packet", "decode_triggers", "elements_vector", "lz4_frame_decode"]

#: dv's flatbuffer ``Event`` struct: int64 t, int16 x, int16 y, bool on, 3 padding bytes
DV_EVENT_DTYPE = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                           "offsets": [0, 8, 10, 12], "itemsize": 16})

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")


def _table(buf: memoryview, n: int, identifier: bytes) -> tuple[int, int, int]:
    """Root table of the size-prefixed flatbuffer ``buf[:n]``: (table, vtable, vtable size)."""
    if n < 12 or bytes(buf[8:12]) != identifier:
        raise PacketError(f"packet is not a {identifier.decode()} flatbuffer")
    table = 4 + _U32.unpack_from(buf, 4)[0]
    if table + 4 > n:
        raise PacketError("flatbuffer root lies outside the packet")
    vtable = table - _I32.unpack_from(buf, table)[0]
    if not 0 <= vtable <= n - 4:
        raise PacketError("flatbuffer vtable lies outside the packet")
    (vtable_size,) = _U16.unpack_from(buf, vtable)
    if vtable_size < 4 or vtable + vtable_size > n:
        raise PacketError("flatbuffer vtable is damaged")
    return table, vtable, vtable_size


def elements_vector(buf: memoryview, n: int, identifier: bytes, item_size: int) -> tuple[int, int]:
    """(position of the first element, count) of field 0 (``elements``) of the packet."""
    table, vtable, vtable_size = _table(buf, n, identifier)
    if vtable_size < 6:
        return 0, 0
    (field,) = _U16.unpack_from(buf, vtable + 4)
    if field == 0:
        return 0, 0
    at = table + field
    if at + 4 > n:
        raise PacketError("flatbuffer field lies outside the packet")
    vector = at + _U32.unpack_from(buf, at)[0]
    if vector + 4 > n:
        raise PacketError("flatbuffer vector lies outside the packet")
    (count,) = _U32.unpack_from(buf, vector)
    if count > (n - vector - 4) // item_size:
        raise PacketError(f"flatbuffer vector of {count} elements overruns the packet")
    return vector + 4, count


# status codes of _event_packet beyond the LZ4 ones (PacketError messages below)
_FLATBUFFER_ERRORS = {
    20: "packet is not a EVTS flatbuffer",
    21: "flatbuffer root lies outside the packet",
    22: "flatbuffer vtable lies outside the packet",
    23: "flatbuffer vtable is damaged",
    24: "flatbuffer field lies outside the packet",
    25: "flatbuffer vector lies outside the packet",
    26: "flatbuffer vector of {} elements overruns the packet",
}
_EVTS = 0x53545645  # b"EVTS" as a little-endian u32


@njit(nogil=True, cache=True, inline="always")
def _elements(buf, n):
    """:func:`elements_vector` of an EVTS packet in numba: ``(status, first, count)``."""
    if n < 12 or u32_at(buf, 8) != _EVTS:
        return 20, 0, 0
    table = 4 + u32_at(buf, 4)
    if table + 4 > n:
        return 21, 0, 0
    vtable = table - i32_at(buf, table)
    if vtable < 0 or vtable > n - 4:
        return 22, 0, 0
    vtable_size = u16_at(buf, vtable)
    if vtable_size < 4 or vtable + vtable_size > n:
        return 23, 0, 0
    if vtable_size < 6:
        return 0, 0, 0
    field = u16_at(buf, vtable + 4)
    if field == 0:
        return 0, 0, 0
    at = table + field
    if at + 4 > n:
        return 24, 0, 0
    vector = at + u32_at(buf, at)
    if vector + 4 > n:
        return 25, 0, 0
    count = u32_at(buf, vector)
    if count > (n - vector - 4) // 16:
        return 26, count, 0
    return 0, vector + 4, count


@njit(nogil=True, cache=True, inline="always")
def _copy_events(buf, first, start, stop, width, height, out, at):
    """Events ``start:stop`` of the dv event vector at byte ``first`` of ``buf`` into
    ``out[at:]``; returns how many were inside the geometry (the caller checked that
    the vector lies in ``buf`` and that ``out`` has ``stop - start`` rows free)."""
    m = at
    for i in range(start, stop):
        b = first + 16 * i
        word = i64_at(buf, b + 8)  # x: int16, y: int16, on: bool, padding
        x = (word << 48) >> 48
        y = (word << 32) >> 48
        if 0 <= x < width and 0 <= y < height:
            ev = out[m]
            ev["t"] = i64_at(buf, b)
            ev["x"] = x
            ev["y"] = y
            ev["p"] = 1 if (word >> 32) & 0xFF else 0
            m += 1
    return m - at


@njit(nogil=True, cache=True)
def _event_packet(packet, n, compressed, plain, width, height, out, at):
    """Decode the events packet ``packet[:n]`` (through ``plain`` when ``compressed``)
    into ``out[at:]``, as many as fit: ``(status, detail, first, count, taken, kept)``
    with ``first``/``count`` the event vector in the decoded buffer, ``taken`` the
    events converted and ``kept`` those inside the geometry."""
    buf = packet
    size = n
    if compressed:
        status, value = lz4_frame(packet, n, plain)
        if status != LZ4_OK:
            return status, value, 0, 0, 0, 0
        buf = plain
        size = value
    status, first, count = _elements(buf, size)
    if status:
        return status, first, 0, 0, 0, 0
    taken = min(count, out.shape[0] - at)
    kept = _copy_events(buf, first, 0, taken, width, height, out, at)
    return 0, 0, first, count, taken, kept


def decode_event_packet(packet: Scratch, n: int, compressed: bool, plain: Scratch, width: int, height: int,
                        out: np.ndarray, at: int) -> tuple[np.ndarray, int, int, int, int]:
    """Decode an events packet into ``out[at:]`` (as many events as fit).

    Returns ``(buffer, first, count, taken, kept)``: the decoded packet (``plain`` or
    ``packet``), its event vector's byte position and length, the events converted and
    those kept (inside ``width`` x ``height``); :func:`convert_events` converts the
    rest (``taken:count``) once ``out`` has room again."""
    if compressed and not HAVE_LZ4_KERNEL:
        n = lz4_frame_decode(packet.array, n, plain)
        compressed = False
        packet = plain
    status, detail, first, count, taken, kept = _event_packet(
        packet.array, n, compressed, plain.array, width, height, out, at)
    if status == LZ4_NEED_ROOM:
        plain.reserve(detail)
        status, detail, first, count, taken, kept = _event_packet(
            packet.array, n, compressed, plain.array, width, height, out, at)
    if status:
        if status in _FLATBUFFER_ERRORS:
            raise PacketError(_FLATBUFFER_ERRORS[status].format(detail))
        raise PacketError(LZ4_ERRORS[status].format(detail >> 8, detail & 0xFF, detail))
    return (plain.array if compressed else packet.array), first, count, taken, kept


@njit(nogil=True, cache=True)
def convert_events(buf: np.ndarray, first: int, start: int, stop: int, width: int, height: int,
                   out: np.ndarray, at: int) -> int:
    """Events ``start:stop`` of a checked event vector (from :func:`decode_event_packet`)
    into ``out[at:]``; returns how many were inside the geometry. The caller
    guarantees ``out`` has ``stop - start`` rows free."""
    return _copy_events(buf, first, start, stop, width, height, out, at)


@njit(nogil=True, cache=True, inline="always")
def _le(buf: np.ndarray, i: int, size: int) -> int:
    v = np.int64(0)
    for k in range(size):
        v |= np.int64(buf[i + k]) << (8 * k)
    return v


#: dv ``TriggerSource`` -> (id, p) of TRIGGER_DTYPE, as the dv-processing path maps
#: them (external signal edges id 0, signal generator edges id 1); others skipped
_SOURCE_ID = np.array([-1, 0, 0, 0, 1, 1, -1, -1, -1, -1], np.int8)
_SOURCE_P = np.array([0, 1, 0, 1, 1, 0, 0, 0, 0, 0], np.int8)


@njit(nogil=True, cache=True)
def _triggers(buf: np.ndarray, n: int, first: int, count: int, source_id: np.ndarray,
              source_p: np.ndarray, out: np.ndarray) -> int:
    """Trigger tables of a TriggerPacket into ``out``; returns the number kept, or -1
    where an offset leaves the packet."""
    kept = 0
    for i in range(count):
        at = first + 4 * i  # the caller checked that the offsets vector fits
        table = at + _le(buf, at, 4)
        if table + 4 > n:
            return -1
        soffset = _le(buf, table, 4)
        if soffset >= 1 << 31:
            soffset -= 1 << 32
        vtable = table - soffset
        if vtable < 0 or vtable + 4 > n:
            return -1
        vtable_size = _le(buf, vtable, 2)
        if vtable + vtable_size > n:
            return -1
        t = np.int64(0)
        source = 0
        if vtable_size >= 6:
            field = _le(buf, vtable + 4, 2)
            if field:
                if table + field + 8 > n:
                    return -1
                t = _le(buf, table + field, 8)
        if vtable_size >= 8:
            field = _le(buf, vtable + 6, 2)
            if field:
                if table + field + 1 > n:
                    return -1
                source = buf[table + field]
        if source >= len(source_id) or source_id[source] < 0:
            continue
        out[kept].t = t
        out[kept].id = source_id[source]
        out[kept].p = source_p[source]
        kept += 1
    return kept


def decode_triggers(buf: np.ndarray, n: int) -> np.ndarray:
    """The kept triggers of the TriggerPacket ``buf[:n]``, as TRIGGER_DTYPE."""
    first, count = elements_vector(memoryview(buf), n, b"TRIG", 4)
    out = np.empty(count, TRIGGER_DTYPE)
    kept = _triggers(buf, n, first, count, _SOURCE_ID, _SOURCE_P, out) if count else 0
    if kept < 0:
        raise PacketError("trigger table lies outside the packet")
    return out[:kept]
