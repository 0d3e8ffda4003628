"""EZSR model input computed with torch ops, for events that already live on a device.

Same result as :func:`ezsr_live.kernels.histogram.ezsr_model_input_columns` (the tests
check them against each other): scatter-add counts per window on the tensors' device,
the 0.75 quantile per window from a count-of-counts table (exact, no sort), then the
same float32 arithmetic. Memory: B x 2 x bins int32 counts plus float32 temporaries, so
for large sensors prefer small batches or ``coords="direct"``.
"""
from __future__ import annotations

import numpy as np
import torch

from ._common import CLIP_MEAN, CLIP_STD, GeometryLike, width_height
from .histogram import HOT_PIXEL_QUANTILE, CoordsMode
from .sampling import direct_coordinate_lut, resize_crop_index_maps

__all__ = ["ezsr_model_input_torch"]


def ezsr_model_input_torch(
    x: torch.Tensor,
    y: torch.Tensor,
    p: torch.Tensor,
    geometry: GeometryLike,
    *,
    offsets: torch.Tensor | None = None,
    size: int = 224,
    coords: CoordsMode = "resize",
) -> torch.Tensor:
    """EZSR model inputs (B, 3, size, size) float32 on the device of ``x``.

    ``x``, ``y``, ``p`` are 1-D integer tensors (p non-zero = ON); window b is events
    ``offsets[b]:offsets[b+1]`` (one window of everything when ``offsets`` is None).
    Events outside the sensor are ignored.
    """
    width, height = width_height(geometry)
    device = x.device
    n = x.numel()
    if not (x.shape == y.shape == p.shape and x.dim() == 1):
        raise ValueError("x, y and p must be 1-D tensors of the same length")
    if offsets is None:
        offsets = torch.tensor([0, n], device=device)
    offsets = offsets.to(device=device, dtype=torch.int64)
    n_windows = offsets.numel() - 1
    if n_windows < 0 or int(offsets[0]) < 0 or int(offsets[-1]) > n or bool((offsets.diff() < 0).any()):
        raise ValueError("offsets must be non-decreasing and within the columns")

    first, last = int(offsets[0]), int(offsets[-1])
    xs = x[first:last].to(torch.int64)
    ys = y[first:last].to(torch.int64)
    on = p[first:last] != 0
    window = torch.repeat_interleave(torch.arange(n_windows, device=device), offsets.diff(), output_size=last - first)
    valid = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)

    if coords == "resize":
        bins_w, bins_h = width, height
        rows_np, cols_np = resize_crop_index_maps(height, width, size)
        bx, by = xs, ys
    elif coords == "direct":
        bins_w = bins_h = size
        rows_np = cols_np = np.arange(size)
        lut_x = _to_device(direct_coordinate_lut(width, size), device)
        lut_y = _to_device(direct_coordinate_lut(height, size), device)
        bx = lut_x[xs.clamp(0, width - 1)]
        by = lut_y[ys.clamp(0, height - 1)]
        valid &= (bx >= 0) & (by >= 0)
    else:
        raise ValueError(f"coords must be 'resize' or 'direct', got {coords!r}")
    plane = bins_w * bins_h

    channel = (~on).to(torch.int64)  # 0 = ON, 1 = OFF
    flat = ((window * 2 + channel) * bins_h + by) * bins_w + bx
    flat = flat[valid]
    counts = torch.zeros(n_windows * 2 * plane, dtype=torch.int32, device=device)
    counts.scatter_add_(0, flat, torch.ones_like(flat, dtype=torch.int32))
    counts = counts.view(n_windows, 2 * plane)

    clip = _hot_pixel_clip(counts)
    clipped = torch.minimum(counts.to(torch.float32), clip[:, None]).view(n_windows, 2, plane)
    frame = clipped / (clipped.amax(dim=2, keepdim=True) + 1)
    grey = frame.mean(dim=1).view(n_windows, bins_h, bins_w)
    rows = _to_device(rows_np, device)
    cols = _to_device(cols_np, device)
    grey = grey.index_select(1, rows).index_select(2, cols)
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return ((grey.unsqueeze(1) - mean) / std).contiguous()


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    # the sampling maps are cached read-only arrays; torch wants its own copy
    return torch.from_numpy(np.array(array, dtype=np.int64)).to(device)


def _hot_pixel_clip(counts: torch.Tensor) -> torch.Tensor:
    """Per-window clip value (float32, shape (B,)) from integer counts (B, bins)."""
    n_windows = counts.shape[0]
    n_values = int(counts.max()) + 1 if counts.numel() else 1
    window = torch.arange(n_windows, device=counts.device).unsqueeze(1).expand_as(counts)
    nonzero = counts > 0
    keys = window[nonzero] * n_values + counts[nonzero].to(torch.int64)
    value_counts = torch.bincount(keys, minlength=n_windows * n_values).view(n_windows, n_values)
    seen = value_counts.cumsum(dim=1)
    n_nonzero = seen[:, -1]
    rank = torch.tensor(HOT_PIXEL_QUANTILE, dtype=torch.float32, device=counts.device) * (n_nonzero - 1).to(
        torch.float32
    )
    k_lo = rank.to(torch.int64).clamp(min=0)
    k_hi = rank.ceil().to(torch.int64).clamp(min=0)
    weight = rank - k_lo.to(torch.float32)
    # the value of the k-th smallest bin is the first value whose running count exceeds k
    v_lo = torch.searchsorted(seen, k_lo.unsqueeze(1), right=True).squeeze(1).to(torch.float32)
    v_hi = torch.searchsorted(seen, k_hi.unsqueeze(1), right=True).squeeze(1).to(torch.float32)
    quantile = torch.where(weight < 0.5, v_lo + weight * (v_hi - v_lo), v_hi - (v_hi - v_lo) * (1 - weight))
    clip = (quantile / 10) * 10
    return torch.where(n_nonzero > 0, clip, torch.zeros_like(clip))
