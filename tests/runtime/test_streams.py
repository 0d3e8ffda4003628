"""Lossless replays and several streams in one process, end to end against offline truth.

The truth is the Python API's offline recognition of every window of the recording
(``ezsr_live.load(...).windows(file)``: :func:`~ezsr_live.windows.iter_windows` over
the whole file, batches of 16), with the bundled demo model's real weights, so that
every process builds the same recogniser.
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ezsr_live
from ezsr_live.cli.live import build_parser, build_run
from ezsr_live.cli.live import main as ezsr_live_main
from ezsr_live.model.recognizer import Recognizer, RecognizerConfig
from ezsr_live.drivers.sources import open_source
from ezsr_live.runtime.batching import SharedRecognizer, iter_stream_results
from ezsr_live.runtime.handover import LatestSlot, ResultQueue
from ezsr_live.runtime.pipeline import Pipeline
from ezsr_live.runtime.settings import RuntimeSettings
from ezsr_live.windows import WindowSpec
from tests.helpers import DEMO_DISC, DEMO_SHAPES

DEMO_MODEL = ["--weights", "ezsr-demo", "--device", "cpu"]
SERVER = Path(__file__).parents[1] / "drivers" / "dv_stream_server.py"


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    rc = ezsr_live_main([*argv, "--headless", *DEMO_MODEL])
    captured = capsys.readouterr()
    return rc, _lines(captured.out), captured.err


def _key(r: dict) -> tuple:
    """What must agree between two recognitions of one window (the JSON's end is the
    window's last microsecond, the API's the half-open bound after it)."""
    return r["t_window_start_us"], r["t_window_end_us"] + 1, r["n_events"], r["topk"][0]["label"]


@pytest.fixture(scope="module")
def offline() -> dict[str, list[tuple]]:
    model = ezsr_live.load("ezsr-demo", device="cpu")
    return {path.name: [(w.t_start_us, w.t_end_us, w.n_events, w.label) for w in model.windows(path)]
            for path in (DEMO_SHAPES, DEMO_DISC)}


@pytest.fixture(scope="module")
def alone(offline) -> dict[str, list[dict]]:
    """Each demo recording replayed alone at --speed max (lossless by default)."""
    out = {}
    for path in (DEMO_SHAPES, DEMO_DISC):
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            assert ezsr_live_main(["--replay", str(path), "--speed", "max", "--headless", *DEMO_MODEL]) == 0
        out[path.name] = _lines(stdout.getvalue())
    return out


def test_lossless_max_speed_recognises_every_window_exactly_as_offline(alone, offline):
    for name, results in alone.items():
        assert len(results) == len(offline[name]) > 30
        assert [_key(r) for r in results] == offline[name]
        assert results[-1]["windows_skipped"] == 0
        assert [r["seq"] for r in results] == list(range(1, len(results) + 1))


def test_latest_wins_at_max_speed_still_skips_when_asked(capsys, offline):
    rc, results, _ = _run(capsys, "--replay", str(DEMO_SHAPES), "--speed", "max", "--handover", "latest")
    assert rc == 0
    assert 1 <= len(results) < len(offline[DEMO_SHAPES.name])
    assert results[-1]["windows_skipped"] > 0 or len(results) == 1


def test_lossless_can_be_chosen_at_any_replay_speed(capsys, offline):
    rc, results, _ = _run(capsys, "--replay", str(DEMO_DISC), "--speed", "4", "--handover", "lossless")
    assert rc == 0
    assert [_key(r) for r in results] == offline[DEMO_DISC.name]


def test_two_replayed_streams_give_each_stream_its_results_alone(capsys, caplog, alone):
    rc, results, err = _run(capsys, "--replay", str(DEMO_SHAPES), "--replay", str(DEMO_DISC), "--speed", "max")
    assert rc == 0, err
    by_stream: dict[int, list[dict]] = {0: [], 1: []}
    for r in results:
        by_stream[r["stream"]["index"]].append(r)
    assert {r["stream"]["source"] for r in by_stream[0]} == {str(DEMO_SHAPES)}
    assert {r["stream"]["source"] for r in by_stream[1]} == {str(DEMO_DISC)}
    assert [_key(r) for r in by_stream[0]] == [_key(r) for r in alone[DEMO_SHAPES.name]]
    assert [_key(r) for r in by_stream[1]] == [_key(r) for r in alone[DEMO_DISC.name]]
    for r, a in zip(by_stream[1], alone[DEMO_DISC.name]):  # batched or not, the same numbers
        assert r["topk"][0]["prob"] == pytest.approx(a["topk"][0]["prob"], abs=1e-4)
    assert "stream 0: 228 results" in caplog.text and "stream 1: 39 results" in caplog.text


def test_max_results_counts_each_streams_own_results(capsys, alone):
    rc, results, err = _run(capsys, "--replay", str(DEMO_SHAPES), "--replay", str(DEMO_DISC), "--speed", "max",
                            "--max-results", "5")
    assert rc == 0, err
    for index, path in enumerate((DEMO_SHAPES, DEMO_DISC)):  # not 5 in all, taken by the faster stream
        mine = [_key(r) for r in results if r["stream"]["index"] == index]
        assert mine == [_key(r) for r in alone[path.name][:5]]


def test_the_same_recording_twice_gives_two_identical_streams(capsys, alone):
    rc, results, _ = _run(capsys, "--replay", str(DEMO_DISC), "--replay", str(DEMO_DISC), "--speed", "max")
    assert rc == 0
    streams = [[_key(r) for r in results if r["stream"]["index"] == i] for i in (0, 1)]
    assert streams[0] == streams[1] == [_key(r) for r in alone[DEMO_DISC.name]]


def test_a_bad_stream_is_one_clear_line_and_exit_2_before_anything_runs(capsys, tmp_path):
    bad = tmp_path / "broken.raw"
    bad.write_bytes(b"% not really a header\n" + bytes(range(7)))
    for argv in (["--replay", str(DEMO_DISC), "--replay", str(tmp_path / "missing.raw")],
                 ["--replay", str(bad), "--replay", str(DEMO_DISC)]):
        started = time.monotonic()
        rc, results, err = _run(capsys, *argv)
        assert rc == 2 and results == []
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("ezsr-live: ") and "Traceback" not in err
        assert ("missing.raw" in lines[0]) or ("broken.raw" in lines[0])
        assert time.monotonic() - started < 60


@pytest.mark.parametrize("argv, message", [
    (["--replay", str(DEMO_DISC), "--replay", str(DEMO_SHAPES), "--record", "x.npz"], "--record takes one source"),
    (["--replay", str(DEMO_DISC), "--replay", str(DEMO_SHAPES), "--no-recognition"], "--no-recognition takes one"),
    (["--camera", "tcp://127.0.0.1:9", "--handover", "lossless"], "a camera cannot wait"),
])
def test_what_several_streams_cannot_do_is_refused_with_exit_2(capsys, argv, message):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and message in err


def test_a_camera_stand_in_stays_latest_wins_at_max_speed(samples_dir, tmp_path):
    """A real DV network peer (dv-processing's NetworkWriter) as the camera: ``auto`` and
    ``--speed max`` keep it latest-wins, while a replay beside it is lossless."""
    address = tmp_path / "dv.sock"
    server = subprocess.Popen([sys.executable, str(SERVER), str(samples_dir / "dvxplorer_320x240.aedat4"),
                               f"unix:{address}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "READY"
        args = build_parser().parse_args(["--camera", f"unix://{address}", "--replay", str(DEMO_DISC),
                                          "--speed", "max", *DEMO_MODEL])
        run = build_run(args)
        try:
            camera, replay = run.streams
            assert not camera.lossless and isinstance(camera.results, LatestSlot)
            assert replay.lossless and isinstance(replay.results, ResultQueue)
            assert camera.recognizer is replay.recognizer  # one shared encoder
        finally:
            run.close()
    finally:
        server.kill()
        server.wait(10)


# -- the engine, in process: one recogniser instance, so random weights agree ---------------
@pytest.fixture(scope="module")
def tiny(tiny_model_name) -> Recognizer:
    cfg = RecognizerConfig(model=tiny_model_name, pretrained=None, labels=["disc", "square", "bar", "noise"],
                           templates="photo", device="cpu", top_k=3)
    return Recognizer.from_config(cfg)


def _pipelines(recognizer, paths, spec: WindowSpec) -> list[Pipeline]:
    return [Pipeline(open_source(str(p), speed=None), recognizer, RuntimeSettings(window=spec, top_k=3),
                     lossless=True, stream=i) for i, p in enumerate(paths)]


def _collect(pipelines) -> dict[int, list[tuple]]:
    for p in pipelines:
        p.start()
    try:
        out: dict[int, list[tuple]] = {p.stream: [] for p in pipelines}
        for r in iter_stream_results(pipelines):
            out[r.stream].append((r.t_window_start_us, r.t_us, r.n_events, tuple(lab for lab, _ in r.topk)))
    finally:
        for p in pipelines:
            p.stop()
    return out


def test_streams_share_batched_forward_passes_and_match_each_stream_alone(tiny):
    spec = WindowSpec.by_events(2000)
    paths = [DEMO_DISC, DEMO_SHAPES, DEMO_DISC]
    alone = [_collect(_pipelines(tiny, [p], spec))[0] for p in paths[:2]]
    shared = SharedRecognizer(tiny, max_gather_s=0.05, gather_fraction=1.0)
    together = _collect(_pipelines(shared, paths, spec))
    assert together[0] == alone[0] and together[2] == alone[0] and together[1] == alone[1]
    assert len(alone[0]) > 50 and len(alone[1]) > 50
    # the streams' windows went through the encoder together (not 1.5: the longer recording's
    # tail runs alone, and a full run once measured 1.49)
    assert shared.mean_batch > 1.25


def test_a_failing_stream_fails_with_its_name_and_the_others_stop(tiny, tmp_path):
    shared = SharedRecognizer(tiny)
    good = Pipeline(open_source(str(DEMO_DISC), speed=1.0), shared, RuntimeSettings(window=WindowSpec.by_events(500)))

    class Broken:
        geometry = good.geometry

        def __iter__(self):
            yield from ()
            raise OSError("cable pulled")

    bad = Pipeline(Broken(), shared, RuntimeSettings(window=WindowSpec.by_events(500)), stream=1, stream_name="cam")
    for p in (good, bad):
        p.start()
    try:
        with pytest.raises(OSError, match="cable pulled"):
            for _ in iter_stream_results([good, bad], timeout=0.05):
                pass
    finally:
        for p in (good, bad):
            assert p.stop()


class _Slow:
    """The real recogniser, made slow by a sleep (a test double for the model's speed only)."""

    def __init__(self, inner, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s
        self.input_size, self.vocabulary, self.knn = inner.input_size, inner.vocabulary, inner.knn
        self.device, self.model_id = inner.device, inner.model_id

    def set_knn(self, knn):
        self.inner.set_knn(knn)

    def recognize(self, frames, k=None):
        time.sleep(self.delay_s)
        return self.inner.recognize(frames, k)


def test_a_slow_recogniser_holds_a_lossless_replay_back_within_a_few_windows(tiny):
    window_events = 2000
    pipeline = Pipeline(open_source(str(DEMO_SHAPES), speed=None), _Slow(tiny, 0.05),
                        RuntimeSettings(window=WindowSpec.by_events(window_events)), lossless=True)
    total = sum(len(p) for p in open_source(str(DEMO_SHAPES), speed=None))
    seen = 0
    with pipeline:
        for result in pipeline.iter_results():
            seen += 1
            # read ahead of what was recognised: the feed (2 windows), the window being cut
            # and the one being recognised, never the rest of the file
            ahead = pipeline.events_in - seen * window_events
            assert ahead <= 5 * window_events
            if seen == 10:
                break
    assert pipeline.events_in < total / 4 and pipeline.windows_skipped == 0


def test_a_vocabulary_edit_reaches_every_stream_sharing_the_recogniser(tiny):
    shared = SharedRecognizer(tiny)
    spec = WindowSpec.by_events(2000)
    pipelines = [Pipeline(open_source(str(p), speed=1.0, loop=True), shared, RuntimeSettings(window=spec, top_k=2),
                          stream=i) for i, p in enumerate((DEMO_DISC, DEMO_SHAPES))]
    try:
        for p in pipelines:
            p.start()
        results = iter_stream_results(pipelines, timeout=0.05)
        next(results)
        pipelines[0].edit_vocabulary(lambda vocabulary: vocabulary.set_labels(["cat", "dog", "car"]))
        fresh: dict[int, set[str]] = {0: set(), 1: set()}
        deadline = time.monotonic() + 60
        while not (fresh[0] and fresh[1]) and time.monotonic() < deadline:
            r = next(results)
            if {label for label, _ in r.topk} <= {"cat", "dog", "car"}:
                fresh[r.stream].add(r.topk[0][0])
        assert fresh[0] and fresh[1]
    finally:
        for p in pipelines:
            p.stop()
        tiny.vocabulary.set_labels(["disc", "square", "bar", "noise"])


def test_sources_from_a_config_file_and_the_command_line(tmp_path):
    from ezsr_live.cli.config import apply_config_file
    from ezsr_live.cli.options import sources_from_args

    def sources(config: str, *argv: str) -> list[tuple[str, bool, bool]]:
        path = tmp_path / "ezsr.toml"
        path.write_text(config)
        parser = build_parser()
        full = ["--config", str(path), *argv]
        apply_config_file(parser, full)
        return [(s.spec, s.replay, s.lossless) for s in sources_from_args(parser.parse_args(full))]

    disc, shapes = str(DEMO_DISC), str(DEMO_SHAPES)
    assert sources(f'replay = "{disc}"\nspeed = "max"\n') == [(disc, True, True)]
    assert sources(f'replay = ["{disc}", "{shapes}"]\n') == [(disc, True, False), (shapes, True, False)]
    # the command line wins: its sources replace the file's, in the order given
    assert sources(f'replay = "{disc}"\n', "--camera", "tcp://h:1", "--replay", shapes, "--speed", "max") == [
        ("tcp://h:1", False, False), (shapes, True, True)]


def test_a_new_window_while_lossless_cuts_consecutive_windows_of_the_new_size(tiny):
    pipeline = Pipeline(open_source(str(DEMO_SHAPES), speed=None), _Slow(tiny, 0.02),
                        RuntimeSettings(window=WindowSpec.by_events(2000)), lossless=True)
    sizes: list[int] = []
    bounds: list[tuple[int, int]] = []
    with pipeline:
        for result in pipeline.iter_results():
            sizes.append(result.n_events)
            bounds.append((result.t_window_start_us, result.t_us + 1))
            if len(sizes) == 3:
                pipeline.update(window=WindowSpec.by_events(1000))
            if sizes.count(1000) >= 5:
                break
    changed = sizes.index(1000)
    assert set(sizes[:changed]) == {2000} and set(sizes[changed:]) == {1000}
    after = bounds[changed:]
    # in order, none overlapping (the next window's first event may share the previous one's last µs)
    assert all(b[0] >= a[1] - 1 for a, b in zip(after, after[1:]))
    assert pipeline.windows_skipped == 0
