"""Reusable output packets for readers that yield fixed-size chunks."""
from __future__ import annotations

import sys

import numpy as np

from ezsr_live.events import EVENT_DTYPE


class PacketPool:
    """Output packets for one iteration, recycled once the consumer has let go of them.

    Fresh multi-MB arrays cost page faults on first touch (as much time as decoding
    into them), so a packet whose chunks the consumer dropped is decoded into again. A
    packet is reused only when nothing but this pool refers to it (every numpy view of a
    chunk, and every buffer export, keeps a reference to it), so chunks a consumer keeps
    (``read_all``) are never overwritten.
    """

    _KEPT = 3  # packets remembered; a consumer holding more just gets fresh ones

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lent: list[np.ndarray] = []

    def take(self) -> np.ndarray:
        for k in range(len(self._lent)):
            # references: the list, the call's argument
            if sys.getrefcount(self._lent[k]) == 2:
                packet = self._lent.pop(k)
                self._lent.append(packet)
                return packet
        packet = np.empty(self._capacity, EVENT_DTYPE)
        self._lent.append(packet)
        if len(self._lent) > self._KEPT:
            self._lent.pop(0)
        return packet
