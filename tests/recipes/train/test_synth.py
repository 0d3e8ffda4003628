"""Event synthesis: the pixel model's physics, determinism, and the `ezsr synth` command."""
from __future__ import annotations

import numpy as np

from ezsr_live.cli.toolbox import main
from ezsr_live.drivers import open_reader
from ezsr_live.events import EVENT_DTYPE, Geometry
from ezsr_live.synth import SynthConfig, Trajectory, events_from_log_frames, synthesize

NOISELESS = SynthConfig(threshold_sigma=0.0, shot_noise_hz=0.0, hot_pixel_fraction=0.0)


def _edge_image(width: int = 64, height: int = 32, edge_x: int = 24, low: float = 0.2, high: float = 0.8):
    img = np.full((height, width), low, np.float32)
    img[:, :edge_x] = high  # bright on the left: moving right, it brightens the pixels it enters
    return img


def test_uniform_image_produces_almost_no_events():
    img = np.full((64, 64, 3), 128, np.uint8)
    result = synthesize(img, SynthConfig(), seed=3)  # default noise on
    assert len(result.events) < 0.01 * 64 * 64
    assert len(synthesize(img, NOISELESS, seed=3).events) == 0


def test_edge_moving_right_gives_on_events_where_it_enters_only():
    traj = Trajectory.linear_shift(dx=6.0, dy=0.0, duration_us=10_000)
    ev = synthesize(_edge_image(), NOISELESS, seed=0, trajectory=traj).events
    assert len(ev) > 0
    assert np.all(ev["p"] == 1), "a bright region advancing only brightens pixels"
    # the edge sweeps x in [24, 30]; bilinear blur reaches at most one pixel further
    assert ev["x"].min() >= 23 and ev["x"].max() <= 31
    # every row of the edge fires, and the further right a pixel, the later it fires
    assert set(np.unique(ev["y"])) == set(range(32))
    first_t = [ev["t"][ev["x"] == x].min() for x in range(24, 30)]
    assert first_t == sorted(first_t)


def test_bar_moving_right_fires_on_before_off_at_each_pixel():
    img = np.full((32, 64), 0.1, np.float32)
    img[:, 20:26] = 0.9  # a 6-pixel bright bar
    traj = Trajectory.linear_shift(dx=12.0, dy=0.0, duration_us=20_000)
    ev = synthesize(img, NOISELESS, seed=0, trajectory=traj).events
    on, off = ev[ev["p"] == 1], ev[ev["p"] == 0]
    assert len(on) and len(off)
    assert on["x"].mean() > off["x"].mean(), "ON at the leading (right) edge, OFF at the trailing edge"
    both = np.intersect1d(np.unique(on["x"]), np.unique(off["x"]))
    assert len(both) >= 4
    for x in both:
        assert on["t"][on["x"] == x].min() < off["t"][off["x"] == x].min()


def test_event_count_scales_with_contrast():
    traj = Trajectory.linear_shift(dx=5.0, dy=0.0, duration_us=10_000)
    counts = []
    for high in (0.25, 0.5, 1.0):
        ev = synthesize(_edge_image(low=0.1, high=high), NOISELESS, seed=0, trajectory=traj).events
        counts.append(len(ev))
    assert counts[0] < counts[1] < counts[2]
    # events per pixel ~ log-contrast / threshold: ln(2.5), ln(5), ln(10) over 0.2
    ratio = counts[2] / counts[0]
    assert 1.8 < ratio < 3.5


def test_multiple_thresholds_in_one_step_give_several_events_with_interpolated_times():
    logf = np.zeros((2, 1, 1), np.float32)
    logf[1] = 1.1  # +1.1 log units over one step: 5 thresholds of 0.2
    c = np.full((1, 1), 0.2, np.float32)
    ev = events_from_log_frames(logf, np.array([0.0, 1000.0]), c, c)
    assert len(ev) == 5 and np.all(ev["p"] == 1)
    expected = np.arange(1, 6) * 0.2 / 1.1 * 1000  # linear crossing times
    np.testing.assert_allclose(ev["t"], expected, atol=1.0)


def test_refractory_period_suppresses_events_closer_than_it():
    logf = np.zeros((2, 1, 1), np.float32)
    logf[1] = 1.1
    c = np.full((1, 1), 0.2, np.float32)
    ev = events_from_log_frames(logf, np.array([0.0, 1000.0]), c, c, refractory_us=300.0)
    # crossings at 182, 364, 545, 727, 909 us: each kept one blinds the pixel for 300 us
    np.testing.assert_allclose(ev["t"], [182, 545, 909], atol=1.0)


def test_non_finite_intensities_emit_nothing():
    logf = np.full((3, 2, 2), np.nan, np.float32)
    c = np.full((2, 2), 0.2, np.float32)
    assert len(events_from_log_frames(logf, np.array([0.0, 1.0, 2.0]), c, c)) == 0
    img = np.full((16, 16, 3), np.nan, np.float32)
    assert len(synthesize(img, NOISELESS, seed=0).events) == 0


def test_identical_seeds_give_identical_events_and_different_seeds_differ():
    rng = np.random.default_rng(5)
    img = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    a = synthesize(img, seed=11).events
    b = synthesize(img, seed=11).events
    c = synthesize(img, seed=12).events
    assert a.dtype == EVENT_DTYPE and len(a) > 100
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    assert np.all(np.diff(a["t"]) >= 0), "events come out time-sorted"


def test_target_geometry_bounds_every_event():
    rng = np.random.default_rng(1)
    img = (rng.random((50, 90, 3)) * 255).astype(np.uint8)
    res = synthesize(img, seed=2, geometry=Geometry(32, 24))
    assert res.geometry == Geometry(32, 24)
    assert res.events["x"].max() < 32 and res.events["y"].max() < 24


def test_synth_command_writes_a_readable_recording(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(2)
    paths = []
    for i in range(2):
        p = tmp_path / f"img{i}.png"
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(p)
        paths.append(str(p))
    out = tmp_path / "synth.npz"
    assert main(["synth", *paths, "-o", str(out), "--motion-s", "0.005", "--seed", "4"]) == 0
    with open_reader(out) as reader:
        ev = reader.read_all()
        assert reader.geometry == Geometry(32, 24)
    assert len(ev) > 0 and np.all(np.diff(ev["t"]) >= 0)
    assert ev["t"].max() > 5000 + 10_000  # the second image plays after the first and the gap


def test_synth_command_rejects_a_corrupt_image(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert main(["synth", str(bad), "-o", str(tmp_path / "o.npz")]) == 2
    assert "bad.png" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
