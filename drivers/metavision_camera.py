"""Prophesee cameras (EVK4, Gen3/Gen4 kits) through the Metavision SDK's Python modules.

The SDK is not on PyPI, so it is imported lazily: ``metavision_sdk_stream.Camera``
(``from_first_available()`` or ``from_serial(serial)``) feeds a ``CameraStreamSlicer``
cut into short time slices, whose ``events`` arrays (fields x, y, p, t) become our
packets. Without the SDK the user is told how to get it.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any, Iterator

import numpy as np

from ezsr_live.errors import SourceError
from ezsr_live.events import EventPacket, Geometry, SourceInfo, as_event_packet, drop_outside

from .sources import EventSource, register_names, register_scheme

log = logging.getLogger(__name__)

SDK_MODULE = "metavision_sdk_stream"
#: slice length asked of the SDK: short, so that latency stays low
SLICE_US = 1000

INSTALL_HINT = (
    "the Prophesee Metavision SDK is not installed (Python module 'metavision_sdk_stream' not found). "
    "Install OpenEB from source (https://github.com/prophesee-ai/openeb, build with Python bindings) "
    "or Prophesee's Metavision SDK packages, and put its Python directory on PYTHONPATH."
)


def import_sdk() -> Any:
    try:
        return importlib.import_module(SDK_MODULE)
    except ImportError:
        raise SourceError(INSTALL_HINT) from None


def slice_events_to_packet(events: Any) -> EventPacket:
    """Convert the SDK's EventCD array (x, y, p, t) to our dtype by field name, vectorised."""
    return as_event_packet(np.asarray(events), source="Metavision SDK events")


class MetavisionCameraSource(EventSource):
    def __init__(self, spec: str, *, sdk: Any = None, **_ignored: object) -> None:
        super().__init__()
        self.spec = spec
        self._sdk = sdk if sdk is not None else import_sdk()
        serial = spec.split(":", 1)[1] if ":" in spec else ""
        try:
            camera = self._sdk.Camera.from_serial(serial) if serial else self._sdk.Camera.from_first_available()
        except Exception as exc:
            what = f"with serial {serial}" if serial else "at all"
            raise SourceError(f"camera {spec!r}: no Prophesee camera {what} could be opened ({exc})") from None
        geometry = Geometry(int(camera.width()), int(camera.height()))
        self._slicer = self._sdk.CameraStreamSlicer(camera.move(), self._sdk.SliceCondition.make_n_us(SLICE_US))
        self.info = SourceInfo(
            name=f"camera:{spec}", format="metavision", geometry=geometry, camera="Prophesee", serial=serial or None
        )
        self.out_of_bounds = 0

    def __iter__(self) -> Iterator[EventPacket]:
        self.status = "running"
        try:
            for sl in self._slicer:
                if self._stop_event.is_set():
                    self.status = "stopped"
                    return
                packet, bad = drop_outside(slice_events_to_packet(sl.events), self.geometry)
                self.out_of_bounds += bad
                if len(packet):
                    yield packet
        except Exception as exc:  # the SDK raises CameraException when the device goes away
            self.status = f"ended: camera error ({exc})"
            return
        self.status = "ended: camera stream ended"


@register_names("prophesee", "evk4", "evk3")
def _open_named(spec: str, **options: object) -> MetavisionCameraSource:
    return MetavisionCameraSource(spec if ":" in spec else "prophesee", **options)


@register_scheme("prophesee")
def _open_serial(spec: str, **options: object) -> MetavisionCameraSource:
    return MetavisionCameraSource(spec, **options)
