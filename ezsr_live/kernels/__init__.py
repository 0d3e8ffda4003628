"""Event-frame kernels: pure Numba functions over event arrays, thin wrappers around them.

* :mod:`.histogram` - the EZSR histogram and encoder input (exactly the official
  preprocessing), batched; :mod:`.histogram_torch` - the same on a torch device;
* :mod:`.display` - ON/OFF coloured RGB frames, optionally decaying;
* :mod:`.colour_schemes` - the live view's frames (polarity, time surface, event
  count) as Qt-native 32-bit pixels, in one pass into a reused buffer;
* :mod:`.time_surface`, :mod:`.voxel_grid` - further representations for experiments;
* :mod:`.sampling` - the torchvision-exact resize/crop and coordinate maps.

Every kernel releases the GIL and drops (and counts, see :class:`KernelStats`) events
whose coordinates fall outside the sensor, so hostile input can never write out of bounds.

Importing this package does not import torch (the live window paints its first frames
while the model stack is still loading): :func:`ezsr_model_input_torch` is resolved on
first use.
"""
from typing import TYPE_CHECKING, Any

from ._common import CLIP_MEAN, CLIP_STD, KernelStats
from .colour_schemes import SCHEMES, SchemeRenderer, render_scheme
from .display import DisplayAccumulator, DisplayColors, display_frame
from .histogram import (
    CoordsMode,
    ezsr_histogram,
    ezsr_model_input,
    ezsr_model_input_batch,
    ezsr_model_input_columns,
)
from .time_surface import time_surface
from .voxel_grid import voxel_grid

if TYPE_CHECKING:
    from .histogram_torch import ezsr_model_input_torch


def __getattr__(name: str) -> Any:
    if name == "ezsr_model_input_torch":
        from .histogram_torch import ezsr_model_input_torch

        return ezsr_model_input_torch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "CoordsMode",
    "DisplayAccumulator",
    "DisplayColors",
    "KernelStats",
    "SCHEMES",
    "SchemeRenderer",
    "display_frame",
    "ezsr_histogram",
    "ezsr_model_input",
    "ezsr_model_input_batch",
    "ezsr_model_input_columns",
    "ezsr_model_input_torch",
    "render_scheme",
    "time_surface",
    "voxel_grid",
]
