"""`ezsr-live` options of the window's view (accumulation, frame rate, colours).

Each option is generated from its declaration in :class:`ezsr_live.settings.ViewSettings`.
"""
from __future__ import annotations

import argparse

from ezsr_live.cli.settings_args import add_setting, add_settings
from ezsr_live.runtime.display import DisplaySettings
from ezsr_live.settings import ViewSettings, settings_of


def add_display_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("view (window only; what is shown, not what is recognised)")
    view = {s.name: s for s in settings_of(ViewSettings)}
    mode = group.add_mutually_exclusive_group()
    add_setting(mode, view.pop("accumulation_ms"))
    add_setting(mode, view.pop("accumulation_events"))
    add_settings(group, view.values())


def display_settings_from_args(args: argparse.Namespace) -> DisplaySettings:
    """The view settings the parsed options give (the defaults where none was given)."""
    return DisplaySettings(**{s.name: getattr(args, s.name) for s in settings_of(ViewSettings)})
