"""The EZSR event histogram and its model input, as Numba kernels.

Behaviour reproduces the official EZSR preprocessing (github.com/Yan98/
Event-based-Zero-Shot-Recognition: ``dataset/event_utlities.py`` ``event_historgram`` and
``remove_hot_pixels_historgram``; ``dataset/dataset.py`` ``load_and_preprocess``,
``ImageNetDataset`` and ``_convert_to_rgb``; ``eva_clip/transform.py`` ``image_transform``):

1. two count planes, channel 0 = ON (p == 1), channel 1 = OFF;
2. hot-pixel clip: every bin is clipped at ``(q / 10) * 10`` (float32) where ``q`` is the
   0.75 quantile, linearly interpolated as ``torch.quantile``, of all bins > 0.1 of both
   planes. The official code crashes when no bin is > 0.1; here the frame is all zeros;
3. each plane divided by (its own maximum + 1);
4. model input: the two planes averaged and repeated to 3 channels, torchvision
   ``Resize(S, NEAREST)`` + ``CenterCrop(S)``, then CLIP mean/std normalisation.
   ``coords="direct"`` instead scales coordinates into S x S before binning
   (see :mod:`ezsr_live.kernels.sampling`), as the official N-ImageNet evaluation does.

Deliberate differences from the official code, none of which changes a valid window:
events whose coordinates fall outside the sensor are dropped and counted (the official
bincount would spill them into the next row or fail); polarity is ON for any non-zero
``p`` (EVENT_DTYPE stores 0/1); and sensor coordinates are binned exactly, while the
official code rounds them to float16 first, which only matters beyond 2048 pixels.

The 0.75 quantile is exact and O(n): counts are integers, so a histogram of bin values
(count of counts) gives every order statistic without sorting. Small windows (fewer
events than half the bins) only ever visit the bins their events hit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np
from numba import njit

from ezsr_live.events import EventPacket

from ._common import CLIP_MEAN, CLIP_STD, GeometryLike, KernelStats, event_columns, record_stats, width_height
from .sampling import direct_coordinate_lut, resize_crop_index_maps

if TYPE_CHECKING:
    import torch

__all__ = [
    "CoordsMode",
    "ezsr_histogram",
    "ezsr_model_input",
    "ezsr_model_input_batch",
    "ezsr_model_input_columns",
]

CoordsMode = Literal["resize", "direct"]

HOT_PIXEL_QUANTILE = 0.75

_CLIP_MEAN32 = np.asarray(CLIP_MEAN, dtype=np.float32)
_CLIP_STD32 = np.asarray(CLIP_STD, dtype=np.float32)
_NO_LUT = np.zeros(1, dtype=np.int64)


# --------------------------------------------------------------------------- kernels


# Counts live in one flat uint8 array with the two polarities of a pixel side by side
# (bin 2 * pixel + 0 = ON, + 1 = OFF): at 1280x720 that is 1.8 MB, which mostly stays in
# a core's L2 cache, where int32 planes (7.4 MB) would not. A bin reaching 256 wraps to 0
# and its index goes to a spill list; windows that spill are widened to int32 exactly.


@njit(nogil=True, cache=True)
def _bin_index(xv, yv, pv, width, height, lut_x, lut_y, use_lut, bins_w):
    """Interleaved bin of one event, or -1 when it falls outside the sensor or the grid."""
    if xv < 0 or yv < 0 or xv >= width or yv >= height:  # columns may come as signed ints
        return -1
    if use_lut:
        bx = lut_x[xv]
        by = lut_y[yv]
        if bx < 0 or by < 0:
            return -1
    else:
        bx = xv
        by = yv
    return 2 * (by * bins_w + bx) + np.int64(pv == 0)


@njit(nogil=True, cache=True)
def _accumulate(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts, spill):
    """Count the events into uint8 ``counts``; returns (dropped, number of spills)."""
    dropped = 0
    n_spill = 0
    # loops run over whole (sliced) arrays from 0: a provably non-negative index lets
    # LLVM drop numba's negative-index handling, which makes this loop 1.6x faster
    for i in range(x.size):
        idx = _bin_index(np.int64(x[i]), np.int64(y[i]), p[i], width, height, lut_x, lut_y, use_lut, bins_w)
        if idx < 0:
            dropped += 1
            continue
        c = counts[idx]
        if c != 255:
            counts[idx] = c + 1
        else:
            counts[idx] = 0
            spill[n_spill] = idx
            n_spill += 1
    return dropped, n_spill


@njit(nogil=True, cache=True)
def _widen(counts, spill, n_spill):
    """Exact int32 counts from wrapped uint8 counts and their spill list."""
    wide = np.empty(counts.size, dtype=np.int32)
    for i in range(counts.size):
        wide[i] = counts[i]
    for k in range(n_spill):
        wide[spill[k]] += 256
    return wide


@njit(nogil=True, cache=True)
def _quantile_from_value_counts(value_counts, n_values, q):
    """``torch.quantile(values, q)`` (linear) of integer values given as a histogram.

    ``value_counts[c]`` is how many values equal c (c >= 1; index 0 is ignored).
    """
    if n_values == 0:
        return np.float32(0.0)
    # the same float32 rank arithmetic as ATen's quantile
    rank = np.float32(q) * np.float32(n_values - 1)
    k_lo = np.int64(rank)
    k_hi = np.int64(np.ceil(rank))
    weight = rank - np.float32(k_lo)
    v_lo = -1
    v_hi = -1
    seen = 0
    for c in range(1, value_counts.size):
        seen += value_counts[c]
        if v_lo < 0 and seen > k_lo:
            v_lo = c
        if seen > k_hi:
            v_hi = c
            break
    a = np.float32(v_lo)
    b = np.float32(v_hi)
    # torch's lerp: two formulas, chosen by the weight, for accuracy near both ends
    if weight < np.float32(0.5):
        return a + weight * (b - a)
    return b - (b - a) * (np.float32(1.0) - weight)


@njit(nogil=True, cache=True)
def _clip_value(value_counts, n_nonzero):
    quantile = _quantile_from_value_counts(value_counts, n_nonzero, HOT_PIXEL_QUANTILE)
    # the official code divides by 10 and multiplies back, in float32
    return (quantile / np.float32(10.0)) * np.float32(10.0)


@njit(nogil=True, cache=True)
def _statistics_dense(counts):
    """(clip, max ON, max OFF) from a scan of every bin."""
    max_on = np.int64(0)
    max_off = np.int64(0)
    for pixel in range(counts.size // 2):
        max_on = max(max_on, np.int64(counts[2 * pixel]))
        max_off = max(max_off, np.int64(counts[2 * pixel + 1]))
    value_counts = np.zeros(max(max_on, max_off) + 1, dtype=np.int64)
    for idx in range(counts.size):
        value_counts[counts[idx]] += 1
    return _clip_value(value_counts, counts.size - value_counts[0]), max_on, max_off


@njit(nogil=True, cache=True)
def _statistics_sparse(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts):
    """(clip, max ON, max OFF) visiting only the bins the events hit.

    Each bin is counted once: it is zeroed when first met and restored afterwards.
    """
    bins = np.empty(x.size, dtype=np.int64)
    values = np.empty(x.size, dtype=np.int64)
    n = 0
    max_on = np.int64(0)
    max_off = np.int64(0)
    for i in range(x.size):
        idx = _bin_index(np.int64(x[i]), np.int64(y[i]), p[i], width, height, lut_x, lut_y, use_lut, bins_w)
        if idx < 0:
            continue
        c = np.int64(counts[idx])
        if c == 0:
            continue
        bins[n] = idx
        values[n] = c
        n += 1
        counts[idx] = 0
        if idx % 2 == 0:
            max_on = max(max_on, c)
        else:
            max_off = max(max_off, c)
    value_counts = np.zeros(max(max_on, max_off) + 1, dtype=np.int64)
    for k in range(n):
        value_counts[values[k]] += 1
        counts[bins[k]] = values[k]
    return _clip_value(value_counts, n), max_on, max_off


@njit(nogil=True, cache=True)
def _statistics(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts, sparse):
    if sparse:
        return _statistics_sparse(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts)
    return _statistics_dense(counts)


@njit(nogil=True, cache=True)
def _reset(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts, sparse):
    """Zero the scratch counts again, through the events when that is cheaper."""
    if sparse:
        for i in range(x.size):
            idx = _bin_index(np.int64(x[i]), np.int64(y[i]), p[i], width, height, lut_x, lut_y, use_lut, bins_w)
            if idx >= 0:
                counts[idx] = 0
    else:
        counts[:] = 0


@njit(nogil=True, cache=True)
def _denominators(clip, max_on, max_off):
    one = np.float32(1.0)
    return min(np.float32(max_on), clip) + one, min(np.float32(max_off), clip) + one


@njit(nogil=True, cache=True)
def _write_frame(counts, clip, max_on, max_off, out):
    """Normalised planes into ``out`` (flat 2 x bins): ON plane first, then OFF."""
    den_on, den_off = _denominators(clip, max_on, max_off)
    plane = counts.size // 2
    for pixel in range(plane):
        out[pixel] = min(np.float32(counts[2 * pixel]), clip) / den_on
        out[plane + pixel] = min(np.float32(counts[2 * pixel + 1]), clip) / den_off


@njit(nogil=True, cache=True)
def _write_model_input(counts, bins_w, clip, max_on, max_off, rows, cols, mean, std, out):
    den_on, den_off = _denominators(clip, max_on, max_off)
    two = np.float32(2.0)
    for i in range(rows.size):
        row = rows[i] * bins_w
        for j in range(cols.size):
            idx = 2 * (row + cols[j])
            on = min(np.float32(counts[idx]), clip) / den_on
            off = min(np.float32(counts[idx + 1]), clip) / den_off
            grey = (on + off) / two
            for k in range(3):
                out[k, i, j] = (grey - mean[k]) / std[k]


@njit(nogil=True, cache=True)
def _histogram_kernel(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, bins_h, out):
    """Normalised 2-plane EZSR histogram of one window into ``out`` (flat, 2*bins_h*bins_w)."""
    plane = bins_w * bins_h
    n = x.size
    counts = np.zeros(2 * plane, dtype=np.uint8)
    spill = np.empty(n // 256 + 1, dtype=np.int64)
    dropped, n_spill = _accumulate(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts, spill)
    sparse = 2 * n < plane
    if n_spill == 0:
        clip, max_on, max_off = _statistics(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, counts, sparse)
        _write_frame(counts, clip, max_on, max_off, out)
    else:
        wide = _widen(counts, spill, n_spill)
        clip, max_on, max_off = _statistics(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, wide, sparse)
        _write_frame(wide, clip, max_on, max_off, out)
    return dropped


@njit(nogil=True, cache=True)
def _model_input_kernel(
    x, y, p, offsets, width, height, lut_x, lut_y, use_lut, bins_w, bins_h, rows, cols, mean, std, out
):
    """EZSR model input of windows ``[offsets[b], offsets[b+1])`` into ``out[b]`` (B, 3, S, S).

    One scratch histogram serves every window: it is zeroed after each, by revisiting
    the window's events when that is cheaper than clearing it whole.
    """
    plane = bins_w * bins_h
    counts = np.zeros(2 * plane, dtype=np.uint8)
    dropped = 0
    for b in range(offsets.size - 1):
        xs = x[offsets[b] : offsets[b + 1]]
        ys = y[offsets[b] : offsets[b + 1]]
        ps = p[offsets[b] : offsets[b + 1]]
        spill = np.empty(xs.size // 256 + 1, dtype=np.int64)
        window_dropped, n_spill = _accumulate(xs, ys, ps, width, height, lut_x, lut_y, use_lut, bins_w, counts, spill)
        dropped += window_dropped
        sparse = 2 * xs.size < plane
        if n_spill == 0:
            clip, max_on, max_off = _statistics(xs, ys, ps, width, height, lut_x, lut_y, use_lut, bins_w, counts, sparse)
            _write_model_input(counts, bins_w, clip, max_on, max_off, rows, cols, mean, std, out[b])
        else:
            wide = _widen(counts, spill, n_spill)
            clip, max_on, max_off = _statistics(xs, ys, ps, width, height, lut_x, lut_y, use_lut, bins_w, wide, sparse)
            _write_model_input(wide, bins_w, clip, max_on, max_off, rows, cols, mean, std, out[b])
        _reset(xs, ys, ps, width, height, lut_x, lut_y, use_lut, bins_w, counts, sparse)
    return dropped


# --------------------------------------------------------------------------- wrappers


def _grid(width: int, height: int, coords: CoordsMode, size: int):
    """(lut_x, lut_y, use_lut, bins_w, bins_h, rows, cols) for a coordinate mode."""
    if size <= 0:
        raise ValueError(f"model input size must be positive, got {size}")
    if coords == "resize":
        rows, cols = resize_crop_index_maps(height, width, size)
        return _NO_LUT, _NO_LUT, False, width, height, rows, cols
    if coords == "direct":
        identity = np.arange(size, dtype=np.int64)
        return (
            direct_coordinate_lut(width, size),
            direct_coordinate_lut(height, size),
            True,
            size,
            size,
            identity,
            identity,
        )
    raise ValueError(f"coords must be 'resize' or 'direct', got {coords!r}")


def ezsr_histogram(
    events: EventPacket,
    geometry: GeometryLike,
    *,
    direct_size: int | None = None,
    stats: KernelStats | None = None,
) -> np.ndarray:
    """The normalised EZSR histogram of one window: float32 array (2, H, W), plane 0 = ON.

    This is the official ``event_historgram(..., remove_hot_pixel=True)`` output. With
    ``direct_size=S`` events are first scaled into an S x S grid (``coords="direct"``)
    and the result is (2, S, S).
    """
    width, height = width_height(geometry)
    _, x, y, p = event_columns(events)
    if direct_size is None:
        lut_x, lut_y, use_lut, bins_w, bins_h = _NO_LUT, _NO_LUT, False, width, height
    else:
        lut_x, lut_y, use_lut, bins_w, bins_h, _, _ = _grid(width, height, "direct", int(direct_size))
    out = np.empty((2, bins_h, bins_w), dtype=np.float32)
    dropped = _histogram_kernel(x, y, p, width, height, lut_x, lut_y, use_lut, bins_w, bins_h, out.reshape(-1))
    record_stats(stats, x.size, dropped)
    return out


def ezsr_model_input_columns(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    offsets: np.ndarray,
    geometry: GeometryLike,
    *,
    size: int = 224,
    coords: CoordsMode = "resize",
    out: np.ndarray | None = None,
    stats: KernelStats | None = None,
) -> np.ndarray:
    """Model inputs of several windows given as columns and window offsets, in one kernel call.

    Window b is events ``offsets[b]:offsets[b+1]`` of the columns ``x``, ``y`` (unsigned
    ints), ``p`` (ints, non-zero = ON). Returns (and fills ``out`` if given) a C-contiguous
    float32 array (B, 3, size, size).
    """
    width, height = width_height(geometry)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or offsets.size < 1:
        raise ValueError("offsets must be a 1-D array of at least one element")
    if not (x.shape == y.shape == p.shape and x.ndim == 1):
        raise ValueError("x, y and p must be 1-D arrays of the same length")
    if offsets[0] < 0 or offsets[-1] > x.size or np.any(np.diff(offsets) < 0):
        raise ValueError("offsets must be non-decreasing and within the columns")
    lut_x, lut_y, use_lut, bins_w, bins_h, rows, cols = _grid(width, height, coords, int(size))
    n_windows = offsets.size - 1
    if out is None:
        out = np.empty((n_windows, 3, size, size), dtype=np.float32)
    elif out.shape != (n_windows, 3, size, size) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous float32 of shape {(n_windows, 3, size, size)}")
    dropped = _model_input_kernel(
        x, y, p, offsets, width, height, lut_x, lut_y, use_lut, bins_w, bins_h, rows, cols, _CLIP_MEAN32, _CLIP_STD32, out
    )
    record_stats(stats, offsets[-1] - offsets[0], dropped)
    return out


def ezsr_model_input(
    events: EventPacket,
    geometry: GeometryLike,
    *,
    size: int = 224,
    coords: CoordsMode = "resize",
    stats: KernelStats | None = None,
) -> np.ndarray:
    """The EZSR encoder input of one window: float32 array (3, size, size), CLIP-normalised."""
    _, x, y, p = event_columns(events)
    offsets = np.array([0, x.size], dtype=np.int64)
    return ezsr_model_input_columns(x, y, p, offsets, geometry, size=size, coords=coords, stats=stats)[0]


def ezsr_model_input_batch(
    windows: Sequence[EventPacket],
    geometry: GeometryLike,
    *,
    size: int = 224,
    coords: CoordsMode = "resize",
    stats: KernelStats | None = None,
) -> torch.Tensor:
    """B windows to a float32 tensor (B, 3, size, size) on the CPU, with one kernel call.

    The windows are concatenated once (one copy) so that the kernel can walk them with a
    single scratch histogram.
    """
    lengths = np.fromiter((len(w) for w in windows), dtype=np.int64, count=len(windows))
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    packets = [w for w in windows if len(w)]
    if packets:
        columns = [event_columns(w) for w in packets]
        x = np.concatenate([c[1] for c in columns])
        y = np.concatenate([c[2] for c in columns])
        p = np.concatenate([c[3] for c in columns])
    else:
        x = np.zeros(0, np.uint16)
        y = np.zeros(0, np.uint16)
        p = np.zeros(0, np.int8)
    batch = ezsr_model_input_columns(x, y, p, offsets, geometry, size=size, coords=coords, stats=stats)
    import torch  # here, not at the top: the live view's first frame must not wait for torch

    return torch.from_numpy(batch)
