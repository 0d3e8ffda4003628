"""HDF5 event files (``.h5``, ``.hdf5``) through h5py.

Two layouts are read, by what the file holds:

* **columns** (DSEC, eTraM and most research code): datasets ``events/x``, ``events/y``,
  ``events/t``, ``events/p`` of equal length; ``t`` in µs, plus a scalar ``t_offset``
  (µs, DSEC) added to every time when present. ``ms_to_idx`` (the index of the first
  event at or after each millisecond, DSEC) is written by our writer and not needed to
  read. The sensor size comes from ``width``/``height`` attributes of ``events`` or of
  the root when present (our writer sets them), else from ``geometry=``, else from the
  largest coordinates (DSEC records none: its cameras are 640x480).
* **Prophesee** (Metavision's ``.hdf5``): a compound dataset ``CD/events`` with fields
  x, y, p, t, usually compressed with Prophesee's ECF codec (HDF5 filter 36559). HDF5
  decodes it only with that filter plugin installed; without it the reader says so in
  one line instead of failing deep inside HDF5.

Everything streams: ``chunk_events`` rows are read at a time, converted by field name.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import numpy as np

from ezsr_live.errors import FormatError
from ezsr_live.events import EventPacket, Geometry, SourceInfo, as_event_packet

from .base import Chunk, EventReader, EventWriter
from .registry import register_reader, register_writer

#: HDF5 filter id of Prophesee's ECF codec
ECF_FILTER_ID = 36559
ECF_HELP = ("install Prophesee's HDF5 ECF filter plugin (the hdf5_ecf codec shipped with OpenEB / the "
            "Metavision SDK, https://github.com/prophesee-ai/hdf5_ecf) and point HDF5_PLUGIN_PATH at it")
_COLUMNS = ("x", "y", "t", "p")
#: rows per dataset chunk and per ms_to_idx step when writing
_WRITE_CHUNK = 1 << 16


def _h5py(path: str = "") -> Any:
    try:
        import h5py
    except ImportError:
        raise FormatError(path, "reading or writing HDF5 needs h5py: pip install h5py") from None
    return h5py


def _missing_filters(dataset: Any) -> list[int]:
    """Filters in the dataset's pipeline that this HDF5 cannot apply."""
    h5py = _h5py()
    plist = dataset.id.get_create_plist()
    ids = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return [f for f in ids if not h5py.h5z.filter_avail(f)]


@register_reader(".h5", ".hdf5")
class Hdf5Reader(EventReader):
    """Streaming reader of column (``events/x,y,t,p``) and Prophesee (``CD/events``) HDF5."""

    format = "hdf5"

    def _open(self) -> None:
        h5py = _h5py(self.path)
        try:
            with h5py.File(self.path, "r") as f:
                self._layout, self.n_events, geometry, header = self._inspect(f)
                if geometry is None and self.requested_geometry is None:
                    geometry = self._scan_geometry(f)
        except FormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise FormatError(self.path, f"not a readable HDF5 event file: {exc}") from None
        self.info = SourceInfo(name=self.path, format=self.format,
                               geometry=self.requested_geometry or geometry, header=header)

    def _inspect(self, f: Any) -> tuple[str, int, Geometry | None, dict[str, Any]]:
        if "events" in f and all(c in f["events"] for c in _COLUMNS):
            group = f["events"]
            sets = [group[c] for c in _COLUMNS]
            for name, ds in zip(_COLUMNS, sets):
                if ds.ndim != 1 or ds.dtype.kind not in "biuf":
                    raise FormatError(self.path, f"events/{name} must be a 1-D numeric dataset, got {ds.dtype} "
                                                 f"of shape {ds.shape}")
                self._check_filters(ds, f"events/{name}")
            lengths = {len(ds) for ds in sets}
            if len(lengths) != 1:
                raise FormatError(self.path, "events/x, y, t and p differ in length: "
                                  + ", ".join(f"{c}={len(ds)}" for c, ds in zip(_COLUMNS, sets)))
            self._t_offset = int(np.asarray(f["t_offset"])) if "t_offset" in f else 0
            geometry = _attr_geometry(self.path, group.attrs) or _attr_geometry(self.path, f.attrs)
            return "columns", lengths.pop(), geometry, {"layout": "columns", "t_offset": self._t_offset,
                                                        "has_ms_to_idx": "ms_to_idx" in f}
        if "CD" in f and "events" in f["CD"]:
            ds = f["CD"]["events"]
            names = ds.dtype.names or ()
            missing = [c for c in _COLUMNS if c not in names]
            if ds.ndim != 1 or missing:
                raise FormatError(self.path, f"CD/events lacks field(s) {', '.join(missing) or '?'} "
                                             f"(has {', '.join(names) or 'no fields'})")
            self._check_filters(ds, "CD/events")
            self._t_offset = 0
            geometry = _attr_geometry(self.path, f.attrs) or _attr_geometry(self.path, f["CD"].attrs)
            return "prophesee", len(ds), geometry, {"layout": "prophesee"}
        raise FormatError(self.path, "no event datasets: expected events/{x,y,t,p} or CD/events; found "
                                     + (", ".join(sorted(f.keys())) or "nothing"))

    def _check_filters(self, ds: Any, name: str) -> None:
        missing = _missing_filters(ds)
        if ECF_FILTER_ID in missing:
            raise FormatError(self.path, f"{name} is compressed with Prophesee's ECF codec (HDF5 filter "
                                         f"{ECF_FILTER_ID}), which this HDF5 cannot decode: {ECF_HELP}")
        if missing:
            raise FormatError(self.path, f"{name} needs HDF5 filter(s) {missing}, not available here "
                                         "(install the plugin and set HDF5_PLUGIN_PATH)")

    def _blocks(self, f: Any) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        step = self.chunk_events
        if self._layout == "columns":
            sets = [f["events"][c] for c in _COLUMNS]
            for start in range(0, self.n_events, step):
                yield tuple(ds[start:start + step] for ds in sets)  # type: ignore[misc]
        else:
            ds = f["CD"]["events"]
            for start in range(0, self.n_events, step):
                rows = ds[start:start + step]
                yield rows["x"], rows["y"], rows["t"], rows["p"]

    def _scan_geometry(self, f: Any) -> Geometry:
        top_x = top_y = -1
        for x, y, _, _ in self._blocks(f):
            if len(x):
                top_x, top_y = max(top_x, int(x.max())), max(top_y, int(y.max()))
        if top_x < 0:
            raise FormatError(self.path, "no events to infer the sensor geometry from; pass a geometry")
        return Geometry(top_x + 1, top_y + 1)

    def iter_chunks(self) -> Iterator[Chunk]:
        h5py = _h5py()
        self.stats = type(self.stats)()
        width, height = self.geometry.width, self.geometry.height
        try:
            with h5py.File(self.path, "r") as f:
                for x, y, t, p in self._blocks(f):
                    events = as_event_packet({"t": np.asarray(t, np.int64) + self._t_offset, "x": x, "y": y,
                                              "p": p}, source=self.path)
                    inside = (events["x"] < width) & (events["y"] < height)
                    dropped = len(events) - int(np.count_nonzero(inside))
                    if dropped:
                        self.stats.out_of_bounds += dropped
                        events = events[inside]
                    if len(events):
                        yield Chunk(events)
        except FormatError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise FormatError(self.path, f"damaged HDF5 event file: {exc}") from None


def _attr_geometry(path: str, attrs: Any) -> Geometry | None:
    if "width" not in attrs or "height" not in attrs:
        return None
    try:
        return Geometry(int(attrs["width"]), int(attrs["height"]))
    except (TypeError, ValueError) as exc:
        raise FormatError(path, f"bad width/height attributes: {exc}") from None


@register_writer(".h5", ".hdf5")
class Hdf5Writer(EventWriter):
    """Writes the column layout: ``events/{x,y,t,p}`` (gzip-compressed, chunked,
    growing as packets come), ``ms_to_idx`` and ``t_offset`` as DSEC has them, and the
    sensor size as ``width``/``height`` attributes of ``events``. Times are stored
    relative to ``t_offset`` (the first event's time, in whole ms) as int64."""

    format = "hdf5"
    requires_monotonic = True  # ms_to_idx indexes time order: convert/record reorder first
    # HDF5 1.14 crashes (SIGSEGV) releasing a file whose flush failed on a full disk:
    # open_writer runs this writer in a child process
    isolated = True

    def __init__(self, path: str | os.PathLike, geometry: Geometry, *, info: SourceInfo | None = None) -> None:
        super().__init__(path, geometry, info=info)
        h5py = _h5py(self.path)
        try:
            self._file = h5py.File(self.path, "w")
        except OSError as exc:
            raise FormatError(self.path, f"cannot write: {exc}") from None
        group = self._file.create_group("events")
        group.attrs["width"], group.attrs["height"] = geometry.width, geometry.height
        types = {"x": "<u2", "y": "<u2", "t": "<i8", "p": "u1"}
        self._sets = {c: group.create_dataset(c, shape=(0,), maxshape=(None,), dtype=types[c],
                                              chunks=(_WRITE_CHUNK,), compression="gzip", compression_opts=1)
                      for c in _COLUMNS}
        self._t_offset: int | None = None
        self._last_t = -1  # relative to t_offset
        self._last_ms = -1
        self._ms_to_idx: list[np.ndarray] = []

    def write(self, events: EventPacket) -> None:
        events = as_event_packet(events, source=self.path)
        if not len(events):
            return
        if self._t_offset is None:
            self._t_offset = (int(events["t"][0]) // 1000) * 1000
        t = events["t"] - self._t_offset
        if t[0] < self._last_t or np.any(np.diff(t) < 0):
            raise FormatError(self.path, "HDF5 event files keep time order (ms_to_idx indexes it): "
                                         "events step back in time; reorder first")
        n0 = self.n_written
        # an OSError (a full disk) is the GuardedWriter's to report
        for c, values in (("x", events["x"]), ("y", events["y"]), ("t", t), ("p", events["p"] > 0)):
            ds = self._sets[c]
            ds.resize((n0 + len(events),))
            ds[n0:] = values
        # ms_to_idx[m] = index of the first event with t >= m ms
        last_ms = int(t[-1]) // 1000
        if last_ms > self._last_ms:
            ms = np.arange(self._last_ms + 1, last_ms + 1, dtype=np.int64)
            self._ms_to_idx.append(n0 + np.searchsorted(t, ms * 1000, side="left"))
            self._last_ms = last_ms
        self._last_t = int(t[-1])
        self.n_written += len(events)

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._file.create_dataset("t_offset", data=np.int64(self._t_offset or 0))
            ms = np.concatenate(self._ms_to_idx) if self._ms_to_idx else np.zeros(0, np.int64)
            self._file.create_dataset("ms_to_idx", data=ms.astype(np.uint64))
            self._file.close()
        finally:  # a failed write is the GuardedWriter's to report
            self.abort()

    def abort(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except Exception:  # noqa: BLE001 - h5py reports a failed flush as assorted errors
                pass
