"""The region of interest and the event-rate counter, headless, on real recordings."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ezsr_live.cli.live import main as ezsr_live
from ezsr_live.drivers import open_reader
from ezsr_live.events import Geometry, Roi
from ezsr_live.kernels.roi import crop_events
from ezsr_live.runtime.rates import EventRateCounter
from tests.conftest import TINY_MODEL, TINY_MODEL_CONFIG
from tests.helpers import DEMO_DISC

MODEL = ["--model", TINY_MODEL, "--model-config", str(TINY_MODEL_CONFIG), "--pretrained", "",
         "--templates", "photo", "--device", "cpu"]


def _first_events(path, n: int) -> np.ndarray:
    with open_reader(path) as reader:
        packets, total = [], 0
        for packet in reader:
            packets.append(packet)
            total += len(packet)
            if total >= n:
                break
    return np.concatenate(packets)[:n]


def test_crop_keeps_exactly_the_events_inside_the_box_relative_to_its_corner(samples_dir):
    events = _first_events(samples_dir / "evt3_gen41_1280x720.raw", 300_000)
    roi = Roi(400, 150, 333, 211)
    inside = ((events["x"] >= 400) & (events["x"] < 733) & (events["y"] >= 150) & (events["y"] < 361))
    assert 0 < inside.sum() < len(events)
    cropped = crop_events(events, roi)
    expected = events[inside]
    assert np.array_equal(cropped["t"], expected["t"]) and np.array_equal(cropped["p"], expected["p"])
    assert np.array_equal(cropped["x"], expected["x"] - 400) and np.array_equal(cropped["y"], expected["y"] - 150)


@pytest.mark.parametrize("text, message", [("1,2,3", "X,Y,WIDTH,HEIGHT"), ("a,b,c,d", "X,Y,WIDTH,HEIGHT"),
                                           ("0,0,0,10", "positive size"), ("-1,0,10,10", "inside the sensor")])
def test_malformed_rois_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        Roi.parse(text)


def test_a_roi_must_lie_inside_the_sensor():
    assert Roi(10, 20, 336, 240).check_inside(Geometry(346, 260)) == Roi(10, 20, 336, 240)
    with pytest.raises(ValueError, match="outside the 346x260 sensor"):
        Roi(11, 20, 336, 240).check_inside(Geometry(346, 260))


def _exit_code(args: list[str]) -> int:
    try:
        return ezsr_live(args)
    except SystemExit as exc:  # argparse refuses a malformed value itself
        return int(exc.code or 0)


@pytest.mark.parametrize("roi, message", [("0,0,400,100", "reaches outside the 346x260 sensor"),
                                          ("0,0,10", "X,Y,WIDTH,HEIGHT")])
def test_the_roi_option_is_checked_against_the_sensor_in_one_line(capsys, roi, message):
    rc = _exit_code(["--replay", str(DEMO_DISC), "--headless", *MODEL, "--labels", "a,b", "--roi", roi])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert [line for line in err.splitlines() if message in line][0].startswith("ezsr-live")


def test_the_threshold_option_is_bounded(capsys):
    rc = _exit_code(["--replay", str(DEMO_DISC), "--headless", *MODEL, "--labels", "a,b", "--threshold", "1.5"])
    err = capsys.readouterr().err
    assert rc == 2 and "--threshold" in err and "in [0, 1]" in err


def test_headless_results_with_a_roi_differ_from_whole_frame_results(capsys):
    base = ["--replay", str(DEMO_DISC), "--headless", *MODEL, "--labels", "disc,square,bar,ring",
            "--max-results", "3", "--speed", "max", "--window-events", "2000"]
    assert ezsr_live(base) == 0
    whole = capsys.readouterr().out
    assert ezsr_live([*base, "--roi", "0,0,60,60"]) == 0
    boxed = capsys.readouterr().out
    assert whole and boxed and whole != boxed


def test_headless_results_say_none_of_these_below_the_threshold(capsys):
    base = ["--replay", str(DEMO_DISC), "--headless", *MODEL, "--labels", "disc,square,bar,ring",
            "--max-results", "4", "--speed", "4"]
    assert ezsr_live([*base, "--threshold", "0.9"]) == 0
    strict = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ezsr_live([*base, "--threshold", "0.01"]) == 0
    lax = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # four labels on a random tiny model: the best lies between 1 % and 90 %
    assert all(0.01 <= r["topk"][0]["prob"] < 0.9 for r in strict + lax)
    assert strict and lax  # (at full speed the worker may skip windows: fewer than 4 results)
    assert all(r["none_of_these"] for r in strict) and not any(r["none_of_these"] for r in lax)


def _counts_per_bin(events: np.ndarray, starts: np.ndarray, bin_us: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.append(starts, starts[-1] + bin_us)
    on = np.histogram(events["t"][events["p"] != 0], bins=edges)[0]
    off = np.histogram(events["t"][events["p"] == 0], bins=edges)[0]
    return on, off


@pytest.mark.parametrize("name", ["dvxplorer_320x240.aedat4", "evt2_gen3_640x480.raw"])
def test_rate_counter_bins_equal_the_recordings_counts(samples_dir, name):
    events = _first_events(samples_dir / name, 2_000_000)
    order = np.argsort(events["t"], kind="stable")
    events = events[order]
    counter = EventRateCounter(bin_us=20_000, span_us=400_000)
    for start in range(0, len(events), 65_536):  # as packets arrive
        counter.add(events[start:start + 65_536])
    history = counter.snapshot()
    spanned = int(events["t"][-1] // 20_000 - events["t"][0] // 20_000 + 1)
    assert len(history.start_us) == min(20, spanned) >= 3
    assert np.all(np.diff(history.start_us) == 20_000)
    on, off = _counts_per_bin(events, history.start_us, 20_000)
    assert np.array_equal(history.on, on) and np.array_equal(history.off, off)
    assert history.on.sum() > 0 and history.off.sum() > 0
    assert np.allclose(history.on_rate, on * 50.0)


def test_rate_counter_restarts_when_the_clock_goes_back(samples_dir):
    events = np.sort(_first_events(samples_dir / "dvxplorer_320x240.aedat4", 400_000), order="t")
    counter = EventRateCounter(bin_us=10_000, span_us=100_000)
    counter.add(events)
    counter.add(events[:1000])  # a loop: the recording starts again
    history = counter.snapshot()
    on, off = _counts_per_bin(events[:1000], history.start_us, 10_000)
    assert np.array_equal(history.on, on) and np.array_equal(history.off, off)
