"""One recogniser shared by several streams: their windows go through one forward pass.

Every stream keeps its own :class:`~ezsr_live.runtime.pipeline.Pipeline` (source
thread, ring, worker: windows, frames on the stream's own geometry, latency, skips);
what they share is a :class:`SharedRecognizer` in place of the recogniser. A worker's
call joins the requests pending at that moment, and whichever caller finds the
recogniser free runs all of them as one batch (no extra thread: leader and followers),
so with N busy streams one encoder pass serves N windows.

After a batch, the streams' workers come back one by one (each cuts and builds its next
frame first); the next leader waits for the others for a short while - at most
``gather_fraction`` of the last batch's duration, capped at ``max_gather_s`` - or
until every stream that is running has asked, whichever comes first. A stream that
has no new window costs the others at most that wait.

Vocabulary and k-NN edits run through :meth:`SharedRecognizer.exclusive`, between
batches, as they are shared by every stream.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")


class _Request:
    __slots__ = ("frames", "k", "done", "result", "error")

    def __init__(self, frames: torch.Tensor, k: int | None) -> None:
        self.frames = frames
        self.k = k
        self.done = False
        self.result: list[list[Any]] | None = None
        self.error: BaseException | None = None


class SharedRecognizer:
    """A recogniser (:class:`~ezsr_live.model.recognizer.Recognizer`) that batches the
    calls of several threads; it reads and is used as the recogniser itself."""

    def __init__(self, recognizer: Any, *, gather_fraction: float = 0.25, max_gather_s: float = 0.002) -> None:
        self.recognizer = recognizer
        self.gather_fraction = float(gather_fraction)
        self.max_gather_s = float(max_gather_s)
        self._cond = threading.Condition()
        self._pending: list[_Request] = []
        self._busy = False
        self._members = 0
        self._last_batch_s = 0.0
        #: forward passes run, and the frames they carried (mean batch = frames / batches)
        self.batches = 0
        self.frames = 0

    # the recogniser's own attributes, as the pipeline and the window read them
    @property
    def input_size(self) -> int:
        return int(self.recognizer.input_size)

    @property
    def vocabulary(self) -> Any:
        return self.recognizer.vocabulary

    @property
    def knn(self) -> Any:
        return self.recognizer.knn

    @property
    def device(self) -> Any:
        return self.recognizer.device

    @property
    def model_id(self) -> str:
        return str(self.recognizer.model_id)

    def __getattr__(self, name: str) -> Any:  # labels, top_k, vocabulary_pending, ...
        if name == "recognizer":
            raise AttributeError(name)
        return getattr(self.recognizer, name)

    def set_knn(self, knn: Any) -> None:
        self.exclusive(lambda: self.recognizer.set_knn(knn))

    # membership: whom a leader waits for
    def join(self) -> None:
        """A stream starts calling (the gather waits for at most the joined streams)."""
        with self._cond:
            self._members += 1

    def leave(self) -> None:
        with self._cond:
            self._members = max(0, self._members - 1)
            self._cond.notify_all()

    # the calls
    def exclusive(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` while no batch is in flight (an edit of what all streams share)."""
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            return fn()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def recognize(self, frames: torch.Tensor, k: int | None = None) -> list[list[Any]]:
        """The recogniser's ``recognize``, run in one batch with the other streams' calls
        pending at the same time; returns this call's rows only."""
        request = _Request(frames if frames.ndim == 4 else frames[None], k)
        with self._cond:
            self._pending.append(request)
            self._cond.notify_all()
            while not request.done and self._busy:
                self._cond.wait()
            if request.done:
                return self._outcome(request)
            self._busy = True  # this caller leads the next batch
            self._gather_locked()
            batch, self._pending = self._pending, []
        try:
            self._run(batch)
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
        return self._outcome(request)

    def _gather_locked(self) -> None:
        wait = min(self.max_gather_s, self.gather_fraction * self._last_batch_s)
        deadline = time.perf_counter() + wait
        while len(self._pending) < self._members:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._cond.wait(remaining)

    def _run(self, batch: list[_Request]) -> None:
        t0 = time.perf_counter()
        try:
            # one k for the batch: the largest asked; each row is cut to its own k below
            # (top-k lists are sorted, so the first k of a longer list are the top k)
            ks = [r.k for r in batch]
            k = None if any(v is None for v in ks) else max(int(v) for v in ks if v is not None)
            frames = batch[0].frames if len(batch) == 1 else torch.cat([r.frames for r in batch])
            rows = self.recognizer.recognize(frames, k=k)
            offset = 0
            for r in batch:
                n = r.frames.shape[0]
                r.result = [row[: r.k] if r.k is not None else row for row in rows[offset : offset + n]]
                offset += n
        except BaseException as exc:  # every caller of this batch sees the failure
            for r in batch:
                r.error = exc
        finally:
            for r in batch:
                r.done = True
            self._last_batch_s = time.perf_counter() - t0
            self.batches += 1
            self.frames += sum(int(r.frames.shape[0]) for r in batch)

    @staticmethod
    def _outcome(request: _Request) -> list[list[Any]]:
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    @property
    def mean_batch(self) -> float:
        return self.frames / self.batches if self.batches else 0.0


def iter_stream_results(pipelines: Sequence[Any], timeout: float = 0.1, *, idle: bool = False) -> Iterator[Any]:
    """Every stream's results as they come (each stream's in its own order), until every
    pipeline has finished or been stopped; re-raises the first error of any stream. With
    ``idle=True``, None after each ``timeout`` without a result (as
    :meth:`Pipeline.iter_results <ezsr_live.runtime.pipeline.Pipeline.iter_results>`)."""
    if len(pipelines) == 1:
        yield from pipelines[0].iter_results(timeout, idle=idle)
        return
    quiet_since = time.monotonic()
    while True:
        got = False
        for pipeline in pipelines:
            result = pipeline.results.take(0)
            if result is not None:
                got = True
                yield result
        for pipeline in pipelines:
            pipeline.check()
        now = time.monotonic()
        if got:
            quiet_since = now
            continue
        if all(p.finished or p.stopped for p in pipelines):
            for pipeline in pipelines:  # what came between the last look and the end
                while (result := pipeline.results.take(0)) is not None:
                    yield result
                pipeline.check()
            return
        if idle and now - quiet_since >= timeout:
            quiet_since = now
            yield None
        waiting = next((p for p in pipelines if not (p.finished or p.stopped)), pipelines[0])
        result = waiting.results.take(0.002)
        if result is not None:
            quiet_since = time.monotonic()
            yield result
