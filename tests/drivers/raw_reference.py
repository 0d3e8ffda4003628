"""A plain reference decoder of Prophesee RAW EVT 3.0 and EVT 2.0, written from Prophesee's
public format description and OpenEB's time rules, word by word, for the tests only.

Time rules (OpenEB): an EVT 3.0 TIME_HIGH lower than the previous one by ``wrap_drop``
units or more is one wrap of 2^24 µs, and a TIME_HIGH that changes the value zeroes the
12 low bits until the next TIME_LOW; an EVT 2.0 TIME_HIGH lower than the previous one by
``wrap_drop`` units or more is one wrap of 2^34 µs. OpenEB's decoders use
``OPENEB_EVT3_WRAP_DROP`` / ``OPENEB_EVT2_WRAP_DROP``; Prophesee's sample decoders in the
format documentation wait for a drop of nearly the whole range (``SAMPLE_*``). A file
any conforming reader can read gives the same events under every threshold.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OPENEB_EVT3_WRAP_DROP = 2048  # OpenEB hal evt3 decoder: high >= 2^11 + new high
SAMPLE_EVT3_WRAP_DROP = (1 << 12) - 1 - 10  # MaxTimestampBase - LoopThreshold, in 4096 µs units
_EVT2_MAX = ((1 << 28) - 1) << 6
OPENEB_EVT2_WRAP_DROP_US = _EVT2_MAX - 10_000  # OpenEB hal evt2 decoder, in µs
SAMPLE_EVT2_WRAP_DROP_US = _EVT2_MAX - (10 << 6)


def words_of(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """The data words after the ``%`` header, and the header's ``key value`` lines."""
    data = path.read_bytes()
    header: dict[str, str] = {}
    pos = 0
    while data.startswith(b"%", pos):
        end = data.index(b"\n", pos)
        line = data[pos + 1:end].decode().strip()
        pos = end + 1
        key, _, value = line.partition(" ")
        header[key] = value
        if line == "end":
            break
    kind = header.get("evt", "")
    dtype = "<u2" if kind.startswith("3") else "<u4"
    return np.frombuffer(data[pos:], dtype=dtype), header


def decode_evt3(words: np.ndarray, wrap_drop: int = OPENEB_EVT3_WRAP_DROP) -> list[tuple[int, int, int, int]]:
    """(t, x, y, p) of the CD events (ADDR_X and vectors), before-first-TIME_HIGH dropped."""
    out = []
    high = low = loops = 0
    have_high = False
    y = base_x = pol = 0
    for w in words.tolist():
        kind, payload = w >> 12, w & 0xFFF
        if kind == 0x8:
            if have_high:
                if high - payload >= wrap_drop:
                    loops += 1
                if payload != high:
                    low = 0
            high, have_high = payload, True
        elif kind == 0x6:
            low = payload
        elif kind == 0x0:
            y = payload & 0x7FF
        elif kind == 0x2 and have_high:
            out.append(((loops << 24) | (high << 12) | low, payload & 0x7FF, y, payload >> 11))
        elif kind == 0x3:
            base_x, pol = payload & 0x7FF, payload >> 11
        elif kind in (0x4, 0x5):
            bits = 12 if kind == 0x4 else 8
            if have_high:
                for k in range(bits):
                    if payload >> k & 1:
                        out.append(((loops << 24) | (high << 12) | low, base_x + k, y, pol))
            base_x += bits
    return out


def decode_evt2(words: np.ndarray, wrap_drop_us: int = OPENEB_EVT2_WRAP_DROP_US) -> list[tuple[int, int, int, int]]:
    out = []
    base = None  # µs, loops included
    loops = 0
    for w in words.tolist():
        kind = w >> 28
        if kind == 0x8:
            new = ((w & 0xFFFFFFF) << 6) + loops * (_EVT2_MAX + 64)
            if base is not None and base > new and base - new >= wrap_drop_us:
                loops += 1
                new += _EVT2_MAX + 64
            base = new
        elif kind in (0, 1) and base is not None:
            out.append((base + (w >> 22 & 63), w >> 11 & 0x7FF, w & 0x7FF, kind))
    return out


def decode_file(path: Path, strict_threshold: bool = False) -> np.ndarray:
    """Events of one of our RAW files as (t, x, y, p) rows, the time origin added back;
    ``strict_threshold``: the sample decoders' wrap rule instead of OpenEB's."""
    words, header = words_of(path)
    origin = int(header.get("ezsr_time_origin_us", 0) or 0)
    if header.get("evt", "").startswith("3"):
        rows = decode_evt3(words, SAMPLE_EVT3_WRAP_DROP if strict_threshold else OPENEB_EVT3_WRAP_DROP)
    else:
        rows = decode_evt2(words, SAMPLE_EVT2_WRAP_DROP_US if strict_threshold else OPENEB_EVT2_WRAP_DROP_US)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    arr[:, 0] += origin
    return arr
