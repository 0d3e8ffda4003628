"""Synthesising the events a moving event camera would see of a static image.

``synthesize(image, config, seed)`` is the one entry point: it draws a random trajectory
(:mod:`.trajectory`), renders K log-intensity frames along it (:mod:`.render`), runs the
pixel model (:mod:`.kernel`) with per-pixel thresholds, adds shot noise and hot pixels,
and returns a time-sorted packet of :data:`~ezsr_live.events.EVENT_DTYPE`. The same seed
always gives the same events.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Union

import numpy as np
from PIL import Image

from ezsr_live.errors import FormatError
from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry

from .kernel import emit_events
from .render import fit_to_sensor, render_log_frames
from .trajectory import Trajectory, TrajectoryConfig, random_trajectory

ImageLike = Union[Image.Image, np.ndarray]
SeedLike = Union[int, np.random.Generator, np.random.SeedSequence, None]


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the synthetic camera. Defaults follow common DVS simulator settings
    (ESIM, v2e): thresholds 0.2 +- 0.03 in log units, no refractory period, weak noise."""

    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    n_frames: int = 12  # K rendered frames; events between them are linearly interpolated
    log_eps: float = 0.01  # log(eps + I), I in [0, 1]
    threshold_on: float = 0.2
    threshold_off: float = 0.2
    threshold_sigma: float = 0.03  # per-pixel spread (normal, clipped at min_threshold)
    min_threshold: float = 0.01
    refractory_us: float = 0.0
    shot_noise_hz: float = 0.1  # per pixel, uniform in time, random polarity
    hot_pixel_fraction: float = 1e-4
    hot_pixel_hz: float = 500.0

    def __post_init__(self) -> None:
        if self.n_frames < 2:
            raise ValueError(f"n_frames must be at least 2, got {self.n_frames}")
        if min(self.threshold_on, self.threshold_off) <= 0 or self.threshold_sigma < 0:
            raise ValueError("thresholds must be positive and their spread non-negative")
        if self.log_eps <= 0:
            raise ValueError("log_eps must be positive")
        if min(self.refractory_us, self.shot_noise_hz, self.hot_pixel_fraction, self.hot_pixel_hz) < 0:
            raise ValueError("refractory period and noise rates must be non-negative")


@dataclass
class SynthResult:
    events: EventPacket
    geometry: Geometry
    trajectory: Trajectory


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def load_image(path: str | os.PathLike) -> Image.Image:
    """An image file as RGB; unreadable files raise FormatError naming the file."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FormatError(path, f"not a readable image: {exc}") from None


def _thresholds(rng: np.random.Generator, mean: float, cfg: SynthConfig, shape: tuple[int, int]) -> np.ndarray:
    c = rng.normal(mean, cfg.threshold_sigma, size=shape) if cfg.threshold_sigma > 0 else np.full(shape, mean)
    return np.maximum(c, cfg.min_threshold).astype(np.float32)


def events_from_log_frames(
    log_frames: np.ndarray,
    times_us: np.ndarray,
    c_on: np.ndarray,
    c_off: np.ndarray,
    refractory_us: float = 0.0,
) -> EventPacket:
    """The pixel model over (K, H, W) log frames at ``times_us``: a time-sorted packet."""
    log_frames = np.ascontiguousarray(log_frames, dtype=np.float32)
    times = np.ascontiguousarray(times_us, dtype=np.float64)
    if log_frames.ndim != 3 or times.shape != (log_frames.shape[0],):
        raise ValueError("log_frames must be (K, H, W) with one time per frame")
    if log_frames.shape[1] > 65535 or log_frames.shape[2] > 65535:
        raise ValueError("frames larger than 65535 pixels cannot be addressed by events")
    capacity = max(1024, 2 * log_frames.shape[1] * log_frames.shape[2])
    while True:
        t = np.empty(capacity, np.int64)
        x = np.empty(capacity, np.uint16)
        y = np.empty(capacity, np.uint16)
        p = np.empty(capacity, np.int8)
        n = emit_events(log_frames, times, c_on, c_off, float(refractory_us), t, x, y, p)
        if n <= capacity:
            break
        capacity = n  # exact size for the second pass
    order = np.argsort(t[:n], kind="stable")
    out = np.empty(n, EVENT_DTYPE)
    out["t"], out["x"], out["y"], out["p"] = t[order], x[order], y[order], p[order]
    return out


def _noise_events(rng: np.random.Generator, cfg: SynthConfig, width: int, height: int, duration_us: int) -> EventPacket:
    seconds = duration_us * 1e-6
    n_shot = int(rng.poisson(cfg.shot_noise_hz * width * height * seconds)) if cfg.shot_noise_hz > 0 else 0
    n_hot_px = int(rng.binomial(width * height, cfg.hot_pixel_fraction)) if cfg.hot_pixel_fraction > 0 else 0
    hot_counts = rng.poisson(cfg.hot_pixel_hz * seconds, size=n_hot_px)
    hot_px = rng.integers(0, width * height, size=n_hot_px)
    n = n_shot + int(hot_counts.sum())
    out = np.empty(n, EVENT_DTYPE)
    pix = np.concatenate([rng.integers(0, width * height, size=n_shot), np.repeat(hot_px, hot_counts)])
    out["x"] = pix % width
    out["y"] = pix // width
    out["t"] = rng.integers(0, duration_us + 1, size=n)
    out["p"] = rng.integers(0, 2, size=n)
    return out


def synthesize(
    image: ImageLike,
    config: SynthConfig | None = None,
    seed: SeedLike = None,
    *,
    geometry: Geometry | None = None,
    trajectory: Trajectory | None = None,
    t_offset_us: int = 0,
) -> SynthResult:
    """Events of ``image`` seen by a moving camera.

    ``geometry``: the sensor (default: the image's own size); the image is scaled to
    cover it and centre-cropped. ``trajectory``: a fixed motion instead of a random one.
    Timestamps start at ``t_offset_us``.
    """
    cfg = config or SynthConfig()
    rng = _rng(seed)
    if geometry is None:
        w, h = (image.size if isinstance(image, Image.Image) else (image.shape[1], image.shape[0]))
        geometry = Geometry(int(w), int(h))
    width, height = geometry.width, geometry.height
    lum = fit_to_sensor(image, width, height)
    if trajectory is None:
        trajectory = random_trajectory(rng, cfg.trajectory, width)
    log_frames = render_log_frames(lum, trajectory, cfg.n_frames, cfg.log_eps)
    c_on = _thresholds(rng, cfg.threshold_on, cfg, (height, width))
    c_off = _thresholds(rng, cfg.threshold_off, cfg, (height, width))
    signal = events_from_log_frames(log_frames, trajectory.frame_times_us(cfg.n_frames), c_on, c_off,
                                    cfg.refractory_us)
    noise = _noise_events(rng, cfg, width, height, trajectory.duration_us)
    if len(noise):
        events = np.concatenate([signal, noise])
        events = events[np.argsort(events["t"], kind="stable")]
    else:
        events = signal
    if t_offset_us:
        events["t"] += np.int64(t_offset_us)
    return SynthResult(events, geometry, trajectory)
