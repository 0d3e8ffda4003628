"""Display frames, time surfaces and voxel grids against plain numpy references."""
from __future__ import annotations

import numpy as np
import pytest

from ezsr_live.events import concat_events, make_events
from tests.helpers import random_events
from ezsr_live.kernels import DisplayAccumulator, DisplayColors, KernelStats, display_frame, time_surface, voxel_grid

WIDTH, HEIGHT = 64, 48
COLOURS = DisplayColors(background=(10, 20, 30), on=(0, 0, 255), off=(255, 0, 0))


def hostile_events(seed: int, n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return make_events(rng.integers(0, 100_000, n), rng.integers(WIDTH, 65_536, n), rng.integers(0, 65_536, n), 1)


def reference_display(events: np.ndarray, decay_us: float | None, t_ref: int, saturation: float) -> np.ndarray:
    weights = np.zeros((2, HEIGHT, WIDTH))
    age = np.maximum(t_ref - events["t"], 0)
    w = np.exp(-age / decay_us) if decay_us else np.ones(len(events))
    np.add.at(weights, ((events["p"] == 0).astype(int), events["y"], events["x"]), w)
    bg, on, off = (np.asarray(c, float) for c in (COLOURS.background, COLOURS.on, COLOURS.off))
    total = weights.sum(0)
    mix = (weights[0, ..., None] * on + weights[1, ..., None] * off) / np.maximum(total, 1e-30)[..., None]
    alpha = np.minimum(1, total / saturation)[..., None]
    image = np.where(total[..., None] > 0, bg + alpha * (mix - bg), bg)
    return np.floor(np.clip(image, 0, 255) + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- display


def test_display_of_no_events_is_the_background() -> None:
    frame = display_frame(make_events([], [], [], []), (WIDTH, HEIGHT), colors=COLOURS)
    assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
    assert (frame == COLOURS.background).all()


def test_display_colours_on_and_off_pixels() -> None:
    events = make_events([0, 1, 2, 3], [1, 2, 3, 3], [1, 1, 1, 1], [1, 0, 1, 0])
    frame = display_frame(events, (WIDTH, HEIGHT), colors=COLOURS)
    assert tuple(frame[1, 1]) == COLOURS.on
    assert tuple(frame[1, 2]) == COLOURS.off
    assert tuple(frame[1, 3]) == (128, 0, 128)  # one of each: the even mix
    assert (frame[0] == COLOURS.background).all()


@pytest.mark.parametrize("decay_us,saturation", [(None, 1.0), (None, 4.0), (20_000.0, 1.0), (5_000.0, 3.0)])
def test_display_matches_reference(decay_us, saturation) -> None:
    events = random_events(1, 5_000, WIDTH, HEIGHT, 100_000)
    t_ref = int(events["t"].max())
    frame = display_frame(events, (WIDTH, HEIGHT), decay_us=decay_us, colors=COLOURS, saturation=saturation)
    expected = reference_display(events, decay_us, t_ref, saturation)
    assert np.abs(frame.astype(int) - expected).max() <= 1  # float32 vs float64 rounding


def test_display_drops_off_sensor_events() -> None:
    events = random_events(2, 5_000, WIDTH, HEIGHT, 100_000)
    stats = KernelStats()
    mixed = concat_events([events, hostile_events(2)])
    np.testing.assert_array_equal(
        display_frame(mixed, (WIDTH, HEIGHT), stats=stats, t_ref=100_000, decay_us=1e4),
        display_frame(events, (WIDTH, HEIGHT), t_ref=100_000, decay_us=1e4),
    )
    assert stats.dropped == 200


def test_display_accumulator_with_decay_equals_one_frame_of_all_events() -> None:
    events = random_events(3, 5_000, WIDTH, HEIGHT, 100_000)
    accumulator = DisplayAccumulator((WIDTH, HEIGHT), decay_us=10_000, colors=COLOURS, saturation=2.0)
    for packet in np.array_split(events, 7):
        accumulator.add(packet)
    one_shot = display_frame(events, (WIDTH, HEIGHT), decay_us=10_000, colors=COLOURS, saturation=2.0)
    assert np.abs(accumulator.render().astype(int) - one_shot).max() <= 1
    accumulator.clear()
    assert (accumulator.render() == COLOURS.background).all()


def test_display_rejects_bad_parameters() -> None:
    events = random_events(4, 10, WIDTH, HEIGHT, 100_000)
    with pytest.raises(ValueError):
        display_frame(events, (WIDTH, HEIGHT), saturation=0)
    with pytest.raises(ValueError):
        display_frame(events, (WIDTH, HEIGHT), out=np.zeros((HEIGHT, WIDTH), np.uint8))
    with pytest.raises(ValueError):
        DisplayColors(on=(300, 0, 0)).as_array()


# --------------------------------------------------------------------------- time surface


def test_time_surface_matches_reference() -> None:
    events = random_events(5, 5_000, WIDTH, HEIGHT, 100_000)
    t_ref = 120_000
    surface = time_surface(events, (WIDTH, HEIGHT), tau_us=30_000, t_ref=t_ref)
    latest = np.full((2, HEIGHT, WIDTH), np.iinfo(np.int64).min)
    np.maximum.at(latest, ((events["p"] == 0).astype(int), events["y"], events["x"]), events["t"])
    expected = np.where(latest > np.iinfo(np.int64).min, np.exp(-(t_ref - latest.astype(float)) / 30_000), 0)
    np.testing.assert_allclose(surface, expected, rtol=1e-6, atol=1e-7)


def test_time_surface_uses_the_latest_event_even_when_packets_are_unsorted() -> None:
    events = make_events([500, 100, 300], [2, 2, 2], [3, 3, 3], [1, 1, 1])
    surface = time_surface(events, (WIDTH, HEIGHT), tau_us=1_000)
    assert surface[0, 3, 2] == pytest.approx(1.0)  # t_ref defaults to the newest, 500
    assert np.count_nonzero(surface) == 1


def test_time_surface_drops_off_sensor_events() -> None:
    stats = KernelStats()
    surface = time_surface(hostile_events(6), (WIDTH, HEIGHT), tau_us=1_000, stats=stats)
    assert not surface.any() and stats.dropped == 200


# --------------------------------------------------------------------------- voxel grid


@pytest.mark.parametrize("n_bins", [1, 2, 5, 9])
def test_voxel_grid_matches_reference(n_bins: int) -> None:
    events = random_events(7, 5_000, WIDTH, HEIGHT, 100_000)
    grid = voxel_grid(events, (WIDTH, HEIGHT), n_bins)
    t0, t1 = events["t"].min(), events["t"].max()
    tn = (n_bins - 1) * (events["t"] - t0) / (t1 - t0)
    left = np.floor(tn).astype(int)
    frac = tn - left
    polarity = np.where(events["p"] > 0, 1.0, -1.0)
    expected = np.zeros((n_bins + 1, HEIGHT, WIDTH))
    np.add.at(expected, (left, events["y"], events["x"]), polarity * (1 - frac))
    np.add.at(expected, (left + 1, events["y"], events["x"]), polarity * frac)
    np.testing.assert_allclose(grid, expected[:n_bins], atol=1e-4)


def test_voxel_grid_conserves_each_events_polarity() -> None:
    events = random_events(8, 5_000, WIDTH, HEIGHT, 100_000)
    grid = voxel_grid(events, (WIDTH, HEIGHT), 6)
    signed = np.zeros((HEIGHT, WIDTH))
    np.add.at(signed, (events["y"], events["x"]), np.where(events["p"] > 0, 1.0, -1.0))
    np.testing.assert_allclose(grid.sum(0), signed, atol=1e-4)


def test_voxel_grid_ignores_events_outside_the_span_and_the_sensor() -> None:
    events = make_events([0, 50, 100, 150], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1])
    stats = KernelStats()
    grid = voxel_grid(concat_events([events, hostile_events(9)]), (WIDTH, HEIGHT), 3, t_start=50, t_end=100, stats=stats)
    np.testing.assert_allclose(grid[:, 1, 1], [1, 0, 1])
    assert stats.dropped == 200
    assert not voxel_grid(make_events([], [], [], []), (WIDTH, HEIGHT), 4).any()
