"""APS (intensity) frames of DAVIS recordings, for showing beside the events.

Only ``.aedat4`` files with a frames stream have them here (read with dv-processing's
``MonoCameraRecording``, one frame at a time, so memory stays one frame whatever the
file's length). Frames are looked up by their offset after the recording's first event,
the same clock as a replay's ``position_us``, so loops and seeks need no bookkeeping.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApsFrame:
    """One intensity frame: ``image`` (H, W) or (H, W, 3) uint8, ``offset_us`` after the
    recording's first event."""

    offset_us: int
    image: np.ndarray


class ApsFrameTrack:
    """Sequential access to a recording's frames by time offset (see the module docstring)."""

    def __init__(self, recording: object, origin_us: int, path: str) -> None:
        self._recording = recording
        self._origin = int(origin_us)
        self.path = path
        self._lock = threading.Lock()
        self._current: ApsFrame | None = None
        self._next: ApsFrame | None = None
        self._exhausted = False

    def _read(self) -> ApsFrame | None:
        frame = self._recording.getNextFrame()  # type: ignore[attr-defined]
        if frame is None:
            self._exhausted = True
            return None
        image = np.ascontiguousarray(frame.image)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        return ApsFrame(int(frame.timestamp) - self._origin, image)

    def frame_at(self, offset_us: int) -> ApsFrame | None:
        """The newest frame at or before ``offset_us`` (None before the first one)."""
        with self._lock:
            if self._current is not None and offset_us < self._current.offset_us:
                self._recording.resetSequentialRead()  # type: ignore[attr-defined]
                self._current = self._next = None
                self._exhausted = False
            if self._next is None and not self._exhausted:
                self._next = self._read()
            while self._next is not None and self._next.offset_us <= offset_us:
                self._current, self._next = self._next, self._read()
            return self._current


def open_frame_track(path: str | os.PathLike) -> ApsFrameTrack | None:
    """The APS frames of ``path``, or None when it has none (or is not an .aedat4)."""
    path = os.fspath(path)
    if not path.lower().endswith(".aedat4") or not os.path.isfile(path):
        return None
    try:
        import dv_processing as dv

        recording = dv.io.MonoCameraRecording(path)
        if not recording.isFrameStreamAvailable():
            return None
        # the replay's clock starts at the first event: so do the frames' offsets
        batch = recording.getNextEventBatch() if recording.isEventStreamAvailable() else None
        origin = batch.getLowestTime() if batch is not None and batch.size() else recording.getTimeRange()[0]
        recording.resetSequentialRead()
    except Exception as exc:  # noqa: BLE001 - dv reports problems as assorted C++ errors
        log.info("%s: its APS frames cannot be read (%s)", path, str(exc).split("Stacktrace:")[0].strip())
        return None
    return ApsFrameTrack(recording, int(origin), path)
