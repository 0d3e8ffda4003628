"""The one event packet type used across ezsr-live.

An *event packet* is a 1-D numpy structured array of dtype :data:`EVENT_DTYPE`::

    t : int64   timestamp in microseconds, as the source encodes it (no shifting:
                an .aedat4 file keeps its Unix-epoch µs, a RAW file its sensor clock)
    x : uint16  column, 0 <= x < Geometry.width
    y : uint16  row,    0 <= y < Geometry.height
    p : int8    polarity, 1 = ON (brightness increase), 0 = OFF

The dtype is packed (13 bytes per event, no padding) so that packets can be
memory-mapped and written without conversion. Sources yield packets in
bounded-size chunks (``DEFAULT_CHUNK_EVENTS`` unless configured); a packet is
never guaranteed to be time-sorted, because real RAW streams are not (EVT 3.0
TIME_LOW may step backwards).

External trigger events (Prophesee EXT_TRIGGER words, DV trigger streams) are kept
apart from CD events in arrays of :data:`TRIGGER_DTYPE`.

Arrays from outside (tonic, N-ImageNet's ``event_data``, the Metavision SDK, a user's
own structured array) enter through :func:`as_event_packet`, which converts **by field
name**: numpy's structured ``astype`` assigns fields by *position*, so tonic's
``x, y, t, p`` order cast to ``t, x, y, p`` would silently put x in t, y in x and t in y.
A packet that already has :data:`EVENT_DTYPE` passes through without a copy. Plain
``(N, 4)`` arrays are refused: their column order is a convention that differs between
libraries (tonic ``x, y, t, p``, others ``t, x, y, p``), which is the same silent mix-up;
build a packet from named columns with :func:`make_events` instead.

Kernels are pure functions over these arrays; objects around them stay thin.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ezsr_live.errors import EventArrayError
from ezsr_live import host_memory

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "i1")])
TRIGGER_DTYPE = np.dtype([("t", "<i8"), ("id", "u1"), ("p", "i1")])

#: Default number of events per packet yielded by file readers: about 13 MB per
#: packet, which keeps replay memory constant whatever the file size.
DEFAULT_CHUNK_EVENTS = 1 << 20

EventPacket = np.ndarray  # alias used in type hints: a structured array of EVENT_DTYPE

#: the field names :func:`as_event_packet` accepts for each packet field, ours first. Only
#: spellings that cannot mean anything else: tonic and Metavision already use t/x/y/p,
#: dv-processing ``timestamp``/``polarity``, N-ImageNet's columns ``x_pos``/``y_pos``.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "t": ("t", "timestamp"),
    "x": ("x", "x_pos"),
    "y": ("y", "y_pos"),
    "p": ("p", "polarity"),
}

_INT64 = np.iinfo(np.int64)
_UINT16_MAX = int(np.iinfo(np.uint16).max)


@dataclass(frozen=True)
class Geometry:
    """Sensor size in pixels."""

    width: int
    height: int

    def __post_init__(self) -> None:
        if not (0 < int(self.width) <= 65535 and 0 < int(self.height) <= 65535):
            raise ValueError(f"invalid sensor geometry {self.width}x{self.height}")

    @classmethod
    def parse(cls, text: str) -> "Geometry":
        """Parse ``"WxH"`` (e.g. ``"640x480"``)."""
        try:
            w, h = text.lower().replace("×", "x").split("x")
            return cls(int(w), int(h))
        except (ValueError, AttributeError):
            raise ValueError(f"geometry must look like WIDTHxHEIGHT, got {text!r}") from None

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class Roi:
    """A rectangle of sensor pixels: columns ``x .. x + width - 1``, rows ``y .. y + height - 1``."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0:
            raise ValueError(f"the region of interest must start inside the sensor, got corner ({self.x}, {self.y})")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"the region of interest needs a positive size, got {self.width}x{self.height}")

    @classmethod
    def parse(cls, text: str) -> "Roi":
        """``"X,Y,W,H"`` in sensor pixels (e.g. ``"100,50,320,240"``)."""
        parts = [part.strip() for part in str(text).split(",")]
        try:
            if len(parts) != 4:
                raise ValueError
            x, y, w, h = (int(part) for part in parts)
        except ValueError:
            raise ValueError(f"a region of interest looks like X,Y,WIDTH,HEIGHT in pixels, got {text!r}") from None
        return cls(x, y, w, h)

    def check_inside(self, geometry: Geometry) -> "Roi":
        """This ROI, if it lies wholly inside ``geometry``; ValueError otherwise."""
        if self.x + self.width > geometry.width or self.y + self.height > geometry.height:
            raise ValueError(f"the region of interest {self} reaches outside the {geometry} sensor")
        return self

    @property
    def geometry(self) -> Geometry:
        """The box as a sensor of its own."""
        return Geometry(self.width, self.height)

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


@dataclass
class SourceInfo:
    """What a source knows about itself; filled by readers and camera adapters."""

    name: str  # file path or device/stream URI
    format: str  # e.g. "evt3", "evt2", "aedat4", "dat", "npz", "atis_bin", "aedat2"
    geometry: Geometry
    camera: str | None = None  # camera model when known
    serial: str | None = None
    header: dict[str, Any] = field(default_factory=dict)


def empty_events(n: int = 0) -> EventPacket:
    """A zero-filled packet of ``n`` events."""
    return np.zeros(n, dtype=EVENT_DTYPE)


_HUGEPAGE_LOCK = threading.Lock()


def whole_file_buffer(n: int) -> EventPacket:
    """An uninitialised packet of ``n`` events for a whole file's events, whose first
    touch (the decoder's writes) is most of a whole-file read's cost.

    numpy hints large arrays for transparent huge pages, which makes that first touch
    2.9x cheaper (``benchmarks/bench_first_touch.py``), except where the kernel reports
    free memory to a hypervisor (:mod:`ezsr_live.host_memory`): there a huge page comes
    from a block the host has discarded and costs about 2 ms to fault. So the hint is kept on bare metal and left
    out there. On this project's VM, in ``benchmarks/bench_io.py``'s rotation, 20 M
    events read at 40-29 Mev/s hinted and 80-49 unhinted (EVT 2.0 / EVT 3.0, 2026-12-02).
    Where numpy has no such switch, this is a plain ``np.empty``."""
    multiarray = getattr(np, "_core", np).multiarray
    get = getattr(multiarray, "_get_madvise_hugepage", None)
    set_ = getattr(multiarray, "_set_madvise_hugepage", None)
    if get is None or set_ is None or not host_memory.free_pages_go_to_host():
        return np.empty(n, EVENT_DTYPE)
    with _HUGEPAGE_LOCK:
        previous = set_(False)
        try:
            return np.empty(n, EVENT_DTYPE)
        finally:
            set_(previous)


def make_events(t: Any, x: Any, y: Any, p: Any) -> EventPacket:
    """Build a packet from columns: ``t`` 1-D, ``x``/``y``/``p`` of its length or scalars.

    The values are checked as in :func:`as_event_packet` (p: 1/True = ON, 0, -1 or False
    = OFF); raises :class:`~ezsr_live.errors.EventArrayError` for values that do not fit.
    """
    t = np.asarray(t)
    if t.ndim != 1:
        raise EventArrayError(f"make_events: t must be 1-D, got shape {t.shape}")
    try:
        x, y, p = (np.broadcast_to(np.asarray(v), t.shape) for v in (x, y, p))
    except ValueError:
        raise EventArrayError(f"make_events: x, y and p must have t's length {len(t)} or be scalars") from None
    return _from_columns(t, x, y, p, "make_events")


def as_event_packet(events: Any, *, source: str | os.PathLike | None = None) -> EventPacket:
    """``events`` as a packet of :data:`EVENT_DTYPE`, converting by field name.

    Accepts a 1-D structured array (fields in any order, extra fields ignored, the
    spellings of :data:`FIELD_ALIASES`) or a mapping of column names to 1-D arrays
    (SpikingJelly's ``{'t', 'x', 'y', 'p'}`` dicts). A packet already of
    :data:`EVENT_DTYPE` is returned as it is, without a copy or a check (our readers made
    it). Anything else is refused with an :class:`~ezsr_live.errors.EventArrayError`
    naming ``source`` (a file or the caller) and what is wrong:

    * a missing field, or two spellings of one field (``t`` and ``timestamp``);
    * ``x``/``y`` outside 0..65535, ``t`` outside int64, or non-integer values in a
      floating-point ``t``/``x``/``y`` (seconds instead of microseconds would otherwise be
      truncated silently);
    * a polarity other than 1/True (ON) and 0, -1 or False (OFF); -1/1 maps to 0/1;
    * a plain (non-structured) array, e.g. ``(N, 4)``: its column order is ambiguous.
    """
    if isinstance(events, np.ndarray) and events.dtype == EVENT_DTYPE and events.ndim == 1:
        return events  # the fast path: what every reader and kernel hands over
    where = os.fspath(source) if source is not None else "events"
    if isinstance(events, Mapping):
        columns = {str(k): np.asarray(v) for k, v in events.items()}
        what = "keys"
    else:
        array = np.asarray(events)
        if array.dtype.names is None:
            hint = (" (column order is a convention that differs between libraries: pass a structured array "
                    "with named fields t, x, y, p, or make_events(t, x, y, p))" if array.ndim == 2 else "")
            raise EventArrayError(f"{where}: expected a structured array with fields t, x, y, p, "
                                  f"got a plain {array.dtype} array of shape {array.shape}{hint}")
        if array.ndim != 1:
            raise EventArrayError(f"{where}: expected a 1-D array of events, got shape {array.shape}")
        columns = {name: array[name] for name in array.dtype.names}
        what = "fields"
    chosen: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for field_name, spellings in FIELD_ALIASES.items():
        present = [n for n in spellings if n in columns]
        if len(present) > 1:
            raise EventArrayError(f"{where}: both {' and '.join(present)} are present; which one is {field_name}?")
        if present:
            chosen[field_name] = columns[present[0]]
        else:
            missing.append(field_name)
    if missing:
        raise EventArrayError(f"{where}: lacks {'field' if len(missing) == 1 else 'fields'} {', '.join(missing)} "
                              f"(has {what} {', '.join(columns) or 'none'}); a packet needs t, x, y, p")
    lengths = {name: col.shape for name, col in chosen.items()}
    if any(len(shape) != 1 for shape in lengths.values()) or len(set(lengths.values())) != 1:
        raise EventArrayError(f"{where}: t, x, y, p must be 1-D and equally long, got shapes "
                              + ", ".join(f"{k} {v}" for k, v in lengths.items()))
    return _from_columns(chosen["t"], chosen["x"], chosen["y"], chosen["p"], where)


def _from_columns(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, where: str) -> EventPacket:
    out = np.empty(len(t), dtype=EVENT_DTYPE)
    out["t"] = _integral(t, "t", _INT64.min, _INT64.max, where)
    out["x"] = _integral(x, "x", 0, _UINT16_MAX, where)
    out["y"] = _integral(y, "y", 0, _UINT16_MAX, where)
    out["p"] = _polarity(p, where)
    return out


def _integral(col: np.ndarray, name: str, lo: int, hi: int, where: str) -> np.ndarray:
    """``col`` checked to hold integers within [lo, hi] (the caller casts it)."""
    kind = col.dtype.kind
    if kind in "iu":
        info = np.iinfo(col.dtype)
        if col.size and (info.min < lo or info.max > hi):  # only a wider type can overflow
            lo_v, hi_v = int(col.min()), int(col.max())
            if lo_v < lo or hi_v > hi:
                raise EventArrayError(f"{where}: {name} holds values from {lo_v} to {hi_v}, outside {lo}..{hi}")
        return col
    if kind == "f":
        if col.size:
            if not np.isfinite(col).all():
                raise EventArrayError(f"{where}: {name} holds NaN or infinite values")
            fractional = col != np.floor(col)
            if fractional.any():
                example = col[np.argmax(fractional)].item()
                unit = " (integer microseconds: scale seconds by 1e6 first)" if name == "t" else ""
                raise EventArrayError(f"{where}: {name} holds non-integer values such as {example!r}; "
                                      f"expected integers{unit}")
            lo_f, hi_f = float(col.min()), float(col.max())
            if lo_f < lo or hi_f > hi:  # Python compares float with int exactly
                raise EventArrayError(f"{where}: {name} holds values from {lo_f:g} to {hi_f:g}, outside {lo}..{hi}")
        return col.astype(np.int64)
    raise EventArrayError(f"{where}: {name} has dtype {col.dtype}; expected integers")


def _polarity(col: np.ndarray, where: str) -> np.ndarray:
    """ON as 1, OFF as 0, from bool, 0/1 or -1/1 polarities."""
    kind = col.dtype.kind
    if kind == "b":
        return col
    if kind not in "iuf":
        raise EventArrayError(f"{where}: p has dtype {col.dtype}; expected bool or integers")
    valid = (col == 1) | (col == 0) | (col == -1)
    if not valid.all():
        raise EventArrayError(f"{where}: p holds {col[np.argmin(valid)].item()!r}; polarity must be 1 (ON) "
                              "or 0 / -1 (OFF)")
    return col > 0


def drop_outside(packet: EventPacket, geometry: Geometry) -> tuple[EventPacket, int]:
    """Remove events outside the sensor (a misbehaving device must not reach the
    kernels); returns the packet and the number of events removed."""
    inside = (packet["x"] < geometry.width) & (packet["y"] < geometry.height)
    n_bad = len(packet) - int(np.count_nonzero(inside))
    return (packet if n_bad == 0 else packet[inside]), n_bad


def event_bytes(events: EventPacket) -> np.ndarray:
    """The raw bytes of a packet, (n * itemsize,) uint8: numpy copies packed structured
    arrays field by field, ten times slower than bytes."""
    return np.ascontiguousarray(events).view(np.uint8)


def copy_events(events: EventPacket) -> EventPacket:
    """A copy of a packet (byte-wise: the fast way for :data:`EVENT_DTYPE`)."""
    return event_bytes(events).copy().view(EVENT_DTYPE)


def concat_events(packets: Sequence[EventPacket]) -> EventPacket:
    """Concatenate packets byte-wise (an empty sequence gives an empty packet)."""
    if not packets:
        return empty_events(0)
    if any(p.dtype != EVENT_DTYPE for p in packets):
        return np.concatenate(packets)
    return np.concatenate([event_bytes(p) for p in packets]).view(EVENT_DTYPE)
