"""Event synthesis from static images (EZSR's training data).

``synthesize(image, SynthConfig(...), seed)`` -> :class:`SynthResult` with a time-sorted
event packet; see :mod:`.api`. The per-pixel loop is a Numba kernel (:mod:`.kernel`).
"""
from .api import SynthConfig, SynthResult, events_from_log_frames, load_image, synthesize
from .render import log_luminance
from .trajectory import Pose, Trajectory, TrajectoryConfig, random_trajectory

__all__ = [
    "Pose",
    "SynthConfig",
    "SynthResult",
    "Trajectory",
    "TrajectoryConfig",
    "events_from_log_frames",
    "load_image",
    "log_luminance",
    "random_trajectory",
    "synthesize",
]
