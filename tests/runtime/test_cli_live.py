"""`ezsr-live` end to end: headless JSON results, config files, recording, exit codes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers import DEMO_DISC
from ezsr_live.cli.live import main as ezsr_live
from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.drivers import open_reader

from tests.conftest import TINY_MODEL, TINY_MODEL_CONFIG

DEMO = DEMO_DISC
MODEL = ["--model", TINY_MODEL, "--model-config", str(TINY_MODEL_CONFIG), "--pretrained", "",
         "--templates", "photo", "--device", "cpu"]


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_headless_replay_prints_well_formed_results_and_stops_at_max_results(capsys, tmp_path):
    out = tmp_path / "results.jsonl"
    rc = ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, "--labels", "disc,square,bar",
                    "--top-k", "2", "--max-results", "7", "--speed", "4", "--output", str(out),
                    # every window reaches the recogniser, so 7 results arrive however loaded the machine is
                    "--handover", "lossless"])
    assert rc == 0
    results = _lines(capsys.readouterr().out)
    assert len(results) == 7
    t = [r["t_us"] for r in results]
    assert all(b > a for a, b in zip(t, t[1:]))
    for r in results:
        assert len(r["topk"]) == 2 and {"label", "prob"} <= set(r["topk"][0])
        for key in ("n_events", "event_rate", "latency_ms", "infer_ms", "fps", "windows_skipped",
                    "events_dropped", "latency_p50_ms", "latency_p99_ms", "t_window_end_us"):
            assert key in r
    assert _lines(out.read_text()) == results


def test_config_file_supplies_options_and_the_command_line_wins(capsys, tmp_path):
    cfg = tmp_path / "ezsr.toml"
    cfg.write_text('labels = "a,b,c,d,e"\nwindow-events = 500\ntop_k = 4\nspeed = 4\nmax-results = 3\n')
    rc = ezsr_live(["--config", str(cfg), "--replay", str(DEMO), "--headless", *MODEL, "--top-k", "3"])
    assert rc == 0
    results = _lines(capsys.readouterr().out)
    assert len(results) == 3
    assert all(r["n_events"] == 500 and len(r["topk"]) == 3 for r in results)


@pytest.mark.parametrize("content, message", [("no_such_option = 1\n", "unknown key 'no_such_option'"),
                                              ("speed = [\n", "not valid TOML"),
                                              ("headless = 3\n", "true or false")])
def test_bad_config_files_are_clear_errors(capsys, tmp_path, content, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    assert ezsr_live(["--config", str(cfg), "--replay", str(DEMO), "--headless"]) == 2
    assert message in capsys.readouterr().err


def test_help_explains_window_modes():
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "15,000" in proc.stdout and "--window-ms" in proc.stdout and "--knn-pool" in proc.stdout


def test_without_a_display_the_window_mode_suggests_headless(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), *MODEL],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "no display" in proc.stderr and "--headless" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_recording_cut_mid_word_plays_to_its_cut_with_a_warning(capsys, caplog, tmp_path):
    data = DEMO.read_bytes()
    broken = tmp_path / "broken.raw"
    broken.write_bytes(data[: len(data) // 2 + 1])  # a partial word half-way through
    rc = ezsr_live(["--replay", str(broken), "--headless", *MODEL, "--labels", "a,b", "--speed", "max"])
    assert rc == 0  # what a crash leaves: read up to the cut, said once
    assert f"{broken}: the file ends inside a 2-byte EVT3 word" in caplog.text
    assert "Traceback" not in capsys.readouterr().err


def test_a_failure_while_running_ends_the_run_with_exit_code_1(capsys, monkeypatch):
    from ezsr_live.model.recognizer import Recognizer

    def broken(self, frames, k=None):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(Recognizer, "recognize", broken)
    rc = ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, "--labels", "a,b", "--speed", "4"])
    assert rc == 1
    assert "illegal memory access" in capsys.readouterr().err


def test_stream_statistics_mode_records_what_it_saw(capsys, tmp_path):
    out = tmp_path / "seen.aedat4"
    rc = ezsr_live(["--replay", str(DEMO), "--headless", "--no-recognition", "--speed", "max",
                    "--record", str(out)])
    assert rc == 0
    summary = _lines(capsys.readouterr().out)[-1]
    assert summary["n_events"] == len(open_reader(DEMO).read_all())
    assert summary["status"] == "ended: end of recording"
    assert np.array_equal(open_reader(out).read_all(), open_reader(DEMO).read_all())


def test_recording_while_recognising_reads_back_identically(capsys, tmp_path):
    out = tmp_path / "seen.raw"
    rc = ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, "--labels", "a,b", "--speed", "max",
                    "--record", str(out)])
    assert rc == 0
    assert np.array_equal(open_reader(out).read_all(), open_reader(DEMO).read_all())


def test_ezsr_record_writes_a_replayed_source(tmp_path, capsys):
    out = tmp_path / "rec.evt2.raw"
    assert ezsr(["record", str(DEMO), str(out)]) == 0
    assert np.array_equal(open_reader(out).read_all(), open_reader(DEMO).read_all())
    # a format a crash would leave unreadable is refused, as for --record
    assert ezsr(["record", str(DEMO), str(tmp_path / "rec.npz")]) == 2
    assert ".npz cannot record a live source" in capsys.readouterr().err
    assert not (tmp_path / "rec.npz").exists()


def test_duration_ends_the_run_even_when_no_result_comes(capsys):
    # 0.0001x: the first 50 ms window would take minutes of wall time to fill
    rc = ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, "--labels", "a,b", "--speed", "0.0001",
                    "--duration-s", "1"])
    assert rc == 0
    assert _lines(capsys.readouterr().out) == []


@pytest.mark.parametrize("option", [["--window-ms", "0"], ["--window-events", "-5"], ["--max-results", "x"]])
def test_invalid_window_options_are_refused_with_exit_2(capsys, option):
    with pytest.raises(SystemExit) as exit_info:
        ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, *option])
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--view-ms", "0"], ["--view-fps", "1000"], ["--view-events", "x"],
                                    ["--colours", "rainbow"], ["--saturation", "300"]])
def test_view_options_out_of_their_bounds_are_refused_with_exit_2(capsys, option):
    with pytest.raises(SystemExit) as exit_info:
        ezsr_live(["--replay", str(DEMO), *MODEL, *option])
    assert exit_info.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_view_options_give_the_windows_display_settings():
    from ezsr_live.cli.display_options import display_settings_from_args
    from ezsr_live.cli.live import build_parser
    from ezsr_live.runtime.display import DisplaySettings

    args = build_parser().parse_args(["--replay", str(DEMO), "--view-events", "3000", "--view-fps", "144",
                                      "--colours", "time_surface", "--decay-ms", "2.5"])
    assert display_settings_from_args(args) == DisplaySettings(accumulation_events=3000, fps=144.0,
                                                               scheme="time_surface", decay_ms=2.5)
    assert display_settings_from_args(build_parser().parse_args(["--replay", str(DEMO)])) == DisplaySettings()


def test_an_unwritable_output_file_is_a_clear_error(capsys, tmp_path):
    rc = ezsr_live(["--replay", str(DEMO), "--headless", *MODEL, "--output", str(tmp_path / "no" / "dir.jsonl")])
    assert rc == 2
    assert "cannot write the results there" in capsys.readouterr().err


def _window_process(tmp_path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))
    return subprocess.Popen([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), "--loop", *MODEL,
                             *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_closes_the_window_with_exit_code_130(tmp_path, signum):
    import threading

    from ezsr_live.runtime.handover import wait_until

    proc = _window_process(tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any("window open" in line for line in lines), timeout=120), "".join(lines)
        time.sleep(1.0)  # a few results, to be interrupted mid-run
        proc.send_signal(signum)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    err = "".join(lines)
    assert rc == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert "results shown" in err  # closed the orderly way: threads stopped, settings saved


def test_only_our_loggers_speak_as_ezsr_live():
    code = ("import logging\n"
            "from ezsr_live.cli.common import configure_logging\n"
            "configure_logging('ezsr-live', verbose=True)\n"
            "logging.getLogger('ezsr_live.runtime.pipeline').debug('ours, debug')\n"
            "logging.getLogger('ezsr_live.gui.app').info('ours, info')\n"
            "logging.getLogger('torch._dynamo').debug('theirs, debug')\n"
            "logging.getLogger('torch').info('theirs, info')\n"
            "logging.info('open_clip narrating on the root logger')\n"
            "logging.getLogger('torch').warning('theirs, warning')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.splitlines() == ["ezsr-live: ours, debug", "ezsr-live: ours, info",
                                        "torch: WARNING: theirs, warning"]


def test_verbose_runs_log_only_our_lines_with_our_prefix():
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), "--headless", "-v",
                           *MODEL, "--max-results", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ours = [line for line in proc.stderr.splitlines() if line.startswith("ezsr-live: ")]
    assert any("running on" in line for line in ours)
    # open_clip's narration of model creation (root logger, INFO/DEBUG) is not ours
    assert not any("model config" in line.lower() or "Parsing model identifier" in line for line in ours)


def test_a_missing_recording_is_reported_before_the_model_stack_loads():
    """The source is opened first: a wrong path costs no torch import (seconds)."""
    code = ("import sys; from ezsr_live.cli.live import main; "
            "rc = main(['--replay', '/nonexistent/recording.raw', '--headless']); "
            "print(rc, 'torch' in sys.modules, 'open_clip' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr
    assert "/nonexistent/recording.raw" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("record", ["out.npz", "no_such_folder/out.aedat4", "out.xyz"])
def test_a_wrong_record_output_is_refused_before_the_source_and_the_model(tmp_path, record):
    """``--record`` is checked first: no kernel compiles, no torch import, no file left."""
    target = tmp_path / record
    code = ("import sys; from ezsr_live.cli.live import main; "
            f"rc = main(['--replay', {str(DEMO)!r}, '--headless', '--record', {str(target)!r}]); "
            "print(rc, 'torch' in sys.modules, 'open_clip' in sys.modules)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ezsr-live: ") and str(target) in lines[0], lines
    assert "compiling" not in proc.stderr
    assert not list((tmp_path / "numba-cache").rglob("*.nbi"))  # nothing was compiled
    assert not target.exists()


def test_the_console_entry_flushes_every_result_before_its_prompt_exit(tmp_path):
    out = tmp_path / "results.jsonl"
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), "--headless", *MODEL,
                           "--labels", "disc,bar", "--max-results", "3", "--speed", "4", "--output", str(out)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert len(_lines(proc.stdout)) == 3 and len(_lines(out.read_text())) == 3


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stream_statistics_end_with_exit_code_130_on_ctrl_c_or_sigterm(signum):
    """``--no-recognition`` used to exit 0 on SIGTERM: a script could not tell an
    interrupted check from a finished one."""
    proc = subprocess.Popen([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO), "--loop",
                             "--no-recognition"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first once-a-second line: the stream is running
        assert json.loads(first)["events"] >= 0
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert json.loads(out.splitlines()[-1])["status"] == "stopped" and "Traceback" not in err
