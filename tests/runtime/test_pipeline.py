"""The real-time pipeline with a real (tiny, random-weight) open_clip model."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.helpers import DEMO_DISC
from ezsr_live.drivers import open_reader
from ezsr_live.drivers.sources import open_source
from ezsr_live.runtime.handover import wait_until
from ezsr_live.model.recognizer import Recognizer, RecognizerConfig
from ezsr_live.runtime.handover import LatestSlot
from ezsr_live.runtime.pipeline import Pipeline
from ezsr_live.runtime.settings import RuntimeSettings
from ezsr_live.windows import WindowSpec


DEMO = DEMO_DISC
LABELS = ["disc", "square", "noise", "bar"]


@pytest.fixture
def recognizer(tiny_model_name):
    cfg = RecognizerConfig(model=tiny_model_name, pretrained=None, labels=LABELS, templates="photo",
                           device="cpu", top_k=3)
    return Recognizer.from_config(cfg)


class SlowRecognizer:
    """Test double for the model only: the real recogniser, made slow by a sleep."""

    def __init__(self, inner: Recognizer, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s
        self.input_size = inner.input_size
        self.vocabulary = inner.vocabulary
        self.knn, self.device, self.model_id = inner.knn, inner.device, inner.model_id
        self.calls = 0

    def set_knn(self, knn):
        self.knn = knn
        self.inner.set_knn(knn)

    def recognize(self, frames, k=None):
        self.calls += 1
        time.sleep(self.delay_s)
        return self.inner.recognize(frames, k)


class FailingRecognizer(SlowRecognizer):
    def recognize(self, frames, k=None):
        raise RuntimeError("GPU fell over")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_results_are_published_in_sensor_time_order(recognizer):
    source = open_source(str(DEMO), speed=None)
    pipeline = Pipeline(source, recognizer, RuntimeSettings(window=WindowSpec.by_time_ms(20), top_k=3))
    with pipeline:
        results = list(pipeline.iter_results())
    assert len(results) >= 1
    t = [r.t_us for r in results]
    assert t == sorted(t) and len(set(t)) == len(t)
    assert results[-1].t_us == int(open_reader(DEMO).read_all()["t"].max())  # the last window ends the recording
    for r in results:
        assert len(r.topk) == 3 and {lab for lab, _ in r.topk} <= set(LABELS)
        probs = [p for _, p in r.topk]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5  # top 3 of 4
        assert r.n_events > 0 and r.infer_ms > 0 and r.latency_ms >= r.infer_ms


def test_a_slow_encoder_skips_windows_instead_of_queueing_and_memory_stays_flat(recognizer):
    slow = SlowRecognizer(recognizer, delay_s=0.05)
    source = open_source(str(DEMO), speed=None, loop=True)
    pipeline = Pipeline(source, slow, RuntimeSettings(window=WindowSpec.by_time_ms(10)), ring_events=1 << 20)
    ring_bytes = pipeline.ring.nbytes
    results = []
    rss = []
    with pipeline:
        for result in pipeline.iter_results():
            results.append(result)
            rss.append(_rss_mb())
            if len(results) >= 30:
                break
    assert pipeline.ring.nbytes == ring_bytes  # the ring never grows
    last = results[-1]
    assert last.windows_skipped > 100  # the source ran far ahead; windows were skipped
    for prev, r in zip(results[1:], results[2:]):
        # windows were skipped between every two results: nothing was queued, each
        # result is of the newest window when its inference started
        assert r.windows_skipped > prev.windows_skipped
    assert slow.calls <= len(results) + 2  # nothing computed that nobody could see
    assert max(rss[5:]) - min(rss[5:]) < 50


def test_latest_slot_keeps_only_the_newest():
    slot = LatestSlot()
    for k in range(10):
        slot.put(k)
    assert slot.take(0) == 9 and slot.overwritten == 9 and slot.take(0) is None


def test_settings_and_vocabulary_change_while_running(recognizer):
    source = open_source(str(DEMO), speed=1.0, loop=True)
    pipeline = Pipeline(source, recognizer, RuntimeSettings(window=WindowSpec.by_time_ms(20), top_k=2))
    with pipeline:
        it = pipeline.iter_results()
        first = next(it)
        assert len(first.topk) == 2
        pipeline.update(window=WindowSpec.by_events(1000), top_k=5)
        pipeline.edit_vocabulary(lambda v: v.add("triangle"))
        pipeline.edit_vocabulary(lambda v: v.remove("noise"))
        deadline = time.monotonic() + 10
        seen = None
        for r in it:
            if r.n_events == 1000 and len(r.topk) == 4 and "triangle" in {lab for lab, _ in r.topk}:
                seen = r
                break
            assert time.monotonic() < deadline, "settings never took effect"
    assert seen is not None
    assert "noise" not in {lab for lab, _ in seen.topk}


def test_an_error_in_the_worker_surfaces_to_the_consumer(recognizer):
    source = open_source(str(DEMO), speed=1.0)
    pipeline = Pipeline(source, FailingRecognizer(recognizer, 0), RuntimeSettings())
    with pipeline:
        with pytest.raises(RuntimeError, match="GPU fell over"):
            list(pipeline.iter_results())


def test_stop_ends_every_thread_within_two_seconds(recognizer):
    source = open_source(str(DEMO), speed=0.2, loop=True)  # slow: a replay waiting for its clock
    pipeline = Pipeline(source, SlowRecognizer(recognizer, 0.2), RuntimeSettings()).start()
    assert pipeline.results.take(5.0) is not None
    assert pipeline.stop(timeout=2.0)  # True: both threads ended within the 2 s
    assert pipeline.alive_threads == []


def test_pause_holds_results_and_step_releases_exactly_one(recognizer):
    source = open_source(str(DEMO), speed=1.0, loop=True)
    pipeline = Pipeline(source, recognizer, RuntimeSettings(paused=True)).start()
    try:
        assert pipeline.results.take(0.3) is None
        pipeline.step()
        assert pipeline.results.take(2.0) is not None
        assert pipeline.results.take(0.3) is None
        pipeline.update(paused=False)
        assert pipeline.results.take(2.0) is not None
    finally:
        assert pipeline.stop()


def _drain(pipeline, quiet_s: float = 0.3) -> list:
    """Every result until none came for ``quiet_s``."""
    results = []
    while (result := pipeline.results.take(quiet_s)) is not None:
        results.append(result)
    return results


def test_pausing_a_replay_holds_its_clock_and_step_recognises_the_next_window(recognizer):
    source = open_source(str(DEMO), speed=1.0, loop=True)
    spec = WindowSpec.by_time_ms(20)
    pipeline = Pipeline(source, recognizer, RuntimeSettings(window=spec)).start()
    try:
        assert pipeline.results.take(10.0) is not None
        pipeline.update(paused=True)
        assert wait_until(lambda: source.holding, timeout=5.0)
        last = _drain(pipeline)[-1]  # the window where the replay stopped...
        assert last.t_us == pipeline.ring.newest(spec).t_end_us - 1  # ...which is what the view shows
        position, pushed = source.position_us, pipeline.ring.total_pushed
        time.sleep(0.6)
        assert (source.position_us, pipeline.ring.total_pushed) == (position, pushed)  # the clock held

        pipeline.step()
        stepped = pipeline.results.take(5.0)
        assert stepped is not None and _drain(pipeline) == []  # one result per step
        # the next window (its end 20 ms of event time later), not the newest
        assert 19_000 < stepped.t_us - last.t_us <= 20_000

        pipeline.update(window=WindowSpec.by_events(2000))
        assert wait_until(lambda: pipeline.settings.window.n_events == 2000, timeout=5.0)
        pushed = pipeline.ring.total_pushed
        pipeline.step()
        counted = pipeline.results.take(5.0)
        assert counted is not None and _drain(pipeline) == []
        assert counted.n_events == 2000 and pipeline.ring.total_pushed - pushed == 2000  # exactly one window

        time.sleep(0.5)
        pipeline.update(paused=False)
        resumed = pipeline.results.take(5.0)
        # it continues from the step, at its pace: no jump over the second spent paused
        assert resumed is not None and 0 < resumed.t_us - counted.t_us < 400_000
    finally:
        assert pipeline.stop()


def test_knn_translation_can_be_switched_off_and_on(tiny_model_name, tmp_path):
    from ezsr_live.model import knn as knn_mod

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((64, 32)).astype(np.float32)
    cfg = RecognizerConfig(model=tiny_model_name, pretrained=None, labels=LABELS, templates="photo", device="cpu")
    rec = Recognizer.from_config(cfg)
    pool_path = tmp_path / "pool"
    knn_mod.create_pool(pool_path, vectors, rec.model_id)
    rec.set_knn(knn_mod.KnnTranslator.open(pool_path, rec.model_id, 32, k=4))
    pipeline = Pipeline(open_source(str(DEMO), speed=1.0, loop=True), rec, RuntimeSettings())
    with pipeline:
        pipeline.update(knn_enabled=False)
        deadline = time.monotonic() + 5
        while rec.knn is not None and time.monotonic() < deadline:
            pipeline.results.take(0.05)
        assert rec.knn is None
        pipeline.update(knn_enabled=True, knn_k=2)
        while rec.knn is None and time.monotonic() < deadline:
            pipeline.results.take(0.05)
        assert rec.knn is not None and rec.knn.k == 2


class _WarmUpRecorder:
    """Wraps a real replay source; records on which thread warm_up ran and whether it
    came before the source's iteration."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def warm_up(self):
        import threading

        self.calls.append(("warm_up", threading.current_thread().name))
        return self.inner.warm_up()

    def __iter__(self):
        self.calls.append(("iter", None))
        return iter(self.inner)


def test_start_warms_the_source_up_on_the_calling_thread_before_its_thread_runs(recognizer):
    import threading

    source = _WarmUpRecorder(open_source(str(DEMO), speed=None))
    pipeline = Pipeline(source, recognizer, RuntimeSettings(window=WindowSpec.by_time_ms(20), top_k=3))
    with pipeline:
        results = list(pipeline.iter_results())
    assert results
    assert source.calls[0] == ("warm_up", threading.current_thread().name)
    assert source.calls[1] == ("iter", None)


class TonicOrderSource:
    """A user's own source: the demo recording's packets as tonic-ordered arrays
    (x, y, t, p int64), the kind a third-party loader yields."""

    def __init__(self, path) -> None:
        self.reader = open_reader(path, chunk_events=20_000)
        self.geometry = self.reader.geometry

    def __iter__(self):
        for packet in self.reader:
            out = np.zeros(len(packet), [("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
            for name in "xytp":
                out[name] = packet[name]
            yield out


def test_packets_of_another_field_order_reach_ring_and_tap_by_name(recognizer):
    tapped = []
    pipeline = Pipeline(TonicOrderSource(DEMO), recognizer, RuntimeSettings(window=WindowSpec.by_time_ms(20)),
                        tap=tapped.append)
    with pipeline:
        results = list(pipeline.iter_results())
    original = open_reader(DEMO).read_all()
    assert np.concatenate(tapped).tobytes() == original.tobytes()
    assert results and results[-1].t_us == int(original["t"].max())


def test_a_step_that_reaches_the_end_of_the_recording_still_gives_its_result(recognizer):
    n = len(open_reader(DEMO).read_all())
    source = open_source(str(DEMO), speed=None)
    spec = WindowSpec.by_events(n * 3 // 4)
    pipeline = Pipeline(source, recognizer, RuntimeSettings(window=spec, paused=True)).start()
    try:
        assert wait_until(lambda: source.holding, timeout=10.0)
        pipeline.step()
        assert pipeline.results.take(10.0) is not None
        pipeline.step()  # asks for more than is left: the recording ends during the step
        last = pipeline.results.take(10.0)
        assert last is not None and last.t_us == int(open_reader(DEMO).read_all()["t"].max())
        assert wait_until(lambda: pipeline.finished, timeout=5.0)
    finally:
        assert pipeline.stop()


def test_update_and_construction_refuse_what_the_command_line_refuses(recognizer):
    from ezsr_live.settings import RING_EVENTS, SettingError

    source = open_source(str(DEMO), speed=None)
    try:
        with pytest.raises(SettingError, match="top_k"):
            Pipeline(source, recognizer, RuntimeSettings(top_k=0))
        pipeline = Pipeline(source, recognizer)
        for bad, name in (({"top_k": 0}, "top_k"), ({"knn_alpha": 1.5}, "knn_alpha"),
                          ({"window": WindowSpec.by_events(RING_EVENTS + 1)}, "window"),
                          ({"coords": "sideways"}, "coords")):
            with pytest.raises(SettingError, match=name):
                pipeline.update(**bad)
        pipeline.update(top_k=2, window=WindowSpec.by_events(RING_EVENTS))  # the bounds themselves are accepted
    finally:
        source.close()
