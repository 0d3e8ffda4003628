"""Hand-overs from the engine's threads to the GUI thread, always newest-first.

* :class:`ResultPoller` polls the pipeline's :class:`~ezsr_live.runtime.handover.LatestSlot`
  from a QTimer in the GUI thread: ``take(0)`` never blocks, and a slot holds one
  result, so a slow GUI sees fewer results, never older ones.
* :class:`FrameRenderer` is a QThread that cuts the newest display window from the
  pipeline's ring and renders it (Numba, GIL released) into one of three rotating
  buffers. It renders the next frame only once the view has painted the previous one,
  so exactly one frame is ever in flight: no backlog, no wasted renders, and a buffer
  is never overwritten while the view may still paint it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from ezsr_live.kernels.display import display_frame
from ezsr_live.sources import Described, HoldsAtEnd
from ezsr_live.windows import WindowSpec

log = logging.getLogger(__name__)

#: a frame cycles through this many buffers: one being rendered, one shown, one spare
_BUFFERS = 3


@dataclass(frozen=True)
class RenderedFrame:
    """One display frame and where it came from."""

    image: np.ndarray  # (H, W, 3) uint8, row-major
    seq: int
    n_events: int
    t_end_us: int
    render_ms: float


class ResultPoller(QObject):
    """Emits the pipeline's newest result, and once when the pipeline ends or fails.

    A replay that waits at the end of its recording (``at_end``, see
    :class:`~ezsr_live.drivers.replay.ReplaySource`) counts as ended, and
    :attr:`sourceRestarted` says when a seek replays it again."""

    resultReady = Signal(object)
    pipelineEnded = Signal(str)
    sourceRestarted = Signal()

    def __init__(self, pipeline: Any, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pipeline = pipeline
        self._ended = False
        self._waiting_at_end = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def _poll(self) -> None:
        result = self._pipeline.results.take(0)
        if result is not None:
            self.resultReady.emit(result)
        source = self._pipeline.source
        at_end = isinstance(source, HoldsAtEnd) and source.at_end
        if self._ended:
            if self._waiting_at_end and not at_end and self._pipeline.error is None and not self._pipeline.finished:
                self._ended = self._waiting_at_end = False
                self.sourceRestarted.emit()
            return
        error = self._pipeline.error
        if error is not None:
            self._ended = True
            self.pipelineEnded.emit(f"stopped: {error}")
        elif self._pipeline.finished or at_end:
            self._ended, self._waiting_at_end = True, at_end
            self.pipelineEnded.emit(f"source {source.status if isinstance(source, Described) else 'ended'}")


class FrameRenderer(QThread):
    """Renders the newest display window in its own thread (see the module docstring)."""

    frameReady = Signal(object)

    def __init__(
        self,
        ring: Any,
        geometry: Any,
        window: Callable[[], WindowSpec],
        *,
        max_fps: float = 120.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ring = ring
        self._window = window
        self._min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self._buffers = [np.zeros((geometry.height, geometry.width, 3), np.uint8) for _ in range(_BUFFERS)]
        self._geometry = geometry
        self._stop = threading.Event()
        self._consumed = threading.Event()
        self._consumed.set()
        self._paused = threading.Event()
        self._step = threading.Event()
        self._force = threading.Event()
        self.frames_rendered = 0
        self.render_ms_total = 0.0

    # -- called from the GUI thread -------------------------------------------------
    def frame_painted(self) -> None:
        """The view has drawn the last frame: the next one may be rendered."""
        self._consumed.set()

    def set_paused(self, paused: bool) -> None:
        """While paused the view keeps its frame (the source keeps streaming)."""
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    def step(self) -> None:
        """While paused: render the newest window once."""
        self._step.set()

    def refresh(self) -> None:
        """Render again even if no event arrived (e.g. after the window length changed)."""
        self._force.set()

    def stop(self, timeout_s: float = 2.0) -> bool:
        """End the thread; True if it ended within ``timeout_s``."""
        self._stop.set()
        self._consumed.set()
        return self.wait(int(timeout_s * 1000))

    # -- the thread -----------------------------------------------------------------
    def run(self) -> None:
        after: int | None = None
        last = 0.0
        seq = 0
        try:
            while not self._stop.is_set():
                if not self._consumed.wait(0.05) or self._stop.is_set():
                    continue
                if self._paused.is_set() and not self._step.is_set():
                    self._stop.wait(0.02)
                    continue
                wait = last + self._min_interval - time.perf_counter()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
                if self._force.is_set():
                    self._force.clear()
                    after = None
                total = self._ring.total_pushed
                if after is not None and total == after:
                    self._ring.wait_for_events(total, timeout=0.05)
                    continue
                window = self._ring.newest(self._window(), after=after)
                if window is None:
                    continue
                self._step.clear()
                start = time.perf_counter()
                image = self._buffers[seq % _BUFFERS]
                display_frame(window.events, self._geometry, out=image)
                render_ms = (time.perf_counter() - start) * 1e3
                after, last, seq = window.stop_event, start, seq + 1
                self.frames_rendered += 1
                self.render_ms_total += render_ms
                self._consumed.clear()
                self.frameReady.emit(RenderedFrame(image, seq, len(window), int(window.t_end_us), render_ms))
        except Exception:  # a rendering bug must not take the window down silently
            log.exception("the display renderer failed")
