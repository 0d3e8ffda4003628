"""Pixel-sampling maps that reproduce the EZSR model-input geometry exactly.

EZSR feeds its encoder a square S x S image. Two ways lead there, both taken from the
official EZSR release (``eva_clip/transform.py`` ``image_transform`` and
``dataset/dataset.py`` ``ImageNetDataset.load_event``):

* ``resize``: bin at sensor resolution, then torchvision ``Resize(S, NEAREST)`` and
  ``CenterCrop(S)`` on the tensor. Nearest-neighbour resizing and cropping only pick
  pixels, so both collapse into one row map and one column map computed here once.
* ``direct``: scale each event coordinate into S x S before binning
  (x' = x * S / W in float32, rounded to float16, truncated), as the official N-ImageNet
  evaluation does. That is a per-coordinate lookup table.

The arithmetic mirrors torch's, not the real-valued formulas: the nearest source index
is ``floor(float32(dst) * float32(in / out))`` (ATen ``nearest_idx``, with its exact
special cases for equal and doubled sizes), the resized long side is
``int(S * long / short)`` (torchvision ``_compute_resized_output_size``) and the crop
offset is ``int(round((size - S) / 2))`` with Python's round-half-to-even.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["resized_shape", "nearest_source_indices", "resize_crop_index_maps", "direct_coordinate_lut"]


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Output (height, width) of torchvision ``Resize(size)``: shorter side = ``size``."""
    if min(height, width, size) <= 0:
        raise ValueError(f"sizes must be positive, got {height}x{width} -> {size}")
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


def nearest_source_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output index for torch ``interpolate(mode="nearest")``."""
    dst = np.arange(n_out, dtype=np.int64)
    if n_out == n_in:
        return dst
    if n_out == 2 * n_in:
        return dst >> 1
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.floor(dst.astype(np.float32) * scale).astype(np.int64)
    return np.minimum(src, n_in - 1)


@lru_cache(maxsize=32)
def _resize_crop_index_maps(height: int, width: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    new_h, new_w = resized_shape(height, width, size)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    rows = nearest_source_indices(height, new_h)[top : top + size]
    cols = nearest_source_indices(width, new_w)[left : left + size]
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def resize_crop_index_maps(height: int, width: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sensor row and column sampled by each output row/column of Resize(size)+CenterCrop(size).

    Returns two read-only int64 arrays of length ``size``: output pixel (i, j) equals
    input pixel (rows[i], cols[j]).
    """
    return _resize_crop_index_maps(int(height), int(width), int(size))


@lru_cache(maxsize=32)
def _direct_coordinate_lut(extent: int, size: int) -> np.ndarray:
    coords = np.arange(extent, dtype=np.float32)
    # float32 product, float16 rounding, truncation: the official path multiplies a
    # float32 tensor in place, then calls .half() and .long() while binning
    scaled = (coords * np.float32(size / extent)).astype(np.float16).astype(np.int64)
    # float16 rounding can reach `size` itself for extreme downscaling; such events
    # would land outside the grid, so they are marked for dropping
    scaled[(scaled < 0) | (scaled >= size)] = -1
    scaled.setflags(write=False)
    return scaled


def direct_coordinate_lut(extent: int, size: int) -> np.ndarray:
    """Map sensor coordinate 0..extent-1 to its bin on a ``size``-long axis (``coords="direct"``).

    Read-only int64 array of length ``extent``; -1 marks a coordinate that falls off the grid.
    """
    if extent <= 0 or size <= 0:
        raise ValueError(f"sizes must be positive, got {extent} -> {size}")
    return _direct_coordinate_lut(int(extent), int(size))
