"""One settings source, one set of validators: every numeric option of ``ezsr-live`` and
``ezsr``, every ``--config`` value and every runtime change is refused the same way,
in one line naming the option (and the file), exit 2, no traceback."""
from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pytest

from tests.helpers import DEMO_DISC
from ezsr_live.cli.live import build_parser
from ezsr_live.cli.live import main as ezsr_live
from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.model.factory import resolve_config
from ezsr_live.model.recognizer import RecognizerConfig
from ezsr_live.runtime.live import LiveOptions, SourceOptions
from ezsr_live.runtime.pipeline import DEFAULT_RING_EVENTS
from ezsr_live.runtime.settings import RuntimeSettings, check_changes
from ezsr_live.settings import (
    RING_EVENTS,
    WINDOW_EVENTS,
    OutputSettings,
    RecognitionSettings,
    ReplaySettings,
    SettingError,
    WindowSettings,
    all_settings,
)
from ezsr_live.windows import WindowSpec

DEMO = str(DEMO_DISC)
#: a run that, were the option accepted, would stream the demo without a model
BASE = ["--replay", DEMO, "--no-recognition", "--headless"]


def _refusal(run, argv, capsys) -> str:
    """Run a command's main(); it must refuse with exit 2 and exactly one line."""
    try:
        code = run(argv)
    except SystemExit as exc:  # argparse's refusals leave through SystemExit
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


LIVE_OPTIONS = [
    (["--window-ms", "inf"], "--window-ms"),
    (["--window-ms", "1e300"], "--window-ms"),
    (["--window-ms", "nan"], "--window-ms"),
    (["--window-ms", "0.0001"], "--window-ms"),  # rounds to a 0 µs window
    (["--window-events", "5000000"], "--window-events"),  # more than the ring holds
    (["--window-events", str(RING_EVENTS + 1)], "--window-events"),
    (["--speed", "1e300"], "--speed"),
    (["--speed", "nan"], "--speed"),
    (["--speed", "-1"], "--speed"),
    (["--start-us", "-1"], "--start-us"),
    (["--start-us", "1e30"], "--start-us"),
    (["--duration-us", "0"], "--duration-us"),
    (["--duration-s", "inf"], "--duration-s"),
    (["--duration-s", "1e300"], "--duration-s"),
    (["--max-results", "0"], "--max-results"),
    (["--smooth", "0"], "--smooth"),
    (["--smooth", "10000000000000000000000"], "--smooth"),
    (["--top-k", "0"], "--top-k"),
    (["--top-k", "2.5"], "--top-k"),
    (["--knn-k", "0"], "--knn-k"),
    (["--knn-tau", "nan"], "--knn-tau"),
    (["--knn-tau", "0"], "--knn-tau"),
    (["--knn-tau", "-1"], "--knn-tau"),
    (["--knn-alpha", "1.5"], "--knn-alpha"),
    (["--knn-alpha", "nan"], "--knn-alpha"),
    (["--threads", "0"], "--threads"),
    (["--threads", "100000000000000000000"], "--threads"),
    (["--coords", "sideways"], "--coords"),
]


@pytest.mark.parametrize("option, name", LIVE_OPTIONS, ids=[" ".join(o) for o, _ in LIVE_OPTIONS])
def test_every_numeric_ezsr_live_option_refuses_bad_values_in_one_line(capsys, option, name):
    line = _refusal(ezsr_live, [*BASE, *option], capsys)
    assert line.startswith("ezsr-live: ") and name in line


CONFIGS = [
    ("record = 5\n", "record: must be a string"),
    ("top-k = true\n", "top-k: must be a whole number"),
    ("top_k = 2.5\n", "top_k: must be a whole number"),
    ("labels = 3\n", "labels: must be a string"),
    ("speed = \"4\"\n", "speed: must be a number"),
    ("speed = 1e300\n", "speed: must be a number"),
    ("window-ms = inf\n", "window-ms: must be a number"),
    ("window-ms = \"30\"\n", "window-ms: must be a number"),
    ("window-events = 5000000\n", "window-events: must be a whole number"),
    ("knn-alpha = 2\n", "knn-alpha: must be a number in [0, 1]"),
    ("loop = 1\n", "loop: must be true or false"),
    ("headless = \"yes\"\n", "headless: must be true or false"),
    ("coords = 5\n", "coords: must be"),
    ("coords = \"sideways\"\n", "coords: must be"),
    ("geometry = 640\n", "geometry: must be a string"),
    ("device = \"tpu\"\n", "device: must be one of"),
    ("no_such_option = 1\n", "unknown key 'no_such_option'"),
    ("speed = [\n", "not valid TOML"),
]


@pytest.mark.parametrize("content, message", CONFIGS, ids=[c.strip() for c, _ in CONFIGS])
def test_wrong_config_values_are_refused_naming_the_file_and_the_key(capsys, tmp_path, content, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    line = _refusal(ezsr_live, ["--config", str(cfg), *BASE], capsys)
    assert line.startswith(f"ezsr-live: {cfg}: ") and message in line


def test_a_folder_given_as_config_file_is_refused_in_one_line(capsys, tmp_path):
    line = _refusal(ezsr_live, ["--config", str(tmp_path), *BASE], capsys)
    assert line == f"ezsr-live: {tmp_path}: is a folder, not a config file"


def test_config_values_of_the_right_type_are_taken_as_the_command_line_would():
    parser = build_parser()
    from ezsr_live.cli.config import _convert, _options_by_key

    actions = _options_by_key(parser)
    assert _convert("speed", actions["speed"], "max") is None
    assert _convert("speed", actions["speed"], 4) == 4.0
    assert _convert("window-ms", actions["window_ms"], 30) == 30.0
    assert _convert("loop", actions["loop"], True) is True


TOOLBOX_OPTIONS = [
    (["pool", "info", "POOL", "--check", "--queries", "0"], "--queries"),
    (["pool", "info", "POOL", "--check", "-k", "0"], "-k"),
    (["pool", "build", "DIR", "-o", "OUT", "--batch-size", "0"], "--batch-size"),
    (["pool", "build", "DIR", "-o", "OUT", "--workers", "-1"], "--workers"),
    (["pool", "build", "DIR", "-o", "OUT", "--target-recall", "1.5"], "--target-recall"),
    (["convert", "a.raw", "b.npz", "--reorder-window-us", "-1"], "--reorder-window-us"),
    (["record", "a.raw", "b.npz", "--duration-s", "nan"], "--duration-s"),
    (["synth", "a.png", "-o", "b.raw", "--frames", "1"], "--frames"),
    (["synth", "a.png", "-o", "b.raw", "--motion-s", "0.01", "inf"], "--motion-s"),
    (["synth", "a.png", "-o", "b.raw", "--hot-pixels", "2"], "--hot-pixels"),
    (["synth", "a.png", "-o", "b.raw", "--threshold", "0.2", "-1"], "--threshold"),
    (["synth", "a.png", "-o", "b.raw", "--seed", "-1"], "--seed"),
    (["train", "--steps", "0"], "--steps"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--accum", "0"], "--accum"),
    (["train", "--threads", "0"], "--threads"),
    (["eval", "--root", "DIR", "--window-events", "0"], "--window-events"),
    (["eval", "--root", "DIR", "--batch-size", "100000000"], "--batch-size"),
    (["eval", "--root", "DIR", "--limit", "0"], "--limit"),
    (["geometry", "--variance", "0"], "--variance"),
    (["demo", "train", "-o", "WORK", "--teacher-steps", "0"], "--teacher-steps"),
]


@pytest.mark.parametrize("argv, name", TOOLBOX_OPTIONS, ids=[" ".join(a) for a, _ in TOOLBOX_OPTIONS])
def test_every_numeric_ezsr_option_refuses_bad_values_in_one_line(capsys, argv, name):
    line = _refusal(ezsr, argv, capsys)
    assert line.startswith("ezsr: ") and f"argument {name}" in line


def test_the_console_scripts_refuse_in_one_line_without_a_traceback(tmp_path):
    # through the real entry points, as a user meets them
    for module, argv, name in (("ezsr_live.cli.live", [*BASE, "--window-events", "5000000"], "--window-events"),
                               ("ezsr_live.cli.live", [*BASE, "--speed", "1e300"], "--speed"),
                               ("ezsr_live.cli.toolbox", ["pool", "info", "x", "--check", "--queries", "0"],
                                "--queries")):
        proc = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert name in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ runtime checks
@pytest.mark.parametrize("changes, message", [
    ({"top_k": 0}, "top_k: must be a whole number"),
    ({"top_k": True}, "top_k: must be a whole number"),
    ({"knn_k": 0}, "knn_k: must be"),
    ({"knn_tau": float("nan")}, "knn_tau: must be"),
    ({"knn_alpha": 2.0}, "knn_alpha: must be"),
    ({"coords": "sideways"}, "coords: must be"),
    ({"paused": 1}, "paused: must be true or false"),
    ({"window": WindowSpec.by_events(RING_EVENTS + 1)}, "window: must be a whole number"),
    ({"window": WindowSpec(duration_us=10**12)}, "window: must be a number"),
    ({"window": 50}, "window: must be a WindowSpec"),
    ({"colour": "red"}, "unknown settings: colour"),
])
def test_runtime_changes_are_checked_by_the_same_validators(changes, message):
    with pytest.raises(SettingError, match=message):
        check_changes(changes)
    with pytest.raises(ValueError):  # a ValueError too, for callers that treat it so
        check_changes(changes)


def test_runtime_changes_may_leave_the_k_nn_settings_as_configured():
    assert check_changes({"knn_k": None, "knn_tau": None, "top_k": 3}) == {"knn_k": None, "knn_tau": None,
                                                                            "top_k": 3}
    # a smaller ring than the default refuses windows it cannot hold
    with pytest.raises(SettingError, match="exceeds the ring's"):
        check_changes({"window": WindowSpec.by_events(2000)}, ring_capacity=1024)


def test_the_recogniser_config_refuses_what_the_command_line_refuses():
    with pytest.raises(SettingError, match="top_k"):
        RecognizerConfig(top_k=0)
    with pytest.raises(SettingError, match="knn_tau"):
        RecognizerConfig(knn_tau=float("inf"))


# ------------------------------------------------------------------ one source of defaults
def _defaults(fn) -> dict:
    return {n: p.default for n, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_every_front_end_takes_its_defaults_from_the_declarations():
    declared = {name: s.default for name, s in all_settings().items()}
    args = build_parser().parse_args(["--replay", DEMO])
    for name, default in declared.items():
        assert getattr(args, name) == default, name
    for concern in (WindowSettings, RecognitionSettings, ReplaySettings, OutputSettings):
        for f in dataclasses.fields(concern):
            assert getattr(concern(), f.name) == declared[f.name]
    runtime, config = RuntimeSettings(), RecognizerConfig()
    for name in ("top_k", "coords"):
        assert getattr(runtime, name) == declared[name]
    for name in ("top_k", "knn_k", "knn_tau", "knn_alpha", "threads"):
        assert getattr(config, name) == declared[name]
        assert _defaults(resolve_config).get(name, declared[name]) == declared[name]
    source = SourceOptions("x")
    for name in ("speed", "loop", "start_us", "duration_us", "reconnect"):
        assert getattr(source, name) == declared[name]
    assert LiveOptions(source).coords == declared["coords"]
    assert DEFAULT_RING_EVENTS == RING_EVENTS == WINDOW_EVENTS.range.hi


def _typed_default(s) -> str:
    return f"{s.default:g}" if isinstance(s.default, float) else str(s.default)


#: every declared setting with a default one can type (not a flag, not "not given")
TYPABLE = [s for s in all_settings().values() if s.kind is not bool and s.default is not None]


def test_an_option_given_with_its_default_value_is_given(tmp_path):
    from ezsr_live.cli.live import parse_command_line

    assert len(TYPABLE) >= 10
    untouched = parse_command_line(["--replay", DEMO])
    assert untouched.given_options == {"replay"}
    for s in TYPABLE:
        args = parse_command_line(["--replay", DEMO, s.flag, _typed_default(s)])
        assert getattr(args, s.name) == s.default, s.flag
        assert args.given_options == {"replay", s.name}, s.flag
    assert parse_command_line(["--replay", DEMO, "--loop"]).given_options == {"replay", "loop"}

    # a config file's values are given as well: the user wrote them, defaults or not
    config = tmp_path / "ezsr.toml"
    config.write_text("".join(f"{s.toml} = {s.default!r}\n".replace("'", '"') for s in TYPABLE) + "loop = false\n")
    args = parse_command_line(["--config", str(config), "--replay", DEMO])
    assert args.given_options == {"config", "replay", "loop"} | {s.name for s in TYPABLE}
    assert all(getattr(args, s.name) == s.default for s in TYPABLE) and args.loop is False


def test_the_help_still_shows_the_real_defaults_after_a_parse():
    parser = build_parser()
    before = parser.format_help()
    parser.parse_args(["--replay", DEMO, "--view-fps", "30", "--colours", "time_surface"])
    assert parser.format_help() == before
    flat = " ".join(before.split())
    assert "(default: 60)" in flat and "(default: polarity)" in flat and "(default: 5)" in flat
    assert parser.parse_args(["--replay", DEMO]).fps == 60.0  # and the next parse the real defaults
