"""The real-time pipeline: source thread → ring buffer → inference worker → newest result.

Three owners, two hand-overs, nothing queued without bound:

* the **source thread** iterates an :class:`~ezsr_live.drivers.sources.EventSource` and
  pushes packets into a fixed-capacity :class:`~ezsr_live.runtime.ring.EventRingBuffer`
  (optionally taping them to a recorder first);
* the **inference worker** takes the newest window whenever it is free (latest wins:
  windows that came and went meanwhile are skipped and counted, never queued), turns it
  into the EZSR frame with the Numba kernel, runs the recogniser and publishes a
  :class:`Result` into a :class:`LatestSlot`;
* the **consumer** (GUI, headless printer) takes the newest result; a slow consumer
  only ever sees fewer, never older, results.

A **lossless** pipeline recognises every consecutive window instead, holding the
source back (:mod:`ezsr_live.runtime.lossless`); a change of window restarts the cut at
the next packet. Several pipelines can share one recogniser
(:mod:`ezsr_live.runtime.batching`), which recognises their windows in one batch.

Settings and vocabulary edits are queued to the worker and applied before its next
window. An exception in any thread stops the pipeline and is re-raised to the
consumer by :meth:`Pipeline.results`/:meth:`Pipeline.check`.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

import numpy as np

from ezsr_live.events import EVENT_DTYPE, Roi, as_event_packet
from ezsr_live.kernels import ezsr_model_input
from ezsr_live.kernels.roi import crop_events
from ezsr_live.runtime import lossless as lossless_mod
from ezsr_live.runtime.handover import LatestSlot, ResultQueue
from ezsr_live.runtime.metrics import Result, RollingPercentiles
from ezsr_live.runtime.rates import EventRateCounter
from ezsr_live.runtime.ring import EventRingBuffer
from ezsr_live.runtime.settings import RuntimeSettings, check_changes
from ezsr_live.settings import RING_EVENTS
from ezsr_live.sources import CountsOutOfBounds, Described, EventSourceLike, Pausable, Stoppable, WarmsUp
from ezsr_live.windows import Window, WindowSpec

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: the ring's capacity (ezsr_live.settings.RING_EVENTS: a window by count is at most this long)
DEFAULT_RING_EVENTS = RING_EVENTS


class RecognizerLike(Protocol):
    """What the pipeline (and the window around it) uses of
    :class:`ezsr_live.model.recognizer.Recognizer`."""

    #: side of the square model input (px)
    input_size: int
    #: the labels and templates, edited in the worker thread (:meth:`Pipeline.edit_vocabulary`)
    vocabulary: Any
    #: the k-NN translator as configured, or None (switched off and on with :meth:`set_knn`)
    knn: Any
    #: where inference runs (``torch.device`` or its name) and what model it is, for display
    device: Any
    model_id: str

    def recognize(self, frames: torch.Tensor, k: int | None = None) -> list[list[Any]]: ...

    def set_knn(self, knn: Any) -> None: ...


class Pipeline:
    """Source → windows → recogniser → newest result, in two threads of its own."""

    def __init__(
        self,
        source: EventSourceLike,
        recognizer: RecognizerLike | None,
        settings: RuntimeSettings | None = None,
        *,
        ring_events: int = DEFAULT_RING_EVENTS,
        tap: Callable[[np.ndarray], Any] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        lossless: bool = False,
        stream: int = 0,
        stream_name: str | None = None,
    ) -> None:
        self.source = source
        #: every consecutive window, with back-pressure (see the module docstring)
        self.lossless = bool(lossless)
        self.stream = int(stream)
        self.stream_name = stream_name or (source.info.name if isinstance(source, Described) else "") or ""
        # None: attached later (:meth:`attach_recognizer`); the source and the ring run
        # meanwhile, so that a window can show events while the model loads
        self.recognizer: Any = recognizer
        self._recognizer_ready = threading.Event()
        self.settings = settings or RuntimeSettings()
        self.geometry = source.geometry
        self._counts_out_of_bounds = isinstance(source, CountsOutOfBounds)
        self._pausable: Pausable | None = source if isinstance(source, Pausable) else None
        self.ring = EventRingBuffer(ring_events, restart_gap_us=None)
        check_changes(self.settings.as_changes(), self.ring.capacity)
        spec = self.settings.window
        if self.settings.roi is not None:
            self.settings.roi.check_inside(self.geometry)
        self._stop = threading.Event()
        self.results: LatestSlot | ResultQueue
        self._feed: lossless_mod.LosslessFeed | None = None
        if self.lossless:
            self._feed = lossless_mod.LosslessFeed(spec.n_events, self._stop.is_set)
            self.results = ResultQueue(lossless_mod.RESULTS, self._stop.is_set)
        else:
            self.results = LatestSlot()
        self.tap = tap
        # further taps (a recording started from the window) come and go while running;
        # the source thread reads this tuple once per packet, so swapping it is atomic
        self._taps: tuple[Callable[[np.ndarray], Any], ...] = ()
        #: ON/OFF events per bin of sensor time, counted as packets arrive
        self.rates = EventRateCounter()
        # the translator as configured, kept so that k-NN can be switched off and on again
        self._knn = recognizer.knn if recognizer is not None else None
        if recognizer is not None:
            self._recognizer_ready.set()
        self._clock = clock
        self._source_done = threading.Event()
        self._edits: collections.deque[Callable[[], None]] = collections.deque()
        self._edits_lock = threading.Lock()
        self._step_requested = threading.Event()
        self.error: BaseException | None = None
        # (total events pushed after a push, wall time of that push): when did event i arrive
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=4096)
        self._arrivals_lock = threading.Lock()
        self.latency = RollingPercentiles()
        self.windows_skipped = 0
        self.events_in = 0
        self._seq = 0
        self._result_walls: collections.deque[float] = collections.deque(maxlen=256)
        self._source_thread = threading.Thread(target=self._source_loop, name="ezsr-source", daemon=True)
        self._worker_thread = threading.Thread(target=self._worker_loop, name="ezsr-worker", daemon=True)

    # ----------------------------------------------------------------- control
    def start(self) -> "Pipeline":
        if self.settings.paused and self._pausable is not None:
            self._pausable.pause()  # started paused: the replay waits for a step or a resume
        self._warm_up()
        self._source_thread.start()
        self._worker_thread.start()
        return self

    def attach_recognizer(self, recognizer: RecognizerLike, *, window: WindowSpec | None = None) -> None:
        """Give a pipeline built without one its recogniser (from any thread, once); the
        worker starts recognising at its next window, cut as ``window`` (the model's own)
        if given."""
        if self._recognizer_ready.is_set():
            raise RuntimeError("the pipeline has a recogniser already")
        if window is not None:
            # the worker reads the settings only once the recogniser is there: safe to set
            check_changes({"window": window}, self.ring.capacity)
            self.settings = dataclasses.replace(self.settings, window=window)
        ezsr_model_input(np.zeros(0, EVENT_DTYPE), self.geometry, size=recognizer.input_size,
                         coords=self.settings.coords)  # the kernel loads here, not in the worker
        self.recognizer = recognizer
        self._knn = recognizer.knn
        self._recognizer_ready.set()

    @property
    def has_recognizer(self) -> bool:
        return self._recognizer_ready.is_set()

    def _warm_up(self) -> None:
        """Load the source's and the worker's Numba kernels here, before their threads
        start: there, the first call can take seconds (see ``EventSource.warm_up``)."""
        try:
            sample = self.source.warm_up() if isinstance(self.source, WarmsUp) else None
        except Exception as exc:  # the source's own thread will meet (and report) the same problem
            log.debug("source warm-up failed: %s", exc)
            sample = None
        events = sample if sample is not None else np.zeros(0, EVENT_DTYPE)
        if self.recognizer is not None:
            ezsr_model_input(events, self.geometry, size=self.recognizer.input_size, coords=self.settings.coords)
        crop_events(events, Roi(0, 0, 1, 1))
        self.rates.add(events)
        self.rates.clear()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop both threads; True if they ended within ``timeout`` seconds."""
        self._stop.set()
        if isinstance(self.source, Stoppable):
            self.source.stop()
        deadline = time.monotonic() + timeout
        for thread in (self._source_thread, self._worker_thread):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self.results.close()
        return not (self._source_thread.is_alive() or self._worker_thread.is_alive())

    @property
    def running(self) -> bool:
        return self._worker_thread.is_alive()

    @property
    def stopped(self) -> bool:
        """:meth:`stop` was called, or a thread failed."""
        return self._stop.is_set()

    @property
    def finished(self) -> bool:
        """The source ended and the worker published its last window (or stopped)."""
        return not self._worker_thread.is_alive() and self._worker_thread.ident is not None

    def update(self, **changes: Any) -> None:
        """Change runtime settings (``window``, ``top_k``, ``knn_enabled``, ``knn_k``,
        ``knn_tau``, ``knn_alpha``, ``coords``, ``paused``, ``roi``, ``min_confidence``);
        applied at the next window."""
        changes = check_changes(changes, self.ring.capacity)
        if changes.get("roi") is not None:
            changes["roi"].check_inside(self.geometry)

        if "paused" in changes and self._pausable is not None:
            # at once, not at the next window: the recording must stop where the user saw it
            if changes["paused"]:
                self._pausable.pause()
            else:
                self._pausable.resume()

        def apply() -> None:
            self.settings = dataclasses.replace(self.settings, **changes)
            self._apply_knn_settings()

        self._queue_edit(apply)

    @property
    def configured_knn(self) -> Any:
        """The k-NN translator the pipeline was built with (None: none), switched on or off."""
        return self._knn

    @property
    def pauses_source(self) -> bool:
        """True when pausing holds the source's own clock (a replay), not only the
        recognition (a camera cannot wait: there, pausing skips what it delivers)."""
        return self._pausable is not None

    def edit_vocabulary(self, edit: Callable[[Any], None]) -> None:
        """Run ``edit(vocabulary)`` in the worker thread before its next window (the
        vocabulary is owned by the worker; its re-encoding is incremental)."""
        self._queue_edit(lambda: self._exclusive(lambda: edit(self.recognizer.vocabulary)))

    def _exclusive(self, fn: Callable[[], None]) -> None:
        # a recogniser shared by several streams runs edits between its batches
        exclusive = getattr(self.recognizer, "exclusive", None)
        if exclusive is not None:
            exclusive(fn)
        else:
            fn()

    def add_tap(self, tap: Callable[[np.ndarray], Any]) -> None:
        """Also hand every packet from now on to ``tap`` (in the source thread, before the ring)."""
        self._taps = (*self._taps, tap)

    def remove_tap(self, tap: Callable[[np.ndarray], Any]) -> None:
        """Stop handing packets to ``tap`` (one added, or the one given at construction);
        once this returns, it sees at most the packet being handed over right now."""
        if self.tap is tap:
            self.tap = None
        self._taps = tuple(t for t in self._taps if t is not tap)

    def step(self) -> None:
        """While paused: process exactly one more window. A replay releases the next
        window's events (the window after the last one recognised, not the newest) and
        holds again; a camera's newest window is taken."""
        if self._pausable is not None and self._pausable.paused:
            spec = self.settings.window
            if spec.n_events is not None:
                self._pausable.step(n_events=spec.n_events)
            else:
                self._pausable.step(duration_us=spec.duration_us)
            return
        self._step_requested.set()

    def _queue_edit(self, fn: Callable[[], None]) -> None:
        # the worker never waits more than 50 ms without checking its edit queue
        with self._edits_lock:
            self._edits.append(fn)

    def _apply_edits(self) -> None:
        while True:
            with self._edits_lock:
                if not self._edits:
                    return
                fn = self._edits.popleft()
            fn()

    def _apply_knn_settings(self) -> None:
        knn = self._knn
        if knn is None:
            return
        s = self.settings
        for name, value in (("k", s.knn_k), ("tau", s.knn_tau), ("alpha", s.knn_alpha)):
            if value is not None:
                setattr(knn, name, min(int(value), len(knn.pool)) if name == "k" else float(value))
        self.recognizer.set_knn(knn if s.knn_enabled else None)

    def check(self) -> None:
        """Re-raise an error from either thread (consumers call this)."""
        if self.error is not None:
            raise self.error

    def iter_results(self, timeout: float = 0.1, *, idle: bool = False) -> Iterator[Result | None]:
        """Newest results until the pipeline finishes or is stopped; raises thread errors.

        With ``idle=True`` it also yields None after each ``timeout`` without a result,
        so that a consumer can keep its own deadlines while the scene is quiet."""
        while True:
            result = self.results.take(timeout)
            if result is not None:
                yield result
            elif self.finished or self._stop.is_set():
                # a lossless queue may still hold several
                while (result := self.results.take(0)) is not None:
                    yield result
                break
            elif idle:
                yield None
        self.check()

    @property
    def alive_threads(self) -> list[str]:
        """Names of this pipeline's threads that are still running."""
        return [t.name for t in (self._source_thread, self._worker_thread) if t.is_alive()]

    # ----------------------------------------------------------------- threads
    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        log.debug("pipeline thread failed", exc_info=exc)
        self._stop.set()
        if isinstance(self.source, Stoppable):
            self.source.stop()

    def _source_loop(self) -> None:
        name = (self.source.info.name if isinstance(self.source, Described) else None) or "source packet"
        try:
            for packet in self.source:
                if self._stop.is_set():
                    break
                # by field name, once, so that the tap (a recorder) and the ring see the same events
                packet = as_event_packet(packet, source=name)
                if self.tap is not None:
                    self.tap(packet)
                for tap in self._taps:
                    tap(packet)
                self.rates.add(packet)
                if self._feed is None:
                    self._arrive(packet)
                elif not self._feed.admit(packet, self._arrive):
                    break  # stopped while the worker was behind
        except BaseException as exc:  # surfaced to the consumer
            self._fail(exc)
        finally:
            if self._feed is not None:
                self._feed.close()
            self._source_done.set()

    def _arrive(self, packet: np.ndarray) -> None:
        self.ring.push(packet)
        self.events_in += len(packet)
        with self._arrivals_lock:
            self._arrivals.append((self.ring.total_pushed, self._clock()))

    def _arrival_time(self, stop_event: int) -> float:
        """Wall time at which stream event ``stop_event - 1`` had been pushed."""
        with self._arrivals_lock:
            for total, wall in self._arrivals:
                if total >= stop_event:
                    return wall
            return self._arrivals[-1][1] if self._arrivals else self._clock()

    def _count_skipped(self, window: Window, previous: Window | None, spec: WindowSpec) -> int:
        if previous is None:
            return 0
        if spec.n_events is not None:
            new_events = window.stop_event - previous.stop_event
            return max(0, new_events // spec.n_events - 1)
        advance = window.t_end_us - previous.t_end_us
        return max(0, advance // spec.span_us - 1)

    def _worker_loop(self) -> None:
        while not self._recognizer_ready.wait(0.05):
            if self._stop.is_set():
                self.results.close()
                return
        join, leave = getattr(self.recognizer, "join", None), getattr(self.recognizer, "leave", None)
        if join is not None:
            join()
        try:
            if self.lossless:
                self._lossless_loop()
            else:
                self._latest_loop()
        finally:
            if leave is not None:
                leave()

    def _lossless_loop(self) -> None:
        assert self._feed is not None
        try:
            for window, stop_event in self._feed.windows(lambda: self.settings.window, self._apply_edits):
                self.results.put(self._recognize(window, self._arrival_time(stop_event)))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self.results.close()

    def _latest_loop(self) -> None:
        previous: Window | None = None
        after: int | None = None
        try:
            pausable = self._pausable
            while not self._stop.is_set():
                self._apply_edits()
                holds: int | None = None
                if self.settings.paused and pausable is not None:
                    # the replay holds its clock: recognise what it released (the last
                    # window before the pause, then each step's), and only once all of
                    # it is in the ring, so that a step gives exactly one result
                    if not (pausable.holding or self._source_done.is_set()):
                        self._stop.wait(0.005)
                        continue
                    holds = pausable.holds
                elif self.settings.paused and not self._step_requested.is_set():
                    self.ring.wait_for_events(self.ring.total_pushed, timeout=0.05)
                    continue
                total = self.ring.total_pushed
                if after is not None and total <= after:
                    if self._source_done.is_set():
                        break
                    self.ring.wait_for_events(total, timeout=0.05)
                    continue
                spec = self.settings.window
                window = self.ring.newest(spec, after=after)
                if window is None or len(window) == 0:
                    if self._source_done.is_set() and self.ring.total_pushed == total:
                        break
                    self.ring.wait_for_events(total, timeout=0.05)  # nothing yet: wait, never spin
                    continue
                if not window.complete and not self._source_done.is_set() and holds is None:
                    # the stream has not filled a whole window yet (start-up): wait for it
                    # (not while a replay holds: it fills nothing until the next step)
                    self.ring.wait_for_events(window.stop_event, timeout=0.05)
                    continue
                if (holds is not None and not self._source_done.is_set()
                        and not (pausable is not None and pausable.holding and pausable.holds == holds)):
                    continue  # a step began while the window was cut: wait for all of it
                self._step_requested.clear()
                arrived = self._arrival_time(window.stop_event)
                self.windows_skipped += self._count_skipped(window, previous, spec)
                result = self._recognize(window, arrived)
                self.results.put(result)
                previous, after = window, window.stop_event
        except BaseException as exc:
            self._fail(exc)
        finally:
            self.results.close()

    def _recognize(self, window: Window, arrived: float) -> Result:
        s = self.settings
        start = self._clock()
        events, geometry = window.events, self.geometry
        if s.roi is not None:
            events, geometry = crop_events(events, s.roi), s.roi.geometry
        frame = ezsr_model_input(events, geometry, size=self.recognizer.input_size, coords=s.coords)
        import torch  # imported once the model is used: the window paints before torch loads

        predictions = self.recognizer.recognize(torch.from_numpy(frame)[None], k=s.top_k)[0]
        done = self._clock()
        latency_ms = (done - arrived) * 1e3
        self.latency.add(latency_ms)
        self._result_walls.append(done)
        walls = [w for w in self._result_walls if done - w <= 1.0]
        fps = (len(walls) - 1) / (walls[-1] - walls[0]) if len(walls) > 1 and walls[-1] > walls[0] else 0.0
        span_us = max(1, window.t_end_us - window.t_start_us)
        self._seq += 1
        return Result(
            seq=self._seq,
            t_us=int(window.t_end_us - 1),
            t_window_start_us=int(window.t_start_us),
            topk=tuple((p.label, float(p.probability)) for p in predictions),
            n_events=len(window),
            event_rate=len(window) / span_us * 1e6,
            latency_ms=latency_ms,
            infer_ms=(done - start) * 1e3,
            fps=fps,
            windows_skipped=self.windows_skipped,
            events_dropped=self.events_dropped,
            latency_p50_ms=self.latency.percentile(50),
            latency_p99_ms=self.latency.percentile(99),
            stream=self.stream,
            stream_name=self.stream_name,
            none_of_these=bool(predictions) and float(predictions[0].probability) < s.min_confidence,
        )

    @property
    def events_dropped(self) -> int:
        """Events lost before the ring: events outside the sensor, dropped by the source
        (the ring itself never blocks the source, so drops nothing)."""
        return int(self.source.out_of_bounds) if self._counts_out_of_bounds else 0  # type: ignore[attr-defined]

    def __enter__(self) -> "Pipeline":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
