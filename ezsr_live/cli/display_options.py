"""`ezsr-live` options of the window's view (accumulation, frame rate, colours).

Each option takes its default, bounds and help from the field metadata of
:class:`~ezsr_live.runtime.display.DisplaySettings`, the one place they are written.
"""
from __future__ import annotations

import argparse
from typing import Callable

from ezsr_live.runtime.display import DisplaySettings, bounds

#: option → DisplaySettings field
_OPTIONS = {
    "--view-ms": "accumulation_ms",
    "--view-events": "accumulation_events",
    "--view-fps": "fps",
    "--colours": "scheme",
    "--decay-ms": "decay_ms",
    "--saturation": "saturation",
}


def _bounded(name: str, kind: type) -> Callable[[str], float | int]:
    meta = bounds(name)

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a{'n integer' if kind is int else ' number'}, "
                                             f"got {text!r}") from None
        if not meta["min"] <= value <= meta["max"]:
            raise argparse.ArgumentTypeError(f"must be within {meta['min']:g}..{meta['max']:g}, got {text}")
        return value

    return parse


def add_display_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("view (window only; what is shown, not what is recognised)")
    mode = group.add_mutually_exclusive_group()
    for option, name in _OPTIONS.items():
        meta = bounds(name)
        target = mode if name.startswith("accumulation") else group
        default = meta["default"]
        shown = f" (default {default:g} {meta.get('unit', '')})" if isinstance(default, (int, float)) else ""
        if "choices" in meta:
            target.add_argument(option, dest=f"view_{name}", choices=meta["choices"], default=None,
                                help=f"{meta['help']}: {', '.join(meta['choices'])} (default {default})")
        else:
            kind = int if name in ("accumulation_events", "saturation") else float
            target.add_argument(option, dest=f"view_{name}", type=_bounded(name, kind), default=None,
                                metavar="N" if kind is int else "X",
                                help=f"{meta['help']}, {meta['min']:,}..{meta['max']:,}{shown}")


def display_settings_from_args(args: argparse.Namespace) -> DisplaySettings:
    """The view settings the parsed options give (the defaults where none was given)."""
    chosen = {name: getattr(args, f"view_{name}", None) for name in _OPTIONS.values()}
    return DisplaySettings(**{name: value for name, value in chosen.items() if value is not None})
