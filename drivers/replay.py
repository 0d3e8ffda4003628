"""Replay of a recording, paced to the recording's own clock.

Pacing follows *event time*, not file order: a packet is cut into slices of about one
millisecond of wall time by the running maximum of its timestamps (RAW files step back
in time by a few µs now and then), and each slice is released when the wall clock
reaches its sensor time divided by the speed. The schedule is absolute (computed from
the replay's start, never from the previous sleep), so it cannot drift however long
the file; the thread sleeps once per slice, never per event.

Timestamps keep the recording's own clock (an .aedat4 file keeps its Unix µs).
``start_us``/``duration_us`` are relative to the first event of the file. With
``loop``, every pass after the first is shifted forward by the recording's span (plus
one slice) so that time keeps increasing for consumers.

While running, :meth:`ReplaySource.set_speed` re-anchors the schedule at the newest
released event (the new pace starts with the next slice), and
:meth:`ReplaySource.seek` starts a new pass at another position; like a loop pass, its
timestamps are shifted to continue the stream's clock, so consumers (the pipeline's
ring buffer, its time windows) never see time go back.

:meth:`ReplaySource.pause` holds the recording's clock: nothing is released until
:meth:`~ReplaySource.resume` (which re-anchors the schedule at the newest released
event, so the replay continues from there without a burst) or a
:meth:`~ReplaySource.step`, which releases exactly one more window's worth of events
(``n_events``, or ``duration_us`` of event time) at once and holds again.

With ``hold_at_end`` (the window sets it), the end of the recording does not end the
iteration: the replay waits there (:attr:`ReplaySource.at_end`) for a seek, which
replays from that position, or for :meth:`~ReplaySource.stop`. :meth:`measure_span`
reads the recording once in the background so that its length is known before the
first pass has ended.
"""
from __future__ import annotations

import collections
import itertools
import os
import threading
import time
from typing import Any, Callable, Generator, Iterator

import numpy as np
from numba import njit

from ezsr_live.errors import SourceError
from ezsr_live.events import DEFAULT_CHUNK_EVENTS, EVENT_DTYPE, EventPacket, Geometry
from ezsr_live.settings import DURATION_US, SPEED, START_US, ReplaySettings, Setting, SettingError

from .registry import open_reader
from .sources import EventSource, register_scheme

#: wall time between two releases at any speed
SLICE_WALL_S = 0.001


class _Step:
    """What one :meth:`ReplaySource.step` still has to release."""

    def __init__(self, n_events: int | None, duration_us: int | None) -> None:
        self.n_events = n_events
        self.duration_us = duration_us
        self.until_t: int | None = None  # time steps: the clock at which the step ends
        self.released = 0

    def take(self, t: np.ndarray, running_max: int) -> tuple[int, bool]:
        """How many leading events of ``t`` (the unreleased rest of a packet) the step
        releases, and whether that completes it."""
        if self.n_events is not None:
            k = min(self.n_events - self.released, len(t))
            self.released += k
            return k, self.released == self.n_events
        if self.until_t is None:
            # the next window: the events while the clock advances by its duration
            self.until_t = running_max + int(self.duration_us or 0)
        beyond = t > self.until_t
        k = int(np.argmax(beyond)) if beyond.any() else len(t)
        if k == 0 and self.released == 0:
            # nothing happened during that window (a gap in the recording): step to
            # the next window that holds events instead of releasing nothing
            self.until_t = int(t[0]) + int(self.duration_us or 0) - 1
            return self.take(t, running_max)
        self.released += k
        return k, k < len(t)


class ReplaySource(EventSource):
    """A recording replayed as a live source; see the module docstring.

    :meth:`set_speed` and :meth:`seek` may be called from any thread while the replay
    runs; they take effect before the next slice is released.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        speed: float | None = ReplaySettings.speed,
        loop: bool = ReplaySettings.loop,
        start_us: int = ReplaySettings.start_us,
        duration_us: int | None = ReplaySettings.duration_us,
        geometry: Geometry | None = None,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
        clock: Callable[[], float] = time.perf_counter,
        wait: Callable[[float], bool] | None = None,
        hold_at_end: bool = False,
        **_ignored: object,
    ) -> None:
        super().__init__()
        speed = _checked(SPEED, speed, "speed")
        start_us = _checked(START_US, start_us, "start_us")
        duration_us = _checked(DURATION_US, duration_us, "duration_us")
        self.path = os.fspath(path)
        self.speed = speed  # None = as fast as possible
        self.loop = loop
        self.start_us = int(start_us)
        self.duration_us = None if duration_us is None else int(duration_us)
        # clock and wait are injectable so that tests can check the schedule exactly;
        # wait(seconds) returns True when the replay was stopped meanwhile
        self._clock = clock
        self._wait = wait or self._wait_for_wake
        # set by stop(), set_speed() and seek(): a long pacing sleep ends early for them
        self._wake = threading.Event()
        self._control_lock = threading.Lock()
        self._pending_speed: tuple[float | None] | None = None
        self._pending_seek: int | None = None
        # read without the lock once per slice: a plain attribute is the cheapest check
        self._control_pending = False
        # pause/step state (under _control_lock); see pause(), step(), holding
        self._paused = False
        self._steps: collections.deque[_Step] = collections.deque()
        self._holding = False
        #: times the replay started holding (a consumer compares it before and after
        #: reading what was released, to know that no step ran in between)
        self.holds = 0
        #: steps whose events have all been released (and taken by the consumer)
        self.steps_done = 0
        self.reader = open_reader(self.path, geometry=geometry, chunk_events=chunk_events)
        # the first pass's chunks when warm_up() has read the first one ahead
        self._primed: Iterator[EventPacket] | None = None
        self._primed_sample: EventPacket | None = None
        self.info = self.reader.info
        self.passes = 0
        #: position of the newest released event, in µs after the first event of the file
        #: (a seek sets it at once to where the replay will continue)
        self.position_us = 0
        self._released_span_us = 0
        self._measured_span_us: int | None = None
        self._geometry = geometry
        #: wait at the end of the recording for a seek instead of ending (see the module)
        self.hold_at_end = bool(hold_at_end)
        #: True while the replay waits at the end of the recording (hold_at_end)
        self.at_end = False

    def warm_up(self) -> EventPacket | None:
        """Decode the recording's first packet and pace it once (see
        :meth:`EventSource.warm_up`); the first pass then starts with that packet, so
        nothing is read twice."""
        if self._primed is None:
            chunks = iter(self.reader)
            first = next(chunks, None)
            if first is None:
                return None
            self._primed = itertools.chain([first], chunks)
            if len(first):
                t = first["t"]
                _pacing_slices(t, int(t[0]), int(t[0]), max(1, int(SLICE_WALL_S * 1e6)))
            self._primed_sample = first[:4096]
        return self._primed_sample

    # ------------------------------------------------------------------ control
    def set_speed(self, speed: float | None) -> None:
        """Change the pace (None = as fast as possible) from any thread. The schedule
        is re-anchored at the newest released event, so the new speed applies from the
        next slice on: no burst to catch up, no stall."""
        speed = _checked(SPEED, speed, "speed")
        with self._control_lock:
            self.speed = speed
            self._pending_speed = (speed,)
            self._control_pending = True
        self._wake.set()

    def seek(self, t_offset_us: int) -> None:
        """Continue the replay at ``t_offset_us`` after the first event of the file (from
        any thread). The file is read again from its start, skipping (not keeping) the
        events before that point. The stream's clock keeps increasing as with ``loop``:
        the timestamps after a seek are shifted to continue just past the newest
        released event; :attr:`position_us` tells where in the recording the replay is.
        A position before ``start_us`` starts at ``start_us``; one past the end of the
        selection ends the pass (or starts the next one with ``loop``)."""
        t_offset_us = _checked(START_US, t_offset_us, "seek offset")
        with self._control_lock:
            self._pending_seek = max(int(t_offset_us), self.start_us)
            self._control_pending = True
            # where the replay continues, at once: a position slider must not jump back
            # to the old place until the first event there is released
            self.position_us = self._pending_seek
        self._wake.set()

    def pause(self) -> None:
        """Hold the recording's clock (from any thread): nothing more is released until
        :meth:`resume` or :meth:`step`."""
        with self._control_lock:
            self._paused = True
            self._control_pending = True
        self._wake.set()

    def resume(self) -> None:
        """Continue after :meth:`pause`, from the newest released event (the schedule is
        re-anchored there: no burst to catch up with the time spent paused)."""
        with self._control_lock:
            self._paused = False
            self._steps.clear()
            self._control_pending = True
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def step(self, *, n_events: int | None = None, duration_us: int | None = None) -> None:
        """While paused: release the next ``n_events`` events, or the events of the next
        ``duration_us`` of event time, at once, then hold again (:attr:`steps_done`
        counts the steps completed)."""
        if (n_events is None) == (duration_us is None) or (n_events or duration_us or 0) < 1:
            raise SourceError("a step is n_events >= 1 or duration_us >= 1")
        with self._control_lock:
            if not self._paused:
                raise SourceError("step() needs a paused replay")
            self._steps.append(_Step(n_events, duration_us))
            self._control_pending = True
        self._wake.set()

    @property
    def holding(self) -> bool:
        """True while paused with every requested step released: all that the replay
        released has been taken by its consumer, and nothing more comes until a step or
        a resume."""
        return self._holding

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def _take_controls(self) -> tuple[tuple[float | None] | None, int | None]:
        with self._control_lock:
            speed, seek = self._pending_speed, self._pending_seek
            self._pending_speed = self._pending_seek = None
            self._control_pending = False
        return speed, seek

    @property
    def span_us(self) -> int:
        """The last position of the recording (or of the selection): as measured by
        :meth:`measure_span`, else the furthest position released so far (the whole
        span after one pass)."""
        return max(self._released_span_us, self._measured_span_us or 0)

    @property
    def span_known(self) -> bool:
        """True once :attr:`span_us` is the recording's whole span."""
        return self._measured_span_us is not None or self.passes > 0

    def measure_span(self) -> threading.Thread:
        """Read the recording once in a background thread (a reader of its own, at
        decoding speed) to learn its span; :attr:`span_us` has it when the thread ends."""
        thread = threading.Thread(target=self._measure_span, name="ezsr-replay-span", daemon=True)
        thread.start()
        return thread

    def _measure_span(self) -> None:
        try:
            reader = open_reader(self.path, geometry=self._geometry, chunk_events=DEFAULT_CHUNK_EVENTS)
            origin = newest = None
            with reader:
                for packet in reader:
                    if self._stop_event.is_set():
                        return
                    if len(packet):
                        t = packet["t"]
                        origin = int(t[0]) if origin is None else origin
                        newest = int(t.max()) if newest is None else max(newest, int(t.max()))
        except Exception:  # the replay itself reports a bad file; this is only a hint
            return
        if origin is None or newest is None:
            return
        span = newest - origin
        if self.duration_us is not None:
            span = min(span, self.start_us + self.duration_us - 1)
        self._measured_span_us = max(0, span)

    @property
    def out_of_bounds(self) -> int:
        """Events outside the sensor that the reader dropped (a damaged recording)."""
        return self.reader.stats.out_of_bounds

    # ------------------------------------------------------------------ helpers
    def _wait_for_wake(self, seconds: float) -> bool:
        self._wake.wait(seconds)
        self._wake.clear()
        return self._stop_event.is_set()

    def _hold(self) -> _Step | None:
        """Wait while paused with no step to release; the next step, or None when
        resumed, stopped, or a seek or a speed change came (the caller handles those)."""
        while True:
            with self._control_lock:
                if (self._stop_event.is_set() or not self._paused or self._pending_seek is not None
                        or self._pending_speed is not None):
                    self._holding = False
                    return None
                if self._steps:
                    self._holding = False
                    return self._steps.popleft()
                if not self._holding:
                    self._holding = True
                    self.holds += 1
                self._wake.clear()
            # the real event, never the injected wait: that one models paced time
            self._wake.wait(0.1)

    def _released(self, position_us: int) -> None:
        if self._pending_seek is None:  # else it already says where the seek goes
            self.position_us = position_us
        self._released_span_us = max(self._released_span_us, position_us)

    def _wait_at_end(self) -> tuple[tuple[float | None] | None, int | None]:
        """At the end of the recording (hold_at_end): wait for a seek or a stop; the
        (speed, seek) controls taken, (None, None) when stopped."""
        self.at_end = True
        try:
            while not self._stop_event.is_set():
                if self._pending_seek is not None:
                    return self._take_controls()
                self._wake.wait(0.1)
                self._wake.clear()
            return None, None
        finally:
            self.at_end = False

    def _sleep_until(self, due: float) -> bool:
        """Wait for wall time ``due``; False if stopped, or a control call came, meanwhile."""
        while not self._control_pending:
            delay = due - self._clock()
            if delay <= 0:
                break
            if self._wait(delay):
                return False
        return not (self._stop_event.is_set() or self._control_pending)

    def _filtered_pass(self, start_us: int) -> Iterator[tuple[int, EventPacket]]:
        """One pass over the file, restricted to [start, start + duration) of event time
        (``duration_us`` counts from ``self.start_us``); yields (origin, packet), origin
        being the file's first timestamp."""
        origin: int | None = None
        lo = hi = 0
        chunks, self._primed = self._primed or self.reader, None
        for packet in chunks:
            if origin is None:
                origin = int(packet["t"][0])
                lo = origin + start_us
                hi = origin + self.start_us + self.duration_us if self.duration_us is not None else None
            if start_us or hi is not None:
                t = packet["t"]
                keep = t >= lo
                if hi is not None:
                    keep &= t < hi
                    if int(t.min()) >= hi:
                        break
                if not keep.all():
                    packet = packet[keep]
            if len(packet):
                yield origin, packet
            if self._stop_event.is_set():
                return

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[EventPacket]:
        self.status = "running"
        state = _Pacing(self.speed)
        pass_start: int | None = self.start_us
        while pass_start is not None:
            state.pass_min = state.seek_to = None
            passage = self._filtered_pass(pass_start)
            try:
                yield from self._play_pass(state, passage)
            finally:
                passage.close()  # a seek abandons the pass: release the file now
            pass_start = self._next_pass(state, pass_start)

    def _next_pass(self, state: _Pacing, pass_start: int) -> int | None:
        """Where the next pass starts after one ended (a seek, a loop, a seek while
        holding at the end), or None when the iteration ends (with :attr:`status` set)."""
        if state.stopped:  # stopped while waiting for a slice's due time
            self.status = "stopped"
            return None
        if self._stop_event.is_set():
            self.passes += 1
            self.status = "stopped"
            return None
        if state.seek_to is not None:
            state.rebase = True
            return state.seek_to
        self.passes += 1
        if state.pass_min is None and pass_start == self.start_us:
            self.status = "ended: no events in the selected range"
            return None
        if self.loop:
            state.rebase = True
            return self.start_us
        self.status = "ended: end of recording"
        if not self.hold_at_end:
            return None
        new_speed, seek_to = self._wait_at_end()
        if seek_to is None:
            self.status = "stopped"
            return None
        if new_speed is not None:
            state.speed = new_speed[0]  # chosen while waiting: the next pass runs at it
        self.status = "running"
        state.rebase = True
        return seek_to

    def _play_pass(self, state: _Pacing, passage: Iterator[tuple[int, EventPacket]]) -> Iterator[EventPacket]:
        for origin, packet in passage:
            packet = self._continue_clock(state, packet)
            yield from self._play_packet(state, packet, origin)
            if state.stopped or state.seek_to is not None or self._stop_event.is_set():
                return

    def _continue_clock(self, state: _Pacing, packet: EventPacket) -> EventPacket:
        """The packet on the stream's clock: after a loop or a seek, shifted to continue
        just past the newest released event; the first packet anchors the schedule."""
        if state.rebase:
            if state.t_base is not None:
                # the stream's clock continues one slice past the newest released event
                gap = max(1, int(SLICE_WALL_S * 1e6 * (state.speed or 1.0)))
                state.shift = state.running_max + gap - int(packet["t"].min())
                state.t_base = None
            state.rebase = False
        if state.shift:
            # copy as bytes: numpy copies packed records field by field, 10x slower
            packet = np.ascontiguousarray(packet).view(np.uint8).copy().view(EVENT_DTYPE)
            packet["t"] += state.shift
        if state.t_base is None:
            state.t_base, state.wall0 = int(packet["t"][0]), self._clock()
            state.running_max = state.t_base
        return packet

    def _play_packet(self, state: _Pacing, packet: EventPacket, origin: int) -> Iterator[EventPacket]:
        """Release one packet: paced slices, or steps while paused; control calls
        (speed, seek, pause) are taken between slices."""
        start, n = 0, len(packet)
        while start < n and state.seek_to is None:
            if self._control_pending:
                new_speed, state.seek_to = self._take_controls()
                if state.seek_to is not None:
                    break
                if new_speed is not None:
                    # re-anchor: the newest released event is due now at the new pace
                    state.speed = new_speed[0]
                    state.anchor(self._clock())
            if self._paused or state.step is not None:
                if state.step is None:
                    state.step = self._hold()
                    if state.step is None:
                        if self._stop_event.is_set():
                            break
                        if not self._paused:
                            # resumed: the replay continues from here at its pace
                            state.anchor(self._clock())
                        continue  # (a seek or a speed change: taken at the top)
                start = yield from self._release_step(state, packet, start, origin)
                continue
            start = yield from self._release_paced(state, packet, start, origin)
            if state.stopped or self._stop_event.is_set():
                break

    def _release_step(self, state: _Pacing, packet: EventPacket, start: int,
                      origin: int) -> Generator[EventPacket, None, int]:
        """Release what the current step takes of ``packet[start:]``; the new start."""
        assert state.step is not None
        t = packet["t"]
        k, complete = state.step.take(t[start:], state.running_max)
        if k:
            yield packet[start : start + k]
            released = t[start : start + k]
            state.saw(int(released.min()))
            state.running_max = max(state.running_max, int(released.max()))
            start += k
            self._released(state.running_max - state.shift - origin)
        if complete:
            state.step = None
            self.steps_done += 1
        return start

    def _release_paced(self, state: _Pacing, packet: EventPacket, start: int,
                       origin: int) -> Generator[EventPacket, None, int]:
        """Release ``packet[start:]`` slice by slice, each when its time is due, until
        the packet ends or a control call comes; the new start."""
        assert state.t_base is not None
        t, speed, t_base = packet["t"], state.speed, state.t_base
        slice_us = max(1, int(SLICE_WALL_S * 1e6 * speed)) if speed is not None else 1 << 62
        ends, ends_t, pmin, _ = _pacing_slices(t[start:], state.running_max, t_base, slice_us)
        state.saw(pmin)
        offset = start
        for end, end_t in zip(ends.tolist(), ends_t.tolist()):
            if speed is not None and not self._sleep_until(state.wall0 + (end_t - t_base) / (speed * 1e6)):
                if self._stop_event.is_set():
                    state.stopped = True
                break  # a control call came: re-slice the rest at the new settings
            yield packet[start : offset + end]
            start, state.running_max = offset + end, end_t
            self._released(state.running_max - state.shift - origin)
            if self._control_pending:
                break
        return start


class _Pacing:
    """The state of one iteration of a :class:`ReplaySource`: its pace and the
    stream's clock, carried from pass to pass."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self.shift = 0  # added to timestamps after a loop or a seek
        self.t_base: int | None = None  # sensor time that maps to wall0
        self.wall0 = 0.0
        self.running_max = 0  # of event time released so far; later passes start past it
        self.rebase = False  # the next pass's first packet sets the shift and the anchor
        self.step: _Step | None = None  # the step being released (paused)
        self.pass_min: int | None = None  # the pass's lowest released time (None: nothing yet)
        self.seek_to: int | None = None  # a seek taken during the pass
        self.stopped = False  # stopped while waiting: the iteration ends at once

    def anchor(self, wall: float) -> None:
        """The newest released event is due at ``wall`` (after a pause or a speed change)."""
        self.t_base, self.wall0 = self.running_max, wall

    def saw(self, low: int) -> None:
        self.pass_min = low if self.pass_min is None else min(self.pass_min, low)


def _checked(setting: Setting, value: object, name: str) -> Any:
    """``value`` checked by the shared validator, refused as a SourceError (the replay's own)."""
    try:
        return setting.check(value, name)
    except SettingError as exc:
        raise SourceError(str(exc)) from None


@njit(nogil=True, cache=True)
def _pacing_slices(t, running_max, t_base, slice_us):
    """Cut a packet where the running maximum of its timestamps (carried in from the
    previous packet) enters a new ``slice_us``-long slot after ``t_base``. Returns the
    end index of each slice, the running maximum at that end (when the slice is due),
    and the packet's min and max timestamps: one pass instead of numpy's seven."""
    n = t.size
    ends = np.empty(n, np.int64)
    ends_t = np.empty(n, np.int64)
    k = 0
    tmin = t[0]
    tmax = t[0]
    cur = running_max
    slot = (cur - t_base) // slice_us
    for i in range(n):
        ti = t[i]
        if ti < tmin:
            tmin = ti
        if ti > tmax:
            tmax = ti
        if ti > cur:
            s = (ti - t_base) // slice_us
            if s != slot and i > 0:
                ends[k] = i
                ends_t[k] = cur
                k += 1
            slot = s
            cur = ti
    ends[k] = n
    ends_t[k] = cur
    return ends[: k + 1], ends_t[: k + 1], tmin, tmax


@register_scheme("file")
def _open_replay(spec: str, **options: object) -> ReplaySource:
    path = spec[len("file://"):] if spec.lower().startswith("file://") else spec
    return ReplaySource(path, **options)
