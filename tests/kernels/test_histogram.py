"""The EZSR histogram kernels against a plain torch/torchvision reference of the official
EZSR preprocessing (github.com/Yan98/Event-based-Zero-Shot-Recognition)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import CenterCrop, InterpolationMode, Normalize, Resize

from ezsr_live.drivers import open_reader
from ezsr_live.events import Geometry, concat_events, make_events
from tests.helpers import random_events
from ezsr_live.kernels import (
    CLIP_MEAN,
    CLIP_STD,
    KernelStats,
    ezsr_histogram,
    ezsr_model_input,
    ezsr_model_input_batch,
    ezsr_model_input_columns,
    ezsr_model_input_torch,
)
from ezsr_live.kernels.sampling import direct_coordinate_lut, resize_crop_index_maps

from tests.conftest import SAMPLE_FILES

TOLERANCE = 1e-5
GEOMETRIES = [(1280, 720), (346, 260), (640, 480), (320, 240), (34, 34), (128, 128), (240, 304)]


# --------------------------------------------------------------------------- reference


def reference_histogram(events: np.ndarray, width: int, height: int, direct_size: int | None = None) -> torch.Tensor:
    """Official-style histogram: float32 rows, float16 coordinates, bincount, 0.75
    quantile of the bins > 0.1, clip, divide each plane by its max + 1. (2, H, W)."""
    rows = np.stack([events["x"], events["y"], events["t"], events["p"]], axis=1).astype(np.float32)
    rows[:, 3][rows[:, 3] <= 0.5] = -1
    rows_t = torch.from_numpy(rows)
    if direct_size is not None:
        rows_t[:, 0] *= direct_size / width
        rows_t[:, 1] *= direct_size / height
        width = height = direct_size
    rows_t = rows_t.half()
    planes = []
    for selected in (rows_t[rows_t[:, 3] == 1], rows_t[rows_t[:, 3] < 0.5]):
        flat = selected[:, 0].long() + selected[:, 1].long() * width
        planes.append(torch.bincount(flat, minlength=height * width).reshape(height, width))
    hist = torch.stack(planes).float()
    positive = hist[hist > 0.1]
    if positive.numel() == 0:
        hist = torch.zeros_like(hist)  # where the official code crashes
    else:
        limit = torch.quantile(positive, 0.75) / 10
        hist = torch.clip(hist, max=limit * 10)
    return hist / (hist.amax([1, 2], True) + 1)


def reference_model_input(
    events: np.ndarray, width: int, height: int, size: int = 224, coords: str = "resize"
) -> torch.Tensor:
    hist = reference_histogram(events, width, height, size if coords == "direct" else None)
    image = hist.mean(0, True).expand(3, -1, -1).float()
    image = Resize(size, interpolation=InterpolationMode.NEAREST)(image)
    image = CenterCrop(size)(image)
    return Normalize(CLIP_MEAN, CLIP_STD)(image)


def clustered_events(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """Events piled on a few blobs and hot pixels, so that bins reach large counts."""
    cx, cy = rng.integers(0, width, 4), rng.integers(0, height, 4)
    blob = rng.integers(0, 4, n)
    x = np.clip(cx[blob] + rng.normal(0, max(width / 30, 1), n), 0, width - 1).astype(int)
    y = np.clip(cy[blob] + rng.normal(0, max(height / 30, 1), n), 0, height - 1).astype(int)
    hot = rng.random(n) < 0.05
    x[hot], y[hot] = width // 2, height // 3
    return make_events(np.arange(n), x, y, rng.integers(0, 2, n))


def assert_close(actual, expected) -> None:
    actual = np.asarray(actual)
    expected = expected.numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max(initial=0.0) <= TOLERANCE


# --------------------------------------------------------------------------- geometry maps


@pytest.mark.parametrize("size", [224, 336, 100])
@pytest.mark.parametrize("width,height", GEOMETRIES + [(1, 1), (224, 224), (112, 300), (448, 224)])
def test_resize_crop_maps_pick_the_pixels_torchvision_picks(width: int, height: int, size: int) -> None:
    # float32 as in EZSR (torch computes the nearest index differently for float64);
    # every id below 2**24 is exact in float32
    pixel_ids = torch.arange(width * height, dtype=torch.float32).reshape(1, height, width)
    picked = CenterCrop(size)(Resize(size, interpolation=InterpolationMode.NEAREST)(pixel_ids))[0].long().numpy()
    rows, cols = resize_crop_index_maps(height, width, size)
    np.testing.assert_array_equal(rows[:, None] * width + cols[None, :], picked)


@pytest.mark.parametrize("size", [224, 336, 7])
@pytest.mark.parametrize("extent", [34, 128, 240, 260, 346, 480, 640, 720, 1280, 4096])
def test_direct_lut_matches_float32_scaling_then_float16_truncation(extent: int, size: int) -> None:
    coords = torch.arange(extent, dtype=torch.float32)
    coords *= size / extent
    expected = coords.half().long().numpy()
    expected[expected >= size] = -1
    np.testing.assert_array_equal(direct_coordinate_lut(extent, size), expected)


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("width,height", GEOMETRIES)
@pytest.mark.parametrize("n", [1, 7, 15_000, 200_000])
def test_histogram_matches_reference_on_random_windows(width: int, height: int, n: int) -> None:
    rng = np.random.default_rng(n * 7919 + width)
    for events in (random_events(rng, n, width, height), clustered_events(rng, n, width, height)):
        assert_close(ezsr_histogram(events, (width, height)), reference_histogram(events, width, height))


@pytest.mark.parametrize("coords", ["resize", "direct"])
@pytest.mark.parametrize("width,height", GEOMETRIES)
def test_model_input_matches_reference_on_random_windows(width: int, height: int, coords: str) -> None:
    rng = np.random.default_rng(width * height)
    for n in (3, 15_000, 120_000):
        for events in (random_events(rng, n, width, height), clustered_events(rng, n, width, height)):
            expected = reference_model_input(events, width, height, 224, coords)
            assert_close(ezsr_model_input(events, Geometry(width, height), coords=coords), expected)


@pytest.mark.parametrize("size", [336, 96])
def test_model_input_matches_reference_at_other_input_sizes(size: int) -> None:
    events = clustered_events(np.random.default_rng(size), 30_000, 346, 260)
    for coords in ("resize", "direct"):
        expected = reference_model_input(events, 346, 260, size, coords)
        assert_close(ezsr_model_input(events, (346, 260), size=size, coords=coords), expected)


def test_direct_histogram_matches_reference() -> None:
    events = clustered_events(np.random.default_rng(3), 40_000, 640, 480)
    assert_close(ezsr_histogram(events, (640, 480), direct_size=224), reference_histogram(events, 640, 480, 224))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_model_input_matches_reference_on_every_sample_file(samples_dir, name: str) -> None:
    reader = open_reader(samples_dir / name)
    width, height = reader.geometry.width, reader.geometry.height
    events = reader.read_all()
    middle = len(events) // 2
    windows = [events[:15_000], events[middle : middle + 15_000], events]
    for window in windows:
        assert_close(ezsr_histogram(window, reader.geometry), reference_histogram(window, width, height))
        for coords in ("resize", "direct"):
            expected = reference_model_input(window, width, height, 224, coords)
            assert_close(ezsr_model_input(window, reader.geometry, coords=coords), expected)


# --------------------------------------------------------------------------- edge cases


def test_empty_window_gives_zero_histogram_and_normalised_zero_input() -> None:
    empty = make_events([], [], [], [])
    assert not ezsr_histogram(empty, (64, 48)).any()
    model_input = ezsr_model_input(empty, (64, 48), size=32)
    expected = (0 - np.float32(CLIP_MEAN)) / np.float32(CLIP_STD)
    np.testing.assert_array_equal(model_input, np.broadcast_to(expected[:, None, None], (3, 32, 32)))


def test_single_hot_pixel_is_clipped_to_the_quantile_of_the_active_bins() -> None:
    # ON bins hold 1, 2, 3 events and the hot pixel 1000: the 0.75 quantile of
    # [1, 2, 3, 1000] is 3 + 0.25 * 997 = 252.25, so the hot pixel reads 252.25/253.25
    xs = [1] + [2] * 2 + [3] * 3 + [4] * 1000
    events = make_events(np.arange(len(xs)), xs, np.zeros(len(xs)), np.ones(len(xs)))
    hist = ezsr_histogram(events, (8, 2))
    clip = np.float32(np.float32(252.25) / np.float32(10)) * np.float32(10)
    np.testing.assert_allclose(hist[0, 0, 1:5], np.float32([1, 2, 3, clip]) / (clip + 1), rtol=0, atol=1e-7)
    assert not hist[1].any()
    assert_close(hist, reference_histogram(events, 8, 2))


@pytest.mark.parametrize("pile", [255, 256, 257, 511, 512, 70_000])
def test_bins_with_hundreds_of_events_are_counted_exactly(pile: int) -> None:
    rng = np.random.default_rng(pile)
    background = random_events(rng, 3_000, 64, 48)
    hot = make_events(np.arange(pile), np.full(pile, 9), np.full(pile, 4), np.zeros(pile))
    events = concat_events([background[:1_000], hot, background[1_000:]])
    assert_close(ezsr_histogram(events, (64, 48)), reference_histogram(events, 64, 48))
    for coords in ("resize", "direct"):
        assert_close(ezsr_model_input(events, (64, 48), coords=coords), reference_model_input(events, 64, 48, 224, coords))


def test_window_of_one_pixel_only_normalises_to_count_over_count_plus_one() -> None:
    events = make_events(np.arange(50), np.full(50, 5), np.full(50, 6), np.zeros(50))
    hist = ezsr_histogram(events, (10, 10))
    assert hist[1, 6, 5] == pytest.approx(50 / 51)
    assert np.count_nonzero(hist) == 1


def test_out_of_range_events_are_dropped_and_counted() -> None:
    rng = np.random.default_rng(11)
    inside = random_events(rng, 5_000, 100, 80)
    outside = make_events(np.arange(300), rng.integers(100, 65536, 300), rng.integers(0, 65536, 300), np.ones(300))
    mixed = concat_events([inside[:2_000], outside, inside[2_000:]])
    stats = KernelStats()
    for coords in ("resize", "direct"):
        np.testing.assert_array_equal(
            ezsr_model_input(mixed, (100, 80), coords=coords, stats=stats),
            ezsr_model_input(inside, (100, 80), coords=coords),
        )
    np.testing.assert_array_equal(ezsr_histogram(mixed, (100, 80), stats=stats), ezsr_histogram(inside, (100, 80)))
    assert stats.dropped == 3 * 300
    assert stats.events_in == 3 * len(mixed)


def test_polarity_zero_is_off_and_any_other_value_is_on() -> None:
    events = make_events([0, 1, 2], [0, 1, 2], [0, 0, 0], [0, 1, 1])
    events["p"][2] = -1  # garbage polarity still lands in a plane, never out of bounds
    hist = ezsr_histogram(events, (3, 1))
    assert hist[1, 0, 0] > 0 and hist[0, 0, 1] > 0 and hist[0, 0, 2] > 0


# --------------------------------------------------------------------------- batching


def test_batch_equals_one_window_at_a_time_including_empty_windows() -> None:
    rng = np.random.default_rng(5)
    windows = [
        clustered_events(rng, 15_000, 346, 260),
        make_events([], [], [], []),
        random_events(rng, 40_000, 346, 260),
        random_events(rng, 1, 346, 260),
    ]
    for coords in ("resize", "direct"):
        batch = ezsr_model_input_batch(windows, (346, 260), coords=coords)
        assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32
        assert tuple(batch.shape) == (4, 3, 224, 224)
        for b, window in enumerate(windows):
            np.testing.assert_array_equal(batch[b].numpy(), ezsr_model_input(window, (346, 260), coords=coords))


def test_batch_of_no_windows_is_an_empty_tensor() -> None:
    assert tuple(ezsr_model_input_batch([], (64, 48), size=32).shape) == (0, 3, 32, 32)


def test_columns_entry_point_rejects_offsets_outside_the_columns() -> None:
    x = np.zeros(10, np.uint16)
    with pytest.raises(ValueError):
        ezsr_model_input_columns(x, x, x.astype(np.int8), np.array([0, 11]), (4, 4))
    with pytest.raises(ValueError):
        ezsr_model_input_columns(x, x, x.astype(np.int8), np.array([5, 2]), (4, 4))


# --------------------------------------------------------------------------- torch path


def _torch_columns(events: np.ndarray, device: str):
    return tuple(torch.from_numpy(events[f].astype(np.int64)).to(device) for f in ("x", "y", "p"))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("coords", ["resize", "direct"])
def test_torch_path_equals_the_numba_kernel(device: str, coords: str) -> None:
    rng = np.random.default_rng(17)
    windows = [
        clustered_events(rng, 15_000, 346, 260),
        make_events([], [], [], []),
        random_events(rng, 30_000, 346, 260),
        make_events([1, 2], [400, 3], [0, 900], [1, 1]),  # off-sensor events only
    ]
    events = concat_events(windows)
    offsets = np.cumsum([0] + [len(w) for w in windows])
    x, y, p = _torch_columns(events, device)
    result = ezsr_model_input_torch(x, y, p, (346, 260), offsets=torch.from_numpy(offsets), coords=coords)
    assert result.device.type == device
    expected = ezsr_model_input_columns(events["x"], events["y"], events["p"], offsets, (346, 260), coords=coords)
    assert np.abs(result.cpu().numpy() - expected).max() <= TOLERANCE


@pytest.mark.parametrize("device", DEVICES)
def test_torch_path_matches_reference_on_a_sensor_sized_window(device: str) -> None:
    events = clustered_events(np.random.default_rng(23), 50_000, 1280, 720)
    x, y, p = _torch_columns(events, device)
    result = ezsr_model_input_torch(x, y, p, (1280, 720))
    assert_close(result[0].cpu(), reference_model_input(events, 1280, 720))
