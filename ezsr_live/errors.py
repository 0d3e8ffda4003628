"""The project's exception family.

The CLI turns any :class:`EzsrError` into one line ``ezsr: <message>`` and exit code 2;
the GUI shows the same message. Anything else escaping is a bug.
"""
from __future__ import annotations

import os


class EzsrError(Exception):
    """Base class of every error the project raises on purpose."""


class FormatError(EzsrError):
    """A file that cannot be read as the format it claims: names the file and, where
    known, the byte offset of the problem."""

    def __init__(self, path: str | os.PathLike, problem: str, offset: int | None = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.offset = offset
        where = f" (byte offset {offset})" if offset is not None else ""
        super().__init__(f"{self.path}: {problem}{where}")


class SourceError(EzsrError):
    """A live source (camera, network stream, replay) that cannot be opened or failed."""


class ModelError(EzsrError):
    """Model weights, configurations or pools that do not fit together."""


class EventArrayError(EzsrError, ValueError):
    """An array handed in as events that cannot be read as events by name: a missing
    field, values outside the packet's types, an ambiguous plain array. Also a
    ValueError, for callers that treat it as a bad argument."""


class StorageError(EzsrError):
    """A file that could not be written: the disk is full, a quota or a size limit is
    reached, the device failed. Names the file; the message says what was kept."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
