"""What the peer decoders are known to make of EVT 3.0 time, as plain models beside
OpenEB's rules (:mod:`.raw_reference`), so the agreement tests can say exactly which
events a peer places elsewhere and by how much, instead of tolerating any difference.

Each model walks the words once, computes the OpenEB time of every CD event, and
applies the peer's known departure:

- ``"expelliarmus"`` (1.1): a TIME_LOW lower than the previous TIME_LOW is taken as a
  carry into the high bits, adding 4,096 µs for every such step back, for the rest of
  the file;
- ``"faery"`` (0.7): time never goes back: each event gets the largest time any
  TIME_LOW or TIME_HIGH word has set so far.
"""
from __future__ import annotations

import numpy as np

from .raw_reference import OPENEB_EVT3_WRAP_DROP


def evt3_times(words: np.ndarray, model: str = "openeb") -> np.ndarray:
    """The time (µs) of each CD event of the EVT 3.0 ``words`` under ``model``."""
    out: list[int] = []
    high = low = loops = carries = 0
    have_high = False
    previous_low = -1
    latest = 0  # the largest time set so far (faery)
    for w in words.tolist():
        kind, payload = w >> 12, w & 0xFFF
        if kind == 0x8:
            if have_high:
                if high - payload >= OPENEB_EVT3_WRAP_DROP:
                    loops += 1
                if payload != high:
                    low = 0
            high, have_high = payload, True
        elif kind == 0x6:
            if 0 <= payload < previous_low:
                carries += 1
            low = previous_low = payload
        else:
            if kind == 0x2:
                n = 1
            elif kind in (0x4, 0x5):
                n = bin(payload & (0xFFF if kind == 0x4 else 0xFF)).count("1")
            else:
                continue
            if have_high:
                t = (loops << 24) | (high << 12) | low
                if model == "expelliarmus":
                    t += carries << 12
                elif model == "faery":
                    latest = max(latest, t)
                    t = latest
                out.extend([t] * n)
            continue
        if have_high:
            latest = max(latest, (loops << 24) | (high << 12) | low)
    return np.array(out, np.int64)
