"""iniVation cameras (DAVIS346, DAVIS240, DVXplorer, DVS128) via dv-processing 2.x.

``dv.io.camera.discover()`` lists devices; the spec (a model family name or a serial
number) picks one; ``dv.io.camera.open(serial)`` opens it and ``getNextEventBatch()``
delivers events. (dv-processing 2.x removed ``CameraCapture``.) When nothing matches,
the error lists what was found, model and serial.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

from ezsr_live.errors import SourceError
from ezsr_live.events import EventPacket, Geometry, SourceInfo

from .dv_common import eventstore_to_packet
from .sources import EventSource, register_fallback, register_names

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.0005

#: camera names users type → prefixes of dv-processing's camera model strings
MODEL_PREFIXES: dict[str, tuple[str, ...]] = {
    "davis346": ("DAVIS346",),
    "davis240": ("DAVIS240",),
    "davis": ("DAVIS",),
    "dvxplorer": ("DVXPLORER", "DVXPLORER_MINI", "DVXPLORERM"),
    "dvs128": ("DVS128",),
    "dv": ("",),  # any iniVation camera
}


def _describe(descriptor: Any) -> str:
    return f"{descriptor.cameraModel} (serial {descriptor.serialNumber})"


def _matches(spec: str, descriptor: Any) -> bool:
    prefixes = MODEL_PREFIXES.get(spec.lower())
    if prefixes is None:  # a serial number
        return str(descriptor.serialNumber) == spec
    model = str(descriptor.cameraModel).upper().replace(" ", "").replace("-", "")
    return any(model.startswith(p) for p in prefixes)


class DvCameraSource(EventSource):
    def __init__(self, spec: str, *, camera_module: Any = None, **_ignored: object) -> None:
        super().__init__()
        self.spec = spec
        if camera_module is None:
            import dv_processing as dv

            camera_module = dv.io.camera
        self._camera_module = camera_module
        try:
            found = list(camera_module.discover())
        except Exception as exc:
            raise SourceError(f"camera {spec!r}: listing iniVation cameras failed ({exc})") from None
        matching = [d for d in found if _matches(spec, d)]
        if not matching:
            what = ", ".join(_describe(d) for d in found) or "no iniVation cameras at all"
            wanted = "/".join(MODEL_PREFIXES.get(spec.lower(), (f"serial {spec}",))) or "any model"
            raise SourceError(
                f"camera {spec!r}: no iniVation camera matching {wanted} was found by "
                f"dv.io.camera.discover(); it found: {what}. Check the USB connection and permissions (udev rules)."
            )
        descriptor = matching[0]
        if len(matching) > 1:
            log.info("several cameras match %r; using %s", spec, _describe(descriptor))
        try:
            self._camera = camera_module.open(str(descriptor.serialNumber))
        except Exception as exc:
            raise SourceError(f"camera {_describe(descriptor)}: cannot open it ({exc})") from None
        if not self._camera.isEventStreamAvailable():
            raise SourceError(f"camera {_describe(descriptor)}: provides no event stream")
        w, h = self._camera.getEventResolution()
        self.info = SourceInfo(
            name=f"camera:{spec}",
            format="dv-camera",
            geometry=Geometry(int(w), int(h)),
            camera=str(self._camera.getCameraName() or descriptor.cameraModel),
            serial=str(descriptor.serialNumber),
        )
        self.out_of_bounds = 0

    def __iter__(self) -> Iterator[EventPacket]:
        self.status = "running"
        camera = self._camera
        while not self._stop_event.is_set():
            try:
                batch = camera.getNextEventBatch()
            except Exception as exc:
                self.status = f"ended: camera error ({exc})"
                return
            if batch is not None and batch.size() > 0:
                packet, bad = eventstore_to_packet(batch, self.geometry)
                self.out_of_bounds += bad
                yield packet
            elif not camera.isRunning():
                self.status = "ended: camera disconnected"
                return
            else:
                self._stop_event.wait(IDLE_POLL_S)
        self.status = "stopped"


@register_names(*MODEL_PREFIXES)
def _open_named(spec: str, **options: object) -> DvCameraSource:
    return DvCameraSource(spec, **options)


@register_fallback
def _open_serial(spec: str, **options: object) -> DvCameraSource:
    return DvCameraSource(spec, **options)
