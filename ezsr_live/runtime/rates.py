"""ON and OFF event rates over the last seconds of sensor time, counted per packet.

The source thread hands each packet to :meth:`EventRateCounter.add` (one Numba pass over
its ``t`` and ``p`` columns, GIL released); a viewer reads :meth:`EventRateCounter.snapshot`
whenever it likes. The history is a ring of fixed bins of sensor time, so memory is fixed
and old bins fall out as new ones begin.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

#: default bin width and history: 50 ms bins over the last 10 s
DEFAULT_BIN_US = 50_000
DEFAULT_SPAN_US = 10_000_000


@njit(nogil=True, cache=True)
def _count(t, p, bin_us, counts, bin_ids, newest, empty):
    """Add the events to their bins; returns the newest bin index after them.

    Events of the bin of the previous event cost a compare and an add (no division);
    a bin older than the whole history means the clock went back (a seek, a loop):
    the history restarts there."""
    n_bins = counts.shape[0]
    if newest == empty:
        lo, hi, slot = np.int64(1), np.int64(0), 0  # no bin yet: every event looks it up
    else:
        lo = newest * bin_us
        hi, slot = lo + bin_us, newest % n_bins
    for i in range(t.shape[0]):
        ti = t[i]
        if ti < lo or ti >= hi:
            b = ti // bin_us
            if newest == empty or b <= newest - n_bins or b - newest >= n_bins:
                counts[:, :] = 0
                bin_ids[:] = empty
                newest = b
            elif b > newest:
                for bb in range(newest + 1, b + 1):
                    s = bb % n_bins
                    counts[s, 0] = 0
                    counts[s, 1] = 0
                    bin_ids[s] = bb
                newest = b
            slot = b % n_bins
            bin_ids[slot] = b
            lo = b * bin_us
            hi = lo + bin_us
        counts[slot, 0 if p[i] != 0 else 1] += 1
    return newest


@dataclass(frozen=True)
class RateHistory:
    """Bins of sensor time, oldest first; the last one may still be filling."""

    bin_us: int
    start_us: np.ndarray  # int64, the start of each bin
    on: np.ndarray  # int64 ON events per bin
    off: np.ndarray  # int64 OFF events per bin

    @property
    def on_rate(self) -> np.ndarray:
        """ON events per second in each bin."""
        return self.on * (1e6 / self.bin_us)

    @property
    def off_rate(self) -> np.ndarray:
        """OFF events per second in each bin."""
        return self.off * (1e6 / self.bin_us)


class EventRateCounter:
    """ON/OFF counts per ``bin_us`` of sensor time over the last ``span_us``."""

    _EMPTY = -(1 << 62)

    def __init__(self, bin_us: int = DEFAULT_BIN_US, span_us: int = DEFAULT_SPAN_US) -> None:
        if bin_us < 1 or span_us < bin_us:
            raise ValueError(f"rate bins need 1 <= bin_us <= span_us, got {bin_us} and {span_us}")
        self.bin_us = int(bin_us)
        n_bins = -(-int(span_us) // self.bin_us)
        self._counts = np.zeros((n_bins, 2), np.int64)
        self._bin_ids = np.full(n_bins, self._EMPTY, np.int64)
        self._newest = self._EMPTY
        self._lock = threading.Lock()

    def add(self, events: EventPacket) -> None:
        """Count a packet (called by the source thread for every packet)."""
        if len(events) == 0:
            return
        with self._lock:
            self._newest = int(_count(events["t"], events["p"], np.int64(self.bin_us), self._counts,
                                      self._bin_ids, np.int64(self._newest), np.int64(self._EMPTY)))

    def clear(self) -> None:
        with self._lock:
            self._counts[:] = 0
            self._bin_ids[:] = self._EMPTY
            self._newest = self._EMPTY

    def snapshot(self) -> RateHistory:
        """The bins counted so far, oldest first (at most ``span_us`` of them)."""
        with self._lock:
            newest, counts, ids = self._newest, self._counts.copy(), self._bin_ids.copy()
        n_bins = len(ids)
        if newest == self._EMPTY:
            empty = np.zeros(0, np.int64)
            return RateHistory(self.bin_us, empty, empty, empty)
        wanted = np.arange(newest - n_bins + 1, newest + 1, dtype=np.int64)
        slots = wanted % n_bins
        present = ids[slots] == wanted
        wanted, slots = wanted[present], slots[present]
        return RateHistory(self.bin_us, wanted * self.bin_us, counts[slots, 0], counts[slots, 1])
