"""Prophesee legacy ``.dat`` reader (N-Cars, ATIS / Gen1 recordings).

Layout::

    % key value          text header lines, each starting with '%' (kept in info.header)
    <u1 event type>      0 (Event2D / TD) or 12 (EventCD); other types are refused
    <u1 event size>      must be 8
    records              <u4 t (µs), <u4 w>:  x = w & 0x3FFF, y = (w >> 14) & 0x3FFF,
                         p = (w >> 28) & 1

Geometry comes from ``% Width`` / ``% Height`` (or ``% geometry WxH``) header lines
when present, otherwise from the largest coordinate + 1 found by a streaming pre-scan
(one extra pass over the file at open time; pass ``geometry=`` to skip it).
Timestamps are returned as encoded (32-bit, no wrap handling). A truncated trailing
record is a :class:`~ezsr_live.errors.FormatError` at open time with its byte offset.
"""
from __future__ import annotations

from typing import BinaryIO

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import Geometry

from ._formats_codec import dat_max_xy, decode_dat
from ._record_file import RecordFileReader, read_text_header
from .registry import register_reader

#: event types of the legacy format whose 8-byte records are CD events
DAT_CD_EVENT_TYPES = {0: "Event2D", 12: "EventCD"}
DAT_RECORD_SIZE = 8


def _header_dict(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if key:
            header[key] = value.strip()
    return header


@register_reader(".dat")
class DatReader(RecordFileReader):
    """Streaming reader of Prophesee legacy .dat CD files."""

    format = "dat"
    record_size = DAT_RECORD_SIZE

    def _parse_header(self, f: BinaryIO) -> tuple[dict[str, str], int]:
        lines, offset = read_text_header(self.path, f, b"%")
        type_size = f.read(2)
        if len(type_size) < 2:
            raise FormatError(self.path, "file ends before the event type/size bytes", offset)
        ev_type, ev_size = type_size[0], type_size[1]
        if ev_size != DAT_RECORD_SIZE:
            raise FormatError(self.path, f"event size {ev_size}, expected {DAT_RECORD_SIZE} (not a CD .dat file?)", offset + 1)
        if ev_type not in DAT_CD_EVENT_TYPES:
            raise FormatError(self.path, f"unsupported .dat event type {ev_type} (only CD events: 0, 12)", offset)
        header = _header_dict(lines)
        header["event_type"] = DAT_CD_EVENT_TYPES[ev_type]
        return header, offset + 2

    def _header_geometry(self, header: dict[str, str]) -> Geometry | None:
        try:
            if "Width" in header and "Height" in header:
                return Geometry(int(header["Width"]), int(header["Height"]))
            if "geometry" in header:
                return Geometry.parse(header["geometry"])
        except ValueError as exc:
            raise FormatError(self.path, f"bad geometry in header: {exc}") from None
        return None

    def _max_xy(self, raw: np.ndarray) -> tuple[int, int]:
        return dat_max_xy(raw.view("<u4"))

    def _decode(self, raw: np.ndarray, out: np.ndarray) -> int:
        n, oob = decode_dat(raw.view("<u4"), self.geometry.width, self.geometry.height, out)
        self.stats.out_of_bounds += oob
        return n
