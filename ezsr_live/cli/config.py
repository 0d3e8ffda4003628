"""``--config FILE.toml``: the same keys as the long command-line options.

A key is an option's name without the dashes (``window-ms = 30`` or ``window_ms = 30``);
values from the file become the parser's defaults, so the command line still wins.
"""
from __future__ import annotations

import argparse
import os
import tomllib
from typing import Any, Sequence

from ezsr_live.errors import EzsrError


def _options_by_key(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    out: dict[str, argparse.Action] = {}
    for action in parser._actions:  # argparse has no public list of its actions
        for opt in action.option_strings:
            if opt.startswith("--") and opt not in ("--help", "--config"):
                out[opt[2:].replace("-", "_")] = action
    return out


def apply_config_file(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> str | None:
    """Read ``--config`` from ``argv`` (if any) and install its values as defaults."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if not known.config:
        return None
    path = known.config
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise EzsrError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EzsrError(f"{path}: not valid TOML ({exc})") from None
    actions = _options_by_key(parser)
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        action = actions.get(key.replace("-", "_"))
        if action is None:
            raise EzsrError(f"{path}: unknown key {key!r} (keys are the long options of --help)")
        defaults[action.dest] = _convert(path, key, action, value)
    parser.set_defaults(**defaults)
    return os.fspath(path)


def _convert(path: str, key: str, action: argparse.Action, value: Any) -> Any:
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise EzsrError(f"{path}: {key} must be true or false")
        return value if isinstance(action, argparse._StoreTrueAction) else not value
    if action.type is not None and not isinstance(value, bool):
        # option types parse strings, as on the command line; numbers pass as they are
        numeric = isinstance(value, (int, float)) and action.type in (int, float)
        try:
            value = action.type(value if numeric else str(value))
        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
            raise EzsrError(f"{path}: {key}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise EzsrError(f"{path}: {key} must be one of {', '.join(map(str, action.choices))}")
    return value
