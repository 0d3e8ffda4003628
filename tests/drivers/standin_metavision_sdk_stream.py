"""STAND-IN for the Prophesee Metavision SDK module ``metavision_sdk_stream``.

We have no Prophesee camera and the SDK is not on PyPI. This module mimics the small
part of its documented Python API that the adapter uses (Camera.from_first_available /
from_serial, width(), height(), move(); CameraStreamSlicer iterating slices whose
``events`` are EventCD arrays with fields x, y, p, t; SliceCondition.make_n_us), so the
adapter's conversion logic can be tested. It is not the SDK.
"""
from __future__ import annotations

import numpy as np

EVENT_CD = np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")])


class CameraException(RuntimeError):
    pass


class _StandInCamera:
    plugged: dict[str, "_StandInCamera"] = {}

    def __init__(self, serial: str, width: int, height: int, slices: list[np.ndarray], fail_after: int | None = None):
        self.serial, self._w, self._h, self.slices, self.fail_after = serial, width, height, slices, fail_after

    def width(self) -> int:
        return self._w

    def height(self) -> int:
        return self._h

    def move(self) -> "_StandInCamera":
        return self


class Camera:
    @staticmethod
    def from_first_available() -> _StandInCamera:
        if not _StandInCamera.plugged:
            raise CameraException("Camera not found. Check that a camera is plugged into your system and retry.")
        return next(iter(_StandInCamera.plugged.values()))

    @staticmethod
    def from_serial(serial: str) -> _StandInCamera:
        try:
            return _StandInCamera.plugged[serial]
        except KeyError:
            raise CameraException(f"Camera with serial {serial} not found") from None


class SliceCondition:
    def __init__(self, n_us: int) -> None:
        self.n_us = n_us

    @staticmethod
    def make_n_us(n_us: int) -> "SliceCondition":
        return SliceCondition(n_us)


class _Slice:
    def __init__(self, events: np.ndarray) -> None:
        self.events = events
        self.t = int(events["t"][-1]) if len(events) else 0


class CameraStreamSlicer:
    def __init__(self, camera: _StandInCamera, condition: SliceCondition) -> None:
        self.camera, self.condition = camera, condition

    def __iter__(self):
        for i, events in enumerate(self.camera.slices):
            if self.camera.fail_after is not None and i >= self.camera.fail_after:
                raise CameraException("device disconnected")
            yield _Slice(events)


def plug(serial: str, width: int, height: int, slices: list[np.ndarray], fail_after: int | None = None) -> None:
    _StandInCamera.plugged[serial] = _StandInCamera(serial, width, height, slices, fail_after)


def unplug_all() -> None:
    _StandInCamera.plugged.clear()
