"""Event sources: recordings (by file extension) and, later, cameras and streams.

Installed as ``ezsr_live.drivers``; no Qt here.
"""
from .base import Chunk, EventReader, EventWriter, ReaderStats
from .registry import (
    check_writable,
    open_reader,
    open_writer,
    reader_extensions,
    register_reader,
    register_writer,
    recording_extensions,
    writer_extensions,
)

__all__ = [
    "Chunk",
    "EventReader",
    "EventWriter",
    "ReaderStats",
    "check_writable",
    "open_reader",
    "open_writer",
    "reader_extensions",
    "register_reader",
    "register_writer",
    "recording_extensions",
    "writer_extensions",
]
