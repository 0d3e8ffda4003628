"""Shared plumbing of readers for files made of fixed-size event records
(.dat, ATIS .bin, AEDAT 2.0): an optional text header, then records.

The file is read in blocks of ``chunk_events`` records, each decoded by a Numba
kernel of :mod:`._formats_codec` into a fresh packet, so memory stays bounded by
the chunk size whatever the file size. The record count is checked against the file
size at open time: a truncated trailing record is a :class:`FormatError` naming its
byte offset (a partial record cannot be decoded, and silently dropping it would
hide a damaged download).
"""
from __future__ import annotations

import abc
import os
from typing import BinaryIO, ClassVar, Iterator

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import EVENT_DTYPE, Geometry, SourceInfo

from .base import Chunk, EventReader

#: records per block of the streaming geometry pre-scan
_SCAN_BLOCK_RECORDS = 1 << 20

#: a text header longer than this is not a header but garbage (bounds the parse)
MAX_HEADER_BYTES = 1 << 20


def read_text_header(
    path: str, f: BinaryIO, marker: bytes, end_line: str | None = None
) -> tuple[list[str], int]:
    """Read the leading lines that start with ``marker`` (e.g. ``b"%"``), up to and
    including a line equal to ``end_line`` when given.

    Returns the lines (decoded, without the marker and line ending) and the byte
    offset of the first byte after them. Bounded by :data:`MAX_HEADER_BYTES`.
    """
    lines: list[str] = []
    offset = 0
    f.seek(0)
    while True:
        if f.read(1) != marker:
            break
        f.seek(offset)
        line = f.readline(MAX_HEADER_BYTES - offset + 1)
        if not line.endswith(b"\n"):
            if offset + len(line) > MAX_HEADER_BYTES:
                raise FormatError(path, f"text header longer than {MAX_HEADER_BYTES} bytes", offset)
            raise FormatError(path, "file ends inside its text header", offset + len(line))
        offset += len(line)
        lines.append(line[len(marker):].rstrip(b"\r\n").decode("latin-1").strip())
        f.seek(offset)
        if end_line is not None and lines[-1] == end_line:
            break
    f.seek(offset)
    return lines, offset


class RecordFileReader(EventReader):
    """Base of fixed-record readers; subclasses implement the header and the kernels."""

    record_size: ClassVar[int] = 0

    def _open(self) -> None:
        geometry = self.requested_geometry
        try:
            with open(self.path, "rb") as f:
                header, self.data_offset = self._parse_header(f)
                self.file_size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise FormatError(self.path, f"cannot read: {exc.strerror or exc}") from None
        payload = self.file_size - self.data_offset
        self.n_records = payload // self.record_size
        if payload % self.record_size:
            raise FormatError(
                self.path,
                f"truncated {self.record_size}-byte event record at end of file "
                f"({payload % self.record_size} bytes left over)",
                self.data_offset + self.n_records * self.record_size,
            )
        self.info = SourceInfo(
            name=self.path,
            format=self.format,
            geometry=geometry or self._header_geometry(header) or self._scan_geometry(),
            camera=self._camera(header),
            header=header,
        )

    # -- hooks ---------------------------------------------------------------------
    @abc.abstractmethod
    def _parse_header(self, f: BinaryIO) -> tuple[dict[str, str], int]:
        """Validate the header; return it and the byte offset of the first record."""

    def _header_geometry(self, header: dict[str, str]) -> Geometry | None:
        """Geometry stated by the file, if any."""
        return None

    def _camera(self, header: dict[str, str]) -> str | None:
        return None

    def _max_xy(self, raw: np.ndarray) -> tuple[int, int]:
        """Largest coordinates in a block of records (for the geometry pre-scan)."""
        raise NotImplementedError

    def _reset(self) -> None:
        """Reset per-iteration decoding state."""

    @abc.abstractmethod
    def _decode(self, raw: np.ndarray, out: np.ndarray) -> int:
        """Decode a block of whole records into ``out``; update ``self.stats``;
        return the number of events written."""

    # -- streaming -----------------------------------------------------------------
    def _blocks(self, records_per_block: int) -> Iterator[np.ndarray]:
        block_bytes = records_per_block * self.record_size
        with open(self.path, "rb") as f:
            f.seek(self.data_offset)
            offset = self.data_offset
            while True:
                data = f.read(block_bytes)
                if not data:
                    return
                if len(data) % self.record_size:
                    # the file shrank or grew a partial record since it was opened
                    raise FormatError(self.path, "truncated event record at end of file",
                                      offset + len(data) - len(data) % self.record_size)
                offset += len(data)
                yield np.frombuffer(data, dtype=np.uint8)

    def _scan_geometry(self) -> Geometry:
        max_x = max_y = -1
        for raw in self._blocks(_SCAN_BLOCK_RECORDS):
            bx, by = self._max_xy(raw)
            max_x, max_y = max(max_x, bx), max(max_y, by)
        if max_x < 0:
            raise FormatError(self.path, "no events to infer the sensor geometry from; pass a geometry")
        return Geometry(max_x + 1, max_y + 1)

    def iter_chunks(self) -> Iterator[Chunk]:
        self.stats = type(self.stats)()
        self._reset()
        for raw in self._blocks(self.chunk_events):
            out = np.empty(raw.shape[0] // self.record_size, dtype=EVENT_DTYPE)
            n = self._decode(raw, out)
            if n:
                yield Chunk(out[:n])
