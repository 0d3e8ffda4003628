"""Old option names kept as deprecated aliases of the current ones.

The conventions they moved to: the sensor size is ``--geometry WxH`` on every command,
and every option that takes a time names its unit; spans of time a user measures with a
clock (how long to run, record, move, pause) are in seconds, ``-s``. An alias stores
into the new option's destination (converting the unit) and says once on stderr which name replaced it.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence



def add_deprecated_alias(parser: argparse.ArgumentParser | argparse._ArgumentGroup, old: str, new: str, *,
                         dest: str, convert: Callable[[str], Any] | None = None, nargs: int | str | None = None,
                         metavar: str | tuple[str, ...] | None = None) -> None:
    """``old`` sets ``dest`` as ``new`` would (``convert`` maps each value, e.g. ms to
    s), and says once on stderr that ``new`` replaces it. Hidden from ``--help``."""

    class _Alias(argparse.Action):
        warned = False  # once per parser: a command line that repeats the old name hears it once

        def __call__(self, p: argparse.ArgumentParser, namespace: argparse.Namespace,
                     values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
            if not self.warned:
                self.warned = True
                print(f"{p.prog.split()[0]}: {old} is deprecated, use {new}", file=sys.stderr)
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
