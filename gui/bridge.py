"""Hand-overs from the engine's threads to the GUI thread, always newest-first.

* :class:`ResultPoller` polls the pipeline's :class:`~ezsr_live.runtime.handover.LatestSlot`
  from a QTimer in the GUI thread: ``take(0)`` never blocks, and a slot holds one
  result, so a slow GUI sees fewer results, never older ones.
* :class:`FrameRenderer` is a QThread that cuts the newest display accumulation (its
  own window, apart from the recognition window) from the pipeline's ring and paints
  it (Numba, GIL released) into one of three rotating buffers. It renders the next frame only once the view has painted the previous one,
  so exactly one frame is ever in flight: no backlog, no wasted renders, and a buffer
  is never overwritten while the view may still paint it.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from ezsr_live.runtime.display import FRAME_BUFFERS, DisplayFrame, DisplayRenderer, DisplaySettings
from ezsr_live.sources import Described, HoldsAtEnd

log = logging.getLogger(__name__)

#: frames the renderer may have handed over unpainted (with FRAME_BUFFERS = 3, the
#: buffer it paints into is then neither the one on screen nor the one on its way)
IN_FLIGHT = FRAME_BUFFERS - 1
#: what the renderer hands to the view (the engine's frame: a reused uint32 buffer)
RenderedFrame = DisplayFrame


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
    """Renders the newest display accumulation in its own thread (see the module
    docstring) with :class:`~ezsr_live.runtime.display.DisplayRenderer`; at most
    ``settings.fps`` frames per second, and never a frame the view has not asked for."""

    frameReady = Signal(object)

    def __init__(
        self,
        ring: Any,
        geometry: Any,
        settings: DisplaySettings | None = None,
        *,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._display = DisplayRenderer(ring, geometry, settings)
        self._ring = ring
        self._stop = threading.Event()
        # frames handed over but not yet painted: at most IN_FLIGHT, so that the next
        # frame is ready when the view has painted one (no idle hand-over between
        # threads per frame), and a buffer is never repainted while the view shows it
        self._consumed = threading.Event()
        self._consumed.set()
        self._seq_sent = 0
        self._seq_painted = 0
        self._paused = threading.Event()
        self._step = threading.Event()
        self._force = threading.Event()

    # -- read from any thread -------------------------------------------------------
    @property
    def settings(self) -> DisplaySettings:
        return self._display.settings

    @property
    def frames_rendered(self) -> int:
        return self._display.frames_rendered

    @property
    def render_ms_total(self) -> float:
        return self._display.render_ms_total

    # -- called from the GUI thread -------------------------------------------------
    @Slot(object)
    def set_settings(self, settings: DisplaySettings) -> None:
        """Show the view with new settings from the next frame on (repainted at once)."""
        self._display.settings = settings  # one reference swap: the thread reads it whole
        self._force.set()

    def frame_painted(self, seq: int | None = None) -> None:
        """The view has drawn frame ``seq`` (None: the last one sent); frames before it
        that it never drew count as consumed too."""
        self._seq_painted = max(self._seq_painted, self._seq_sent if seq is None else int(seq))
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
        """Render again even if no event arrived (e.g. after a seek)."""
        self._force.set()

    def stop(self, timeout_s: float = 2.0) -> bool:
        """End the thread; True if it ended within ``timeout_s``."""
        self._stop.set()
        self._consumed.set()
        return self.wait(int(timeout_s * 1000))

    # -- the thread -----------------------------------------------------------------
    def run(self) -> None:
        last = 0.0
        display = self._display
        try:
            while not self._stop.is_set():
                if not self._consumed.wait(0.05) or self._stop.is_set():
                    continue
                if self._paused.is_set() and not self._step.is_set():
                    self._stop.wait(0.02)
                    continue
                wait = last + 1.0 / display.settings.fps - time.perf_counter()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
                force = self._force.is_set()
                self._force.clear()
                total = self._ring.total_pushed
                if not force and display.after is not None and total == display.after:
                    self._ring.wait_for_events(total, timeout=0.05)
                    continue
                start = time.perf_counter()
                frame = display.render_newest(force=force)
                if frame is None:
                    continue
                self._step.clear()
                last = start
                self._seq_sent = frame.seq
                if self._seq_sent - self._seq_painted >= IN_FLIGHT:
                    self._consumed.clear()
                    if self._seq_sent - self._seq_painted < IN_FLIGHT:  # painted meanwhile
                        self._consumed.set()
                self.frameReady.emit(frame)
        except Exception:  # a rendering bug must not take the window down silently
            log.exception("the display renderer failed")
