"""`ezsr-live` options of the window's view (accumulation, frame rate, colours).

Each option is generated from its declaration in :class:`ezsr_live.settings.ViewSettings`.
"""
from __future__ import annotations

import argparse

from ezsr_live.cli.settings_args import add_settings_one_of
from ezsr_live.runtime.display import DisplaySettings
from ezsr_live.settings import ViewSettings, settings_of


def add_display_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("view (window only; what is shown, not what is recognised)")
    add_settings_one_of(group, settings_of(ViewSettings), ("accumulation_ms", "accumulation_events"))


def display_settings_from_args(args: argparse.Namespace) -> DisplaySettings:
    """The view settings the parsed options give (the defaults where none was given)."""
    return DisplaySettings(**{s.name: getattr(args, s.name) for s in settings_of(ViewSettings)})
