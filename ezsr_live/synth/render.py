"""Images to log-intensity frames along a trajectory (the synthetic camera's view).

The image is first fitted to the sensor (scaled to cover it, centre-cropped), turned
into luminance in [0, 1], then resampled through each pose's inverse affine map with
bilinear interpolation (borders clamp to the edge pixel, so no artificial edge enters
the view). Log intensity is ``log(eps + I)``.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from PIL import Image

from .trajectory import Trajectory, inverse_affine

#: Rec. 601 luma weights, as PIL's "L" conversion uses
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def log_luminance(rgb: np.ndarray, eps: float = 0.01) -> np.ndarray:
    """``log(eps + Y)`` of sRGB colours (..., 3) in 0..255, ``Y`` their luma in [0, 1]: the
    quantity whose changes the synthetic camera turns into events (``SynthConfig.log_eps``
    is ``eps``). Two colours closer than the contrast threshold in this unit look the same
    to an event camera, however different their hues."""
    rgb = np.asarray(rgb, dtype=np.float64)
    if rgb.shape[-1] != 3:
        raise ValueError(f"colours must have 3 channels (last axis), got shape {rgb.shape}")
    return np.log(eps + np.clip(rgb / 255.0, 0.0, 1.0) @ _LUMA.astype(np.float64))


def fit_to_sensor(image: Image.Image | np.ndarray, width: int, height: int) -> np.ndarray:
    """Luminance (height, width) float32 in [0, 1] of ``image`` scaled to cover the sensor
    and centre-cropped. Accepts a PIL image or an (H, W) / (H, W, 3|4) array (uint8 or
    float in [0, 1])."""
    if isinstance(image, np.ndarray):
        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[2] >= 3:
            arr = arr[..., :3]
        elif arr.ndim != 2:
            raise ValueError(f"image array must be (H, W) or (H, W, 3), got shape {arr.shape}")
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0).clip(0.0, 1.0)
        lum = arr @ _LUMA if arr.ndim == 3 else arr
        if lum.shape == (height, width):
            return np.ascontiguousarray(lum, dtype=np.float32)
        img = Image.fromarray(lum.astype(np.float32), mode="F")
    else:
        img = image.convert("RGB")
        rgb = np.asarray(img, dtype=np.float32) / 255.0
        img = Image.fromarray(rgb @ _LUMA, mode="F")
    w0, h0 = img.size
    scale = max(width / w0, height / h0)
    new_w, new_h = max(width, round(w0 * scale)), max(height, round(h0 * scale))
    if (new_w, new_h) != (w0, h0):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - width) // 2, (new_h - height) // 2
    img = img.crop((left, top, left + width, top + height))
    return np.ascontiguousarray(np.asarray(img, dtype=np.float32).clip(0.0, 1.0))


@njit(nogil=True, cache=True)
def _warp_log_frames(lum, matrices, eps, out):
    """out[k] = log(eps + bilinear(lum, matrices[k] @ (x, y, 1))), edge-clamped."""
    h, w = lum.shape
    for k in range(matrices.shape[0]):
        a, b, c = matrices[k, 0, 0], matrices[k, 0, 1], matrices[k, 0, 2]
        d, e, f = matrices[k, 1, 0], matrices[k, 1, 1], matrices[k, 1, 2]
        for y in range(out.shape[1]):
            for x in range(out.shape[2]):
                sx = min(max(a * x + b * y + c, 0.0), w - 1.0)
                sy = min(max(d * x + e * y + f, 0.0), h - 1.0)
                x0 = min(int(sx), w - 2) if w > 1 else 0
                y0 = min(int(sy), h - 2) if h > 1 else 0
                fx = sx - x0
                fy = sy - y0
                x1 = min(x0 + 1, w - 1)
                y1 = min(y0 + 1, h - 1)
                top = lum[y0, x0] * (1.0 - fx) + lum[y0, x1] * fx
                bottom = lum[y1, x0] * (1.0 - fx) + lum[y1, x1] * fx
                out[k, y, x] = np.float32(np.log(eps + top * (1.0 - fy) + bottom * fy))


def render_log_frames(lum: np.ndarray, trajectory: Trajectory, n_frames: int, eps: float) -> np.ndarray:
    """(n_frames, H, W) float32 log-intensity frames of ``lum`` seen along ``trajectory``."""
    if n_frames < 2:
        raise ValueError(f"at least 2 frames are needed, got {n_frames}")
    h, w = lum.shape
    matrices = np.stack([inverse_affine(p, w, h) for p in trajectory.poses(n_frames)])
    out = np.empty((n_frames, h, w), dtype=np.float32)
    _warp_log_frames(np.ascontiguousarray(lum, dtype=np.float32), matrices, float(eps), out)
    return out
