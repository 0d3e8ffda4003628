"""AEDAT 2.0 (``.aedat``) reader for DVS128 recordings such as CIFAR10-DVS.

Layout: text header lines starting with ``#`` (the first is ``#!AER-DAT2.0``; all are
kept in ``info.header["lines"]``), then 8-byte records of big-endian ``u32 address,
u32 timestamp`` (µs, as encoded; no wrap handling).

DVS128 address mapping, as CIFAR10-DVS is commonly decoded::

    xr = (a & 0xFE) >> 1       yr = (a & 0x7F00) >> 8       pr = a & 1
    x  = 127 - yr              y  = 127 - xr                p  = 1 - pr   (1 = ON)

Geometry is 128x128 unless ``geometry=`` is given. Records with jAER's
external/sync flag (address bit 15) or special-event flag (bit 31) are not CD events:
they are skipped and counted in ``stats.special_events``. A truncated trailing record
is a :class:`~ezsr_live.errors.FormatError` at open time with its byte offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry

from ._formats_codec import decode_aedat2_dvs128
from ._record_file import RecordFileReader, read_text_header
from .base import ReaderStats
from .registry import register_reader

AEDAT2_RECORD_SIZE = 8
AEDAT2_MAGIC = "!AER-DAT"
#: jAER closes its header with this line; data may then start with a '#' byte
AEDAT2_HEADER_END = "End Of ASCII Header"
DVS128_GEOMETRY = Geometry(128, 128)


@dataclass
class Aedat2Stats(ReaderStats):
    special_events: int = 0  # external/sync/special records, skipped


@register_reader(".aedat")
class Aedat2Reader(RecordFileReader):
    """Streaming reader of AEDAT 2.0 DVS128 recordings."""

    format = "aedat2"
    record_size = AEDAT2_RECORD_SIZE

    stats_type = Aedat2Stats

    def _parse_header(self, f: BinaryIO) -> tuple[dict[str, str], int]:
        lines, offset = read_text_header(self.path, f, b"#", end_line=AEDAT2_HEADER_END)
        if not lines or not lines[0].startswith(AEDAT2_MAGIC):
            raise FormatError(self.path, "not an AEDAT file: missing '#!AER-DAT' first line", 0)
        version = lines[0][len(AEDAT2_MAGIC):].strip()
        if not version.startswith("2."):
            raise FormatError(self.path, f"AEDAT version {version!r} is not supported (only 2.0)", 0)
        return {"version": version, "lines": lines}, offset

    def _header_geometry(self, header: dict[str, str]) -> Geometry | None:
        return DVS128_GEOMETRY

    def _decode(self, raw: np.ndarray, out: np.ndarray) -> int:
        n, oob, special = decode_aedat2_dvs128(raw, self.geometry.width, self.geometry.height, out)
        self.stats.out_of_bounds += oob
        self.stats.special_events += special
        return n
