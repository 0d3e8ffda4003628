"""Old option names kept as deprecated aliases of the current ones.

The conventions they moved to: the sensor size is ``--geometry WxH`` on every command,
and every option that takes a time names its unit; spans of time a user measures with a
clock (how long to run, record, move, pause) are in seconds, ``-s``. An alias stores
into the new option's destination (converting the unit) and warns once per process.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

_warned: set[str] = set()


def _warn_once(prog: str, old: str, new: str) -> None:
    if old not in _warned:
        _warned.add(old)
        print(f"{prog.split()[0]}: {old} is deprecated, use {new}", file=sys.stderr)


def add_deprecated_alias(parser: argparse.ArgumentParser | argparse._ArgumentGroup, old: str, new: str, *,
                         dest: str, convert: Callable[[str], Any] | None = None, nargs: int | str | None = None,
                         metavar: str | tuple[str, ...] | None = None) -> None:
    """``old`` sets ``dest`` as ``new`` would (``convert`` maps each value, e.g. ms to
    s), and says once on stderr that ``new`` replaces it. Hidden from ``--help``."""

    class _Alias(argparse.Action):
        def __call__(self, p: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
            _warn_once(p.prog, old, new)
            if convert is not None:
                try:
                    values = [convert(v) for v in values] if isinstance(values, list) else convert(str(values))
                except (ValueError, argparse.ArgumentTypeError) as exc:
                    p.error(f"argument {old}: {exc}")
            setattr(namespace, dest, values)

    parser.add_argument(old, action=_Alias, dest=f"_alias_{dest}", nargs=nargs, metavar=metavar,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def ms_to_s(milliseconds: Callable[[str], float]) -> Callable[[str], float]:
    """An old ``-ms`` option's converter: ``milliseconds`` (its own validator) checks the
    value, then it is given in seconds."""
    return lambda text: milliseconds(text) / 1000.0
