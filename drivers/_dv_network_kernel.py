"""The Numba kernel that validates and decodes uncompressed DV event packets (the
format is described in :mod:`._dv_network_codec`, whose ``SCAN_*`` codes it returns)."""
from __future__ import annotations

import numpy as np
from numba import njit

from ._dv_network_codec import (
    DV_EVENT_BYTES,
    MAX_PACKET_BYTES,
    SCAN_BAD_IDENTIFIER,
    SCAN_BAD_LAYOUT,
    SCAN_BAD_PREFIX,
    SCAN_BAD_SIZE,
    SCAN_NEED_MORE,
    SCAN_OTHER_STREAM,
    SCAN_OUTPUT_FULL,
    SCAN_TOO_SHORT,
)

_OK = -1  # _event_vector found a valid packet


@njit(nogil=True, cache=True, inline="always")
def _u16(b, i):
    return np.int64(b[i]) | (np.int64(b[i + 1]) << 8)


@njit(nogil=True, cache=True, inline="always")
def _u32(b, i):
    return np.int64(b[i]) | (np.int64(b[i + 1]) << 8) | (np.int64(b[i + 2]) << 16) | (np.int64(b[i + 3]) << 24)


@njit(nogil=True, cache=True, inline="always")
def _i32(b, i):
    v = _u32(b, i)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@njit(nogil=True, cache=True)
def _event_vector(b, body, size):
    """(status, detail, vector position, event count) of the EventPacket at b[body:body+size]."""
    if size < 12:
        return SCAN_TOO_SHORT, size, 0, 0
    prefix = _u32(b, body)
    if prefix < 8 or prefix > size - 4:
        return SCAN_BAD_PREFIX, prefix, 0, 0
    fb = body + 4
    end = fb + prefix
    if b[fb + 4] != 69 or b[fb + 5] != 86 or b[fb + 6] != 84 or b[fb + 7] != 83:  # "EVTS"
        return SCAN_BAD_IDENTIFIER, _u32(b, fb + 4), 0, 0
    table = fb + _u32(b, fb)
    if table < fb + 8 or table > end - 4:
        return SCAN_BAD_LAYOUT, 0, 0, 0  # the table
    vtable = table - _i32(b, table)
    if vtable < fb or vtable > end - 4:
        return SCAN_BAD_LAYOUT, 1, 0, 0  # the vtable
    vt_size = _u16(b, vtable)
    obj_size = _u16(b, vtable + 2)
    if vt_size < 4 or vtable + vt_size > end or obj_size < 4 or table + obj_size > end:
        return SCAN_BAD_LAYOUT, 1, 0, 0
    field = _u16(b, vtable + 4) if vt_size >= 6 else 0
    if field == 0:
        return _OK, 0, 0, 0  # no elements: an empty packet
    if field + 4 > obj_size:
        return SCAN_BAD_LAYOUT, 0, 0, 0
    at = table + field
    vector = at + _u32(b, at)
    if vector > end - 4:
        return SCAN_BAD_LAYOUT, 2, 0, 0  # the event vector
    n = _u32(b, vector)
    if n * DV_EVENT_BYTES > end - vector - 4:
        return SCAN_BAD_LAYOUT, 2, 0, 0
    return _OK, 0, vector + 4, n


@njit(nogil=True, cache=True)
def scan_packets(b, pos, end, stream_id, max_packet, width, height, out, n_out):
    """Validate and decode the complete event packets of stream ``stream_id`` in
    ``b[pos:end]`` (uint8) into ``out[n_out:]`` (EVENT_DTYPE), dropping events outside
    ``width`` x ``height``.

    Stops before the first packet it cannot take whole (status and detail say why, see
    ``SCAN_*``) and returns ``(status, detail, pos, n_out, dropped)``, ``pos`` at that
    packet. Every offset read from the data is checked against the packet it lies in
    before it is used.
    """
    cap = out.shape[0]
    dropped = 0
    while True:
        if end - pos < 8:
            return SCAN_NEED_MORE, 8, pos, n_out, dropped
        sid = _i32(b, pos)
        size = _i32(b, pos + 4)
        if size <= 0 or size > max_packet:
            return SCAN_BAD_SIZE, size, pos, n_out, dropped
        if end - pos - 8 < size:
            return SCAN_NEED_MORE, 8 + size, pos, n_out, dropped
        if sid != stream_id:
            return SCAN_OTHER_STREAM, sid, pos, n_out, dropped
        status, detail, vector, n = _event_vector(b, pos + 8, size)
        if status != _OK:
            return status, detail, pos, n_out, dropped
        if n_out + n > cap:
            return SCAN_OUTPUT_FULL, n, pos, n_out, dropped
        # typed views of the (checked) event vector: one load per field, not per byte
        vector_bytes = b[vector:vector + DV_EVENT_BYTES * n]
        times = vector_bytes.view(np.int64)
        coords = vector_bytes.view(np.int16)
        for k in range(n):
            x = np.int64(coords[8 * k + 4])
            y = np.int64(coords[8 * k + 5])
            ev = out[n_out]
            ev["t"] = times[2 * k]
            ev["x"] = x
            ev["y"] = y
            ev["p"] = 1 if vector_bytes[DV_EVENT_BYTES * k + 12] else 0
            inside = np.int64(0 <= x < width) & np.int64(0 <= y < height)
            n_out += inside  # written either way, kept when inside: no branch per event
            dropped += 1 - inside
        pos += 8 + size


def warm_up() -> None:
    """Load the kernel (from Numba's cache: about a second of CPU the first time in a
    process), so that the first packets do not wait for it."""
    from ezsr_live.events import EVENT_DTYPE

    scan_packets(np.zeros(8, np.uint8), 0, 8, 0, MAX_PACKET_BYTES, 1, 1, np.empty(1, EVENT_DTYPE), 0)
