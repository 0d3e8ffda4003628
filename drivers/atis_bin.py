"""ATIS ``.bin`` reader: N-MNIST and N-Caltech101 (Orchard et al. 2015).

No header; 5 bytes per event::

    x = b0,  y = b1,  p = b2 >> 7 (1 = ON),
    t = ((b2 & 0x7F) << 16) | (b3 << 8) | b4        (µs, 23 bits)

A record with y == 240 (one row past the 304x240 ATIS array) is not an event but a
time-overflow marker written by the dataset's recorder: it adds 2**13 µs to the
timestamps of every later event, as the datasets' reference loader does. Markers are
counted in ``stats.overflow_markers`` and never returned. The sample N-MNIST files
contain none, but the reference loader handles them, so this reader does too.

Geometry is the largest coordinate + 1 over the file (streaming pre-scan at open
time) unless ``geometry=`` is given (34x34 for N-MNIST, up to 240x180 for
N-Caltech101 samples, which vary in size). A truncated trailing record is a
:class:`~ezsr_live.errors.FormatError` at open time with its byte offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ._formats_codec import atis_max_xy, decode_atis
from ._record_file import RecordFileReader
from .base import ReaderStats
from .registry import register_reader

ATIS_RECORD_SIZE = 5


@dataclass
class AtisStats(ReaderStats):
    overflow_markers: int = 0  # y == 240 records: time advanced by 2**13 µs each


@register_reader(".bin")
class AtisBinReader(RecordFileReader):
    """Streaming reader of N-MNIST / N-Caltech101 ATIS .bin files."""

    format = "atis_bin"
    record_size = ATIS_RECORD_SIZE

    stats_type = AtisStats
    _time_offset = 0

    def _parse_header(self, f: BinaryIO) -> tuple[dict[str, str], int]:
        return {}, 0

    def _max_xy(self, raw: np.ndarray) -> tuple[int, int]:
        return atis_max_xy(raw)

    def _reset(self) -> None:
        self._time_offset = 0

    def _decode(self, raw: np.ndarray, out: np.ndarray) -> int:
        n, oob, overflows, self._time_offset = decode_atis(
            raw, self.geometry.width, self.geometry.height, self._time_offset, out
        )
        self.stats.out_of_bounds += oob
        self.stats.overflow_markers += overflows
        return n
