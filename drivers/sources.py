"""Live sources and their registry: one ``--camera``/``--replay`` argument → one source.

Every source yields packets of :data:`ezsr_live.events.EVENT_DTYPE` and knows its
:class:`~ezsr_live.events.Geometry`. Sources are registered by URI scheme
(``tcp://``, ``unix://``, ``file://``, ``prophesee:``) or by camera name (``davis346``,
``dvxplorer``, ...); an existing path with a readable extension is a replay, and
anything else is taken to be a DV camera serial number.
"""
from __future__ import annotations

import abc
import importlib
import os
import threading
from typing import Any, Callable, Iterator

from ezsr_live.errors import SourceError
from ezsr_live.events import EventPacket, Geometry, SourceInfo

SourceFactory = Callable[..., "EventSource"]

_SOURCE_MODULES = (
    "ezsr_live.drivers.replay",
    "ezsr_live.drivers.dv_network",
    "ezsr_live.drivers.dv_camera",
    "ezsr_live.drivers.metavision_camera",
)
_SCHEMES: dict[str, SourceFactory] = {}
_NAMES: dict[str, SourceFactory] = {}
_FALLBACK: list[SourceFactory] = []
_loaded = False


class EventSource(abc.ABC):
    """A stream of packets from a camera, a network peer or a paced recording.

    Iterate it to receive packets; the iteration ends when the source does (end of
    file, camera unplugged, peer gone) with :attr:`status` saying why, or soon after
    :meth:`stop` is called from any thread.
    """

    def __init__(self) -> None:
        self.info: SourceInfo  # set by subclasses once the source is open
        self.status = "open"
        self._stop_event = threading.Event()

    @property
    def geometry(self) -> Geometry:
        return self.info.geometry

    @abc.abstractmethod
    def __iter__(self) -> Iterator[EventPacket]: ...

    def warm_up(self) -> EventPacket | None:
        """Run this source's decoding kernels once, on the calling thread, before the
        source's own thread starts; returns a few events they decoded (None where there
        is nothing to decode ahead, e.g. a camera). Loading a Numba kernel on a live
        thread while other threads poll took 5 s for the first replayed packet in the
        GUI, against 0.6 s on the main thread before the threads start."""
        return None

    def stop(self) -> None:
        """Ask the iteration to end (thread-safe; returns at once)."""
        self._stop_event.set()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "EventSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register_scheme(*schemes: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a factory ``f(spec, **options)`` for URIs ``scheme://...`` or ``scheme:...``."""

    def deco(factory: SourceFactory) -> SourceFactory:
        for s in schemes:
            _SCHEMES[s.lower()] = factory
        return factory

    return deco


def register_names(*names: str) -> Callable[[SourceFactory], SourceFactory]:
    """Register a factory for plain camera names such as ``davis346``."""

    def deco(factory: SourceFactory) -> SourceFactory:
        for n in names:
            _NAMES[n.lower()] = factory
        return factory

    return deco


def register_fallback(factory: SourceFactory) -> SourceFactory:
    """The factory for specs nothing else matched (DV camera serial numbers)."""
    _FALLBACK.append(factory)
    return factory


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in _SOURCE_MODULES:
            importlib.import_module(name)
        _loaded = True


def known_camera_names() -> list[str]:
    _load()
    return sorted(_NAMES)


def open_source(spec: str, **options: Any) -> EventSource:
    """Open a source from a ``--camera``/``--replay`` value.

    ``options`` go to the factory (replay: ``speed``, ``loop``, ``start_us``,
    ``duration_us``, ``geometry``; network: ``reconnect``; ...); factories ignore options
    that do not concern them. Raises :class:`SourceError` (or ``FormatError`` for a bad
    recording) with a message a user can act on.
    """
    _load()
    spec = str(spec).strip()
    if not spec:
        raise SourceError("empty source specification")
    low = spec.lower()
    if "://" in low:
        scheme = low.split("://", 1)[0]
    elif ":" in low and not os.path.exists(spec) and len(low.split(":", 1)[0]) > 1:
        scheme = low.split(":", 1)[0]  # e.g. "prophesee:SERIAL" (not "C:\\...")
    else:
        scheme = ""
    if scheme:
        factory = _SCHEMES.get(scheme)
        if factory is None:
            raise SourceError(f"{spec}: unknown source scheme {scheme!r}; known: {', '.join(sorted(_SCHEMES))}")
        return factory(spec, **options)
    if low in _NAMES:
        return _NAMES[low](spec, **options)
    if os.path.exists(spec) or _looks_like_recording(spec):
        return _SCHEMES["file"](spec, **options)
    for factory in _FALLBACK:
        return factory(spec, **options)
    raise SourceError(f"{spec}: not a known camera, stream URI or recording")


def _looks_like_recording(spec: str) -> bool:
    from .registry import reader_extensions

    low = spec.lower()
    return any(low.endswith(ext) for ext in reader_extensions())
