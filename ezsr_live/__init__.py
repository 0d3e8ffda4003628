"""ezsr-live: real-time zero-shot object recognition for event cameras (EZSR).

The engine lives here and never imports Qt. Sources live in :mod:`ezsr_live.drivers`
(``drivers/`` in the repository), the Qt front end in :mod:`ezsr_live.gui` (``gui/``).
"""
from ezsr_live.events import EVENT_DTYPE, TRIGGER_DTYPE, Geometry, SourceInfo, as_event_packet, make_events
from ezsr_live.errors import EventArrayError, EzsrError, FormatError, ModelError, SourceError

__version__ = "0.1.0"


def __getattr__(name: str):
    # the model stack (torch, open_clip) loads only when the API is first used
    if name in ("load", "ZeroShotModel"):
        from ezsr_live import api

        return getattr(api, name)
    raise AttributeError(f"module 'ezsr_live' has no attribute {name!r}")


__all__ = [
    "load",
    "ZeroShotModel",
    "EVENT_DTYPE",
    "TRIGGER_DTYPE",
    "Geometry",
    "SourceInfo",
    "as_event_packet",
    "make_events",
    "EventArrayError",
    "EzsrError",
    "FormatError",
    "ModelError",
    "SourceError",
    "__version__",
]
