"""In-process decoding of AEDAT 4 packets for :mod:`.aedat4`: LZ4 frames (through
python-lz4's block decoder, ``LZ4_decompress_safe``), dv's event and trigger
flatbuffers, and the conversion to :data:`~ezsr_live.events.EVENT_DTYPE`.

Every size read from the file is checked before it is used: offsets against the
buffer, block sizes against the frame's block size, a packet's decompressed size
against :data:`MAX_PACKET_BYTES`. Damage raises :class:`PacketError` with a reason
(the reader adds the file and the packet's offset); nothing here can loop without
consuming input. The numba kernels check their own indices (numba does not).
"""
from __future__ import annotations

import struct

import lz4.block
import numpy as np
from numba import njit

from ezsr_live.events import TRIGGER_DTYPE

#: a packet (compressed or decompressed) larger than this is refused: dv writes
#: packets of a few thousand events (10,000 at most from its writer), about 160 KB
MAX_PACKET_BYTES = 256 << 20

#: dv's flatbuffer ``Event`` struct: int64 t, int16 x, int16 y, bool on, 3 padding bytes
DV_EVENT_DTYPE = np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                           "offsets": [0, 8, 10, 12], "itemsize": 16})

_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")
_LZ4_MAGIC = 0x184D2204
_LZ4_WINDOW = 64 << 10


class PacketError(ValueError):
    """A packet's content cannot be decoded (the message says why)."""


class Scratch:
    """A growable byte buffer reused from packet to packet (at most MAX_PACKET_BYTES)."""

    def __init__(self, size: int = 1 << 20) -> None:
        self.array = np.empty(size, np.uint8)

    def reserve(self, n: int, keep: int = 0) -> memoryview:
        if n > MAX_PACKET_BYTES:
            raise PacketError(f"packet decompresses to more than {MAX_PACKET_BYTES >> 20} MiB")
        if n > len(self.array):
            grown = np.empty(min(MAX_PACKET_BYTES, max(n, 2 * len(self.array))), np.uint8)
            grown[:keep] = self.array[:keep]
            self.array = grown
        return memoryview(self.array)


def lz4_frame_decode(payload: memoryview, out: Scratch) -> int:
    """Decompress the one LZ4 frame ``payload`` into ``out.array``; returns its size.

    dv writes frames of linked 64 KB blocks without content size or checksums; the
    other frame options are read too (checksums are skipped, not verified)."""
    stop = len(payload)
    if stop < 7 or _U32.unpack_from(payload, 0)[0] != _LZ4_MAGIC:
        raise PacketError("LZ4 frame lacks its magic number")
    flg, bd = payload[4], payload[5]
    size_code = (bd >> 4) & 7
    if flg >> 6 != 1 or flg & 0x03 or bd & 0x8F or size_code < 4:
        raise PacketError(f"LZ4 frame descriptor is invalid (FLG {flg:#04x}, BD {bd:#04x})")
    block_max = 1 << (8 + 2 * size_code)
    linked = not (flg >> 5) & 1
    block_checksum = 4 if (flg >> 4) & 1 else 0
    ip = 7 + (8 if (flg >> 3) & 1 else 0)
    op = 0
    view = out.reserve(block_max)
    while True:
        if stop - ip < 4:
            raise PacketError("LZ4 frame is truncated (no end mark)")
        (word,) = _U32.unpack_from(payload, ip)
        ip += 4
        if word == 0:
            break
        size = word & 0x7FFFFFFF
        if size > block_max or size + block_checksum > stop - ip:
            raise PacketError(f"LZ4 block of {size} bytes does not fit its frame")
        view = out.reserve(op + block_max, keep=op)
        if word & 0x80000000:  # stored uncompressed
            view[op:op + size] = payload[ip:ip + size]
            op += size
        else:
            try:
                if linked and op:
                    block = lz4.block.decompress(payload[ip:ip + size], uncompressed_size=block_max,
                                                 dict=view[max(0, op - _LZ4_WINDOW):op])
                else:
                    block = lz4.block.decompress(payload[ip:ip + size], uncompressed_size=block_max)
            except lz4.block.LZ4BlockError:
                raise PacketError("LZ4 block is corrupt") from None
            view[op:op + len(block)] = block
            op += len(block)
        ip += size + block_checksum
    ip += 4 if (flg >> 2) & 1 else 0  # content checksum
    if ip != stop:
        raise PacketError("LZ4 frame is truncated" if ip > stop else "bytes follow the LZ4 frame's end")
    return op


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


@njit(nogil=True, cache=True)
def convert_events(raw: np.ndarray, start: int, stop: int, width: int, height: int,
                   out: np.ndarray, at: int) -> int:
    """Copy ``raw[start:stop]`` (DV_EVENT_DTYPE) into ``out[at:]`` as EVENT_DTYPE,
    dropping events outside ``width`` x ``height``; returns how many were written.
    The caller guarantees ``stop <= len(raw)`` and ``at + stop - start <= len(out)``."""
    n = at
    for i in range(start, stop):
        x = np.int64(raw[i].x)
        y = np.int64(raw[i].y)
        if 0 <= x < width and 0 <= y < height:
            out[n].t = raw[i].t
            out[n].x = x
            out[n].y = y
            out[n].p = 1 if raw[i].on else 0
            n += 1
    return n - at


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
