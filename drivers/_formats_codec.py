"""Numba kernels that decode the fixed-record recording formats.

Each kernel is a pure function over a block of raw file bytes (or little-endian
32-bit words) that writes decoded CD events into a caller-allocated packet of
:data:`ezsr_live.events.EVENT_DTYPE` and returns counters. Kernels never write past
``out``: the caller sizes ``out`` to the number of records in the block, and events
whose coordinates fall outside ``width`` x ``height`` are dropped and counted
instead of written.

Stateful decoding (the ATIS time-overflow offset) is carried across blocks by
passing the state in and getting it back, so that readers can stream a file in
bounded blocks.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: y address that the ATIS (N-MNIST / N-Caltech101) recorder uses for a time-overflow
#: marker instead of a CD event; each one adds ``ATIS_OVERFLOW_INCREMENT_US`` to the
#: timestamps of every later event. 240 is one row past the 304x240 ATIS array.
ATIS_OVERFLOW_Y = 240
ATIS_OVERFLOW_INCREMENT_US = 1 << 13

#: DVS128 (jAER AEDAT 2.0) address bits that flag a non-CD event: bit 15 is the
#: external/sync input event, bit 31 the generic jAER "special event" flag.
AEDAT2_SPECIAL_MASK = 0x80008000


@njit(nogil=True, cache=True)
def dat_max_xy(words: np.ndarray) -> tuple[int, int]:
    """Largest x and y over .dat records (``words`` = pairs of ``<u4 t, <u4 w``);
    (-1, -1) when there are none."""
    max_x = -1
    max_y = -1
    for i in range(words.shape[0] // 2):
        w = words[2 * i + 1]
        x = np.int64(w & 0x3FFF)
        y = np.int64((w >> 14) & 0x3FFF)
        if x > max_x:
            max_x = x
        if y > max_y:
            max_y = y
    return max_x, max_y


@njit(nogil=True, cache=True)
def decode_dat(words: np.ndarray, width: int, height: int, out: np.ndarray) -> tuple[int, int]:
    """Decode .dat records into ``out`` (len >= records); returns (written, out_of_bounds).

    Record layout: ``t = words[2i]``; ``w = words[2i+1]`` with x = w & 0x3FFF,
    y = (w >> 14) & 0x3FFF, p = (w >> 28) & 1.
    """
    n = 0
    oob = 0
    for i in range(min(words.shape[0] // 2, out.shape[0])):
        w = words[2 * i + 1]
        x = np.int64(w & 0x3FFF)
        y = np.int64((w >> 14) & 0x3FFF)
        if x >= width or y >= height:
            oob += 1
            continue
        out[n].t = np.int64(words[2 * i])
        out[n].x = x
        out[n].y = y
        out[n].p = np.int64((w >> 28) & 1)
        n += 1
    return n, oob


@njit(nogil=True, cache=True)
def atis_max_xy(buf: np.ndarray) -> tuple[int, int]:
    """Largest x and y over ATIS 5-byte records, ignoring time-overflow markers;
    (-1, -1) when there are none."""
    max_x = -1
    max_y = -1
    for i in range(buf.shape[0] // 5):
        y = np.int64(buf[5 * i + 1])
        if y == ATIS_OVERFLOW_Y:
            continue
        x = np.int64(buf[5 * i])
        if x > max_x:
            max_x = x
        if y > max_y:
            max_y = y
    return max_x, max_y


@njit(nogil=True, cache=True)
def decode_atis(
    buf: np.ndarray, width: int, height: int, time_offset: int, out: np.ndarray
) -> tuple[int, int, int, int]:
    """Decode ATIS 5-byte records into ``out``.

    x = b0, y = b1, p = b2 >> 7, t = ((b2 & 0x7F) << 16 | b3 << 8 | b4) + time_offset.
    A record with y == 240 is a time-overflow marker: it is not an event and adds
    2**13 µs to ``time_offset``. Returns (written, out_of_bounds, overflow_markers,
    time_offset to pass to the next block).
    """
    n = 0
    oob = 0
    overflows = 0
    for i in range(min(buf.shape[0] // 5, out.shape[0])):
        b = 5 * i
        y = np.int64(buf[b + 1])
        if y == ATIS_OVERFLOW_Y:
            overflows += 1
            time_offset += ATIS_OVERFLOW_INCREMENT_US
            continue
        x = np.int64(buf[b])
        if x >= width or y >= height:
            oob += 1
            continue
        b2 = np.int64(buf[b + 2])
        out[n].t = ((b2 & 0x7F) << 16 | np.int64(buf[b + 3]) << 8 | np.int64(buf[b + 4])) + time_offset
        out[n].x = x
        out[n].y = y
        out[n].p = b2 >> 7
        n += 1
    return n, oob, overflows, time_offset


@njit(nogil=True, cache=True)
def decode_aedat2_dvs128(buf: np.ndarray, width: int, height: int, out: np.ndarray) -> tuple[int, int, int]:
    """Decode AEDAT 2.0 DVS128 records (big-endian ``u32 address, u32 timestamp``).

    xr = (a & 0xFE) >> 1, yr = (a & 0x7F00) >> 8, pr = a & 1;
    x = 127 - yr, y = 127 - xr, p = 1 - pr. Records with a special/external flag
    (bit 15 or bit 31) are skipped. Returns (written, out_of_bounds, special).
    """
    n = 0
    oob = 0
    special = 0
    for i in range(min(buf.shape[0] // 8, out.shape[0])):
        b = 8 * i
        a = (np.int64(buf[b]) << 24) | (np.int64(buf[b + 1]) << 16) | (np.int64(buf[b + 2]) << 8) | np.int64(buf[b + 3])
        if a & AEDAT2_SPECIAL_MASK:
            special += 1
            continue
        x = 127 - ((a & 0x7F00) >> 8)
        y = 127 - ((a & 0xFE) >> 1)
        if x >= width or y >= height:
            oob += 1
            continue
        out[n].t = (np.int64(buf[b + 4]) << 24) | (np.int64(buf[b + 5]) << 16) | (np.int64(buf[b + 6]) << 8) | np.int64(buf[b + 7])
        out[n].x = x
        out[n].y = y
        out[n].p = 1 - (a & 1)
        n += 1
    return n, oob, special
