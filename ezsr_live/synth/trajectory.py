"""Random camera motions over a static image: affine poses interpolated in time.

A pose is (tx, ty, rotation, scale) about the image centre: the scene point at ``q``
appears at ``c + t + s * R(rot) (q - c)``. A trajectory moves linearly from a start pose
to an end pose over ``duration_us``, which is what a briefly moving (saccading) event
camera sees of a flat scene; N-ImageNet was recorded the same way, by moving a camera
in front of a monitor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    tx: float = 0.0  # pixels
    ty: float = 0.0
    rotation_deg: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class TrajectoryConfig:
    """Ranges of the random motion (uniformly drawn). Defaults: up to 6% of the image
    width of translation, +-3 deg rotation, +-5% zoom over 10-40 ms, which gives 224x224
    images about 10-40 thousand events (N-ImageNet's windows hold 15,000)."""

    max_shift_frac: float = 0.06
    max_rotation_deg: float = 3.0
    max_zoom: float = 0.05
    duration_ms: tuple[float, float] = (10.0, 40.0)

    def __post_init__(self) -> None:
        lo, hi = self.duration_ms
        if not (0 < lo <= hi):
            raise ValueError(f"duration_ms must be 0 < low <= high, got {self.duration_ms}")
        if self.max_shift_frac < 0 or self.max_rotation_deg < 0 or not (0 <= self.max_zoom < 1):
            raise ValueError("motion ranges must be non-negative (and max_zoom < 1)")


@dataclass(frozen=True)
class Trajectory:
    start: Pose
    end: Pose
    duration_us: int

    @classmethod
    def linear_shift(cls, dx: float, dy: float, duration_us: int) -> "Trajectory":
        """A pure translation by (dx, dy) pixels (image content moves right for dx > 0)."""
        return cls(Pose(), Pose(tx=dx, ty=dy), int(duration_us))

    def poses(self, n_frames: int) -> list[Pose]:
        """``n_frames`` poses evenly spaced in time, start and end included."""
        a, b = self.start, self.end
        out = []
        for k in range(n_frames):
            w = k / (n_frames - 1) if n_frames > 1 else 0.0
            out.append(Pose(a.tx + w * (b.tx - a.tx), a.ty + w * (b.ty - a.ty),
                            a.rotation_deg + w * (b.rotation_deg - a.rotation_deg),
                            a.scale * (b.scale / a.scale) ** w))
        return out

    def frame_times_us(self, n_frames: int) -> np.ndarray:
        return np.linspace(0.0, float(self.duration_us), n_frames)


def random_trajectory(rng: np.random.Generator, config: TrajectoryConfig, width: int) -> Trajectory:
    """A trajectory from the identity pose to a random end pose within ``config``'s ranges."""
    shift = config.max_shift_frac * width
    end = Pose(
        tx=float(rng.uniform(-shift, shift)),
        ty=float(rng.uniform(-shift, shift)),
        rotation_deg=float(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg)),
        scale=float(math.exp(rng.uniform(math.log(1 - config.max_zoom), math.log(1 + config.max_zoom)))),
    )
    duration_us = int(round(rng.uniform(*config.duration_ms) * 1000))
    return Trajectory(Pose(), end, max(1, duration_us))


def inverse_affine(pose: Pose, width: int, height: int) -> np.ndarray:
    """2x3 matrix mapping an output pixel centre to the source image coordinates it shows."""
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    th = math.radians(pose.rotation_deg)
    c, s = math.cos(th) / pose.scale, math.sin(th) / pose.scale
    # q = c0 + R(-th)/scale (p - c0 - t)
    ox, oy = cx + pose.tx, cy + pose.ty
    return np.array([[c, s, cx - (c * ox + s * oy)],
                     [-s, c, cy - (-s * ox + c * oy)]], dtype=np.float64)
