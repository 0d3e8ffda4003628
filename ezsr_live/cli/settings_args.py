"""Command-line options generated from the settings' declarations (ezsr_live.settings).

Each :class:`~ezsr_live.settings.Setting` becomes one option: its flag, default, help
(with the default and the accepted values), metavar, and a type that parses and checks
with the setting's own validator, so a refused value reads the same as in a config file.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Iterable

from ezsr_live.settings import Range, Setting, SettingError

Container = argparse.ArgumentParser | argparse._ArgumentGroup | argparse._MutuallyExclusiveGroup


def argparse_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser that raises :class:`SettingError`: argparse
    then names the option itself ("argument --top-k: must be ...")."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except SettingError as exc:
            # argparse prefixes the option's name: keep only the problem
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None

    convert.__name__ = name
    return convert


def range_type(rng: Range) -> Callable[[str], Any]:
    """An argparse ``type`` for a numeric option of the toolbox: the shared validator."""
    return argparse_type(lambda text: rng.parse(text, "value"), rng.kind.__name__)


def _help(s: Setting) -> str:
    text = s.help
    if "default" not in text and s.default is not None and s.kind is not bool:
        text += f" (default: {s.default:g})" if isinstance(s.default, float) else f" (default: {s.default})"
    if s.range is not None:
        text += f"; {s.range.describe()}"
    return text.replace("%", "%%")


def add_setting(container: Container, s: Setting, **overrides: Any) -> argparse.Action:
    """One option for ``s``."""
    if s.kind is bool:
        return container.add_argument(s.flag, dest=s.name, action="store_true", help=_help(s), **overrides)
    kwargs: dict[str, Any] = dict(dest=s.name, default=s.default, help=_help(s))
    if s.metavar:
        kwargs["metavar"] = s.metavar
    if s.choices:
        kwargs["choices"] = s.choices
    if s.range is not None or s.words:
        kwargs["type"] = argparse_type(s.parse, s.kind.__name__)
    kwargs.update(overrides)
    return container.add_argument(s.flag, **kwargs)


def add_settings(container: Container, settings: Iterable[Setting], *, skip: Iterable[str] = ()) -> None:
    """One option per setting, in declaration order (except the names in ``skip``)."""
    skipped = set(skip)
    for s in settings:
        if s.name not in skipped:
            add_setting(container, s)


def add_settings_one_of(group: argparse._ArgumentGroup, settings: Iterable[Setting],
                        exclusive: tuple[str, str]) -> None:
    """One option per setting, the two named in ``exclusive`` first and mutually
    exclusive (a window in ms or in events: one or the other)."""
    declared = {s.name: s for s in settings}
    mode = group.add_mutually_exclusive_group()
    for name in exclusive:
        add_setting(mode, declared.pop(name))
    add_settings(group, declared.values())
