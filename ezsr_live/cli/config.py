"""``--config FILE.toml``: the same keys as the long command-line options.

A key is an option's name without the dashes (``window-ms = 30`` or ``window_ms = 30``);
values from the file become the parser's defaults, so the command line still wins.
A value in the file counts as given, as one typed on the command line does (the user
wrote it): it wins over what the window remembered from the last run
(:class:`~ezsr_live.cli.common.GivenOptionsParser`), even when it equals the default.
Values keep their TOML types and are checked by the same validators as the command
line (:mod:`ezsr_live.settings`): ``top-k = true`` or ``record = 5`` are refused, not
converted.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

from ezsr_live.cli.common import GivenOptionsParser
from ezsr_live.errors import EzsrError
from ezsr_live.fileio import parse_toml
from ezsr_live.settings import SettingError, all_settings, shown


def _options_by_key(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    out: dict[str, argparse.Action] = {}
    for action in parser._actions:  # argparse has no public list of its actions
        for opt in action.option_strings:
            if opt.startswith("--") and opt not in ("--help", "--config"):
                out[opt[2:].replace("-", "_")] = action
    return out


def read_config(path: str) -> dict[str, Any]:
    """The TOML file's table; :class:`EzsrError` naming the file if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return parse_toml(f.read())
    except FileNotFoundError:
        raise EzsrError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise EzsrError(f"{path}: is a folder, not a config file") from None
    except OSError as exc:
        raise EzsrError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except ValueError as exc:  # bad syntax or UTF-8, nesting or numbers beyond the parser
        raise EzsrError(f"{path}: not valid TOML ({exc})") from None


def apply_config_file(parser: GivenOptionsParser, argv: Sequence[str] | None) -> str | None:
    """Read ``--config`` from ``argv`` (if any) and install its values as defaults that
    count as given; the file's path, or None."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return None
    path = known.config
    data = read_config(path)
    actions = _options_by_key(parser)
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        action = actions.get(key.replace("-", "_"))
        if action is None:
            raise EzsrError(f"{path}: unknown key {key!r} (keys are the long options of --help)")
        try:
            defaults[action.dest] = _convert(key, action, value)
        except SettingError as exc:
            raise EzsrError(f"{path}: {exc}") from None
    parser.set_given_defaults(**defaults)
    return os.fspath(path)


def _convert(key: str, action: argparse.Action, value: Any) -> Any:
    """The option's value from a TOML value of the right type, else SettingError."""
    declared = all_settings().get(action.dest)
    if declared is not None:
        return declared.check(value, key)
    if isinstance(action, argparse._AppendAction):
        # an option that may repeat (--replay: one stream each): a string or a list of them
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, str) for v in items):
            raise SettingError(f"{key}: must be a string or a list of strings, got {shown(value)}")
        return items
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise SettingError(f"{key}: must be true or false, got {shown(value)}")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if action.type is not None:
        # an option with a parser of its own (--geometry WxH): a string, parsed as typed
        if not isinstance(value, str):
            raise SettingError(f"{key}: must be a string, as on the command line, got {shown(value)}")
        try:
            value = action.type(value)
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            raise SettingError(f"{key}: {exc}") from None
    elif not isinstance(value, str):
        raise SettingError(f"{key}: must be a string, got {shown(value)}")
    if action.choices is not None and value not in action.choices:
        raise SettingError(f"{key}: must be one of {', '.join(map(str, action.choices))}, got {shown(value)}")
    return value
