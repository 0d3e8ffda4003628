"""N-ImageNet (and SpikingJelly) ``.npz`` reader, N-ImageNet ``.npz`` writer.

N-ImageNet (Kim et al., ICCV 2021) ships each sample as a NumPy ``.npz`` holding either

* ``event_data``: a structured array with fields ``x``, ``y``, ``t``, ``p``, or
* four 1-D arrays ``x_pos``, ``y_pos``, ``timestamp``, ``polarity``.

SpikingJelly's converted datasets (``events_np/CLASS/*.npz`` of CIFAR10-DVS, N-MNIST,
N-Caltech101, DVS128 Gesture) hold four 1-D arrays ``t``, ``x``, ``y``, ``p``
(``np.savez_compressed(t=..., x=..., y=..., p=...)``; CIFAR10-DVS's ``t`` is big-endian
uint32). Every layout is read by member and field *name*, never by position
(:data:`COLUMN_LAYOUTS`). SpikingJelly records no sensor size, so without ``geometry=``
such a file's geometry is its largest coordinates + 1 (one streaming pass at open);
dataset evaluation passes the dataset's sensor instead.

Timestamps are integer microseconds (the dataset's own loader divides them by 1e6 to
get seconds); polarity is stored as bool or 0/1 (some tools use -1/1): any value > 0
is ON. Floating-point timestamps are refused rather than guessed at. The sensor is
640x480 (the Prophesee Gen3 camera used to record it) unless the archive holds a
``sensor_size`` member (``[width, height]``, written by :class:`NpzWriter` so that
recordings of other sensors round-trip) or ``geometry=`` is given.

Streaming: each member is opened through :mod:`zipfile` (stored or deflated alike),
its ``.npy`` header parsed with NumPy's header reader (a literal, never unpickled;
object dtypes are refused) and the array read in slices of ``chunk_events``, so a
large archive replays in bounded memory. The writer spills events to a temporary
file beside the output and zips it on :meth:`NpzWriter.close`, also in bounded
memory; it writes ``event_data`` with fields ``x`` <u2, ``y`` <u2, ``t`` <i8, ``p``
bool.
"""
from __future__ import annotations

import lzma
import os
import shutil
import struct
import tempfile
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Iterator

import numpy as np
from numpy.lib import format as npy_format

from ezsr_live.errors import FormatError
from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry, SourceInfo, as_event_packet

from .base import Chunk, EventReader, EventWriter
from .registry import register_reader, register_writer

NIMAGENET_GEOMETRY = Geometry(640, 480)
#: dtype of the ``event_data`` member that :class:`NpzWriter` writes
NPZ_EVENT_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "?")])
STRUCTURED_KEY = "event_data"
#: layouts of four 1-D members: layout name -> member name of each field
COLUMN_LAYOUTS: dict[str, dict[str, str]] = {
    "columns": {"x": "x_pos", "y": "y_pos", "t": "timestamp", "p": "polarity"},  # N-ImageNet
    "spikingjelly": {"x": "x", "y": "y", "t": "t", "p": "p"},  # SpikingJelly's events_np
}
COLUMN_KEYS = COLUMN_LAYOUTS["columns"]
SENSOR_SIZE_KEY = "sensor_size"

#: largest event record accepted (N-ImageNet's structured records are ~30 bytes)
MAX_RECORD_BYTES = 256
#: most bytes inflated per read, whatever the declared dtype: memory stays bounded
MAX_READ_BYTES = 32 << 20

#: what zipfile / zlib / numpy's header parser raise on damaged archives
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,  # unsupported compression method
    RuntimeError,  # encrypted member
    struct.error,
    OverflowError,
    KeyError,
    UnicodeDecodeError,
)

_NPY_HEADER_ERRORS = (ValueError, SyntaxError, TypeError, tokenize.TokenError, RecursionError)

_COPY_BLOCK = 8 << 20


@dataclass(frozen=True)
class _Member:
    """One ``.npy`` member: where it is and what its header says."""

    name: str
    dtype: np.dtype
    count: int


def _read_npy_header(path: str, fp: IO[bytes], name: str) -> tuple[np.dtype, int]:
    try:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npy_format.read_array_header_2_0(fp)
        else:
            raise FormatError(path, f"member {name}: unsupported .npy version {version}")
    except _NPY_HEADER_ERRORS as exc:
        # numpy parses the header dict as a Python literal and reports damage as
        # whatever its tokenizer or dtype constructor raises
        raise FormatError(path, f"member {name}: damaged .npy header ({type(exc).__name__}: {exc})") from None
    if dtype.hasobject:
        raise FormatError(path, f"member {name}: object arrays would need unpickling; refused")
    if dtype.itemsize > MAX_RECORD_BYTES:
        # a record of kilobytes is no event: read chunk_events at a time it would make a
        # 2.5 MB archive inflate to gigabytes
        raise FormatError(path, f"member {name}: {dtype.itemsize}-byte records are not event data "
                                f"(at most {MAX_RECORD_BYTES})")
    if len(shape) == 2 and 1 in shape:
        shape = (shape[0] * shape[1],)  # column vectors saved as (N, 1)
    if len(shape) != 1:
        raise FormatError(path, f"member {name}: expected a 1-D array, got shape {shape}")
    return dtype, int(shape[0])


def _check_kind(path: str, name: str, dtype: np.dtype, what: str) -> None:
    if dtype.kind not in "biu":
        raise FormatError(path, f"{name}: {what} has dtype {dtype}; expected integers"
                          + (" (integer microseconds)" if what == "t" else ""))


def _to_events(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray, geometry: Geometry
) -> tuple[EventPacket, int]:
    """Vectorised conversion to our packet, dropping out-of-geometry events."""
    xi = x.astype(np.int64, copy=False)
    yi = y.astype(np.int64, copy=False)
    keep = (xi >= 0) & (xi < geometry.width) & (yi >= 0) & (yi < geometry.height)
    n_keep = int(np.count_nonzero(keep))
    all_kept = n_keep == len(keep)
    out = np.empty(n_keep, dtype=EVENT_DTYPE)
    out["t"] = t if all_kept else t[keep]
    out["x"] = x if all_kept else x[keep]
    out["y"] = y if all_kept else y[keep]
    out["p"] = (p if all_kept else p[keep]) > 0
    return out, len(keep) - n_keep


@register_reader(".npz")
class NpzReader(EventReader):
    """Streaming reader of N-ImageNet style ``.npz`` archives."""

    format = "npz"

    def _open(self) -> None:
        geometry = self.requested_geometry
        try:
            with zipfile.ZipFile(self.path) as zf:
                self._members, layout, sensor = self._inspect(zf)
                if geometry is None and sensor is None and layout == "spikingjelly":
                    sensor = self._scan_geometry(zf)
        except FormatError:
            raise
        except _ARCHIVE_ERRORS as exc:
            raise FormatError(self.path, f"not a readable .npz archive: {exc}") from None
        self.n_events = self._members[0].count
        self.info = SourceInfo(
            name=self.path,
            format=self.format,
            geometry=geometry or sensor or NIMAGENET_GEOMETRY,
            header={
                "layout": layout,
                "dtype": {m.name: str(m.dtype) for m in self._members},
                "n_events": self.n_events,
            },
        )

    def _inspect(self, zf: zipfile.ZipFile) -> tuple[list[_Member], str, Geometry | None]:
        names = {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}

        def member(key: str) -> _Member:
            with zf.open(names[key]) as fp:
                dtype, count = _read_npy_header(self.path, fp, names[key])
            return _Member(names[key], dtype, count)

        if STRUCTURED_KEY in names:
            m = member(STRUCTURED_KEY)
            missing = [f for f in "xytp" if m.dtype.names is None or f not in m.dtype.names]
            if missing:
                raise FormatError(self.path, f"{STRUCTURED_KEY} lacks field(s) {', '.join(missing)} (has {m.dtype.names})")
            for f in "xytp":
                _check_kind(self.path, STRUCTURED_KEY, m.dtype[f], f)
            members, layout = [m], STRUCTURED_KEY
        else:
            layout = next((k for k, keys in COLUMN_LAYOUTS.items() if all(v in names for v in keys.values())), None)
            if layout is None:
                expected = " or ".join(", ".join(keys.values()) for keys in COLUMN_LAYOUTS.values())
                raise FormatError(self.path, f"no event arrays: expected '{STRUCTURED_KEY}' or {expected}; "
                                  f"found {', '.join(sorted(names)) or 'nothing'}")
            keys = COLUMN_LAYOUTS[layout]
            members = [member(keys[f]) for f in "xytp"]
            for f, m in zip("xytp", members):
                _check_kind(self.path, m.name, m.dtype, f)
            if len({m.count for m in members}) != 1:
                raise FormatError(self.path, f"{', '.join(keys[f] for f in 'xytp')} differ in length: "
                                  + ", ".join(f"{m.name}={m.count}" for m in members))
        return members, layout, self._sensor_size(zf, names)

    def _sensor_size(self, zf: zipfile.ZipFile, names: dict[str, str]) -> Geometry | None:
        if SENSOR_SIZE_KEY not in names:
            return None
        with zf.open(names[SENSOR_SIZE_KEY]) as fp:
            dtype, count = _read_npy_header(self.path, fp, names[SENSOR_SIZE_KEY])
            if dtype.kind not in "iu" or count != 2:
                raise FormatError(self.path, f"{SENSOR_SIZE_KEY} must hold two integers [width, height]")
            size = np.frombuffer(fp.read(2 * dtype.itemsize), dtype=dtype)
        if len(size) != 2:
            raise FormatError(self.path, f"{SENSOR_SIZE_KEY} is truncated")
        try:
            return Geometry(int(size[0]), int(size[1]))
        except ValueError as exc:
            raise FormatError(self.path, f"{SENSOR_SIZE_KEY}: {exc}") from None

    def _scan_geometry(self, zf: zipfile.ZipFile) -> Geometry:
        """Largest x and y + 1, streamed (for layouts that record no sensor)."""
        extent = []
        for m in self._members[:2]:  # x, y
            top = -1
            for part in self._slices(zf, m):
                if len(part):
                    top = max(top, int(part.max()))
            extent.append(top + 1)
        if min(extent) < 1 or max(extent) > 65535:
            raise FormatError(self.path, f"cannot infer the sensor geometry from coordinates up to {extent}; "
                              "pass a geometry")
        return Geometry(*extent)

    def _slices(self, zf: zipfile.ZipFile, m: _Member) -> Iterator[np.ndarray]:
        """The member's array, ``chunk_events`` elements at a time."""
        with zf.open(m.name) as fp:
            _read_npy_header(self.path, fp, m.name)
            left = m.count
            done = 0
            per_read = max(1, MAX_READ_BYTES // max(1, m.dtype.itemsize))
            while left:
                n = min(left, self.chunk_events, per_read)
                data = fp.read(n * m.dtype.itemsize)
                if len(data) != n * m.dtype.itemsize:
                    raise FormatError(self.path, f"member {m.name} is truncated: {done + len(data) // m.dtype.itemsize} "
                                      f"of {m.count} elements present")
                yield np.frombuffer(data, dtype=m.dtype)
                left -= n
                done += n

    def iter_chunks(self) -> Iterator[Chunk]:
        self.stats = type(self.stats)()
        try:
            with zipfile.ZipFile(self.path) as zf:
                if len(self._members) == 1:
                    for rec in self._slices(zf, self._members[0]):
                        events, oob = _to_events(rec["x"], rec["y"], rec["t"], rec["p"], self.geometry)
                        self.stats.out_of_bounds += oob
                        if len(events):
                            yield Chunk(events)
                else:
                    for x, y, t, p in zip(*(self._slices(zf, m) for m in self._members)):
                        events, oob = _to_events(x, y, t, p, self.geometry)
                        self.stats.out_of_bounds += oob
                        if len(events):
                            yield Chunk(events)
        except FormatError:
            raise
        except _ARCHIVE_ERRORS as exc:
            raise FormatError(self.path, f"damaged .npz archive: {exc}") from None


@register_writer(".npz")
class NpzWriter(EventWriter):
    """Writes an N-ImageNet style ``event_data`` archive (plus ``sensor_size``).

    ``compressed=True`` deflates the archive like ``np.savez_compressed``; the
    default stores it like ``np.savez`` (several times faster to write and read).
    """

    format = "npz"

    def __init__(
        self,
        path: str | os.PathLike,
        geometry: Geometry,
        *,
        info: SourceInfo | None = None,
        compressed: bool = False,
    ) -> None:
        super().__init__(path, geometry, info=info)
        self.compressed = compressed
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            self._spill = tempfile.NamedTemporaryFile(dir=directory, prefix=".ezsr-npz-", suffix=".part", delete=False)
        except OSError as exc:
            raise FormatError(self.path, f"cannot create a temporary file beside it: {exc.strerror or exc}") from None
        self._closed = False

    def write(self, events: EventPacket) -> None:
        events = as_event_packet(events, source=self.path)
        rec = np.empty(len(events), dtype=NPZ_EVENT_DTYPE)
        rec["x"] = events["x"]
        rec["y"] = events["y"]
        rec["t"] = events["t"]
        rec["p"] = events["p"] > 0
        self._spill.write(rec.tobytes())
        self.n_written += len(events)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._spill.flush()
            self._spill.seek(0)
            compression = zipfile.ZIP_DEFLATED if self.compressed else zipfile.ZIP_STORED
            with zipfile.ZipFile(self.path, "w", compression=compression, allowZip64=True) as zf:
                with zf.open(STRUCTURED_KEY + ".npy", "w", force_zip64=True) as out:
                    npy_format.write_array_header_1_0(out, {
                        "descr": npy_format.dtype_to_descr(NPZ_EVENT_DTYPE),
                        "fortran_order": False,
                        "shape": (self.n_written,),
                    })
                    shutil.copyfileobj(self._spill, out, _COPY_BLOCK)
                with zf.open(SENSOR_SIZE_KEY + ".npy", "w") as out:
                    npy_format.write_array(out, np.array([self.geometry.width, self.geometry.height], dtype="<i4"))
        finally:  # a failed write is the GuardedWriter's to report (and to remove the archive)
            self._discard_spill()

    def abort(self) -> None:
        self._closed = True
        self._discard_spill()

    def _discard_spill(self) -> None:
        try:
            self._spill.close()
        except OSError:
            pass  # its buffered tail cannot be written either: it is removed anyway
        try:
            os.unlink(self._spill.name)
        except FileNotFoundError:
            pass
