"""Event-frame kernels: pure Numba functions over event arrays, thin wrappers around them.

* :mod:`.histogram` - the EZSR histogram and encoder input (exactly the official
  preprocessing), batched; :mod:`.histogram_torch` - the same on a torch device;
* :mod:`.display` - ON/OFF coloured RGB frames for the GUI, optionally decaying;
* :mod:`.time_surface`, :mod:`.voxel_grid` - further representations for experiments;
* :mod:`.sampling` - the torchvision-exact resize/crop and coordinate maps.

Every kernel releases the GIL and drops (and counts, see :class:`KernelStats`) events
whose coordinates fall outside the sensor, so hostile input can never write out of bounds.
"""
from ._common import CLIP_MEAN, CLIP_STD, KernelStats
from .display import DisplayAccumulator, DisplayColors, display_frame
from .histogram import (
    CoordsMode,
    ezsr_histogram,
    ezsr_model_input,
    ezsr_model_input_batch,
    ezsr_model_input_columns,
)
from .histogram_torch import ezsr_model_input_torch
from .time_surface import time_surface
from .voxel_grid import voxel_grid

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "CoordsMode",
    "DisplayAccumulator",
    "DisplayColors",
    "KernelStats",
    "display_frame",
    "ezsr_histogram",
    "ezsr_model_input",
    "ezsr_model_input_batch",
    "ezsr_model_input_columns",
    "ezsr_model_input_torch",
    "time_surface",
    "voxel_grid",
]
