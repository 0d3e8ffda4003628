"""Helpers shared by the command-line front ends."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Callable, NoReturn, Sequence

from ezsr_live.errors import EzsrError

#: the exit codes of every command (``ezsr`` and ``ezsr-live``), defined once:
#: done
EXIT_OK = 0
#: a thread failed while running (bad data mid-file, a model error, ...)
EXIT_RUNTIME = 1
#: bad input, unknown devices, wrong weights: anything the user can fix, refused at start
EXIT_USAGE = 2
#: interrupted (Ctrl-C, SIGTERM)
EXIT_INTERRUPTED = 130


def run_guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command body; turn the project's errors into one line on stderr and exit 2."""
    try:
        return int(body() or 0)
    except EzsrError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose refusals are one line, ``PROG: message``, exit 2, as every other
    refusal of the commands (not a usage block and ``PROG: error: ...``). Subcommands'
    parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog.split()[0]
        self.exit(EXIT_USAGE, f"{prog}: {message} (see {self.prog} --help)\n")


#: the namespace attribute of :class:`GivenOptionsParser`: the dests of the options given
GIVEN_OPTIONS = "given_options"


class GivenOptionsParser(ArgumentParser):
    """A parser whose namespace also says which options the user gave
    (``args.given_options``, a frozenset of dests), whatever their values: an option
    typed with its default value is given, as is a value from a config file
    (:meth:`set_given_defaults`). What the window remembered yields to exactly these.

    ``args`` is parsed again with every default suppressed (argparse's SUPPRESS), so
    that only what was typed lands in that namespace: one rule for every option, and
    the defaults that ``--help`` shows and the first parse fills in stay the real ones.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._given_defaults: set[str] = set()

    def set_given_defaults(self, **values: Any) -> None:
        """Defaults that count as given (a config file's values: the user wrote them)."""
        self.set_defaults(**values)
        self._given_defaults.update(values)

    # (typeshed overloads it by the namespace's type; this one keeps argparse's behaviour)
    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        setattr(parsed, GIVEN_OPTIONS, self._typed(args) | frozenset(self._given_defaults))
        return parsed, extras

    def _typed(self, args: Sequence[str] | None) -> frozenset[str]:
        """The dests of the options ``args`` gives (it parsed once already: no refusal here)."""
        actions = self._actions  # argparse has no public list of its actions
        saved = [action.default for action in actions]
        saved_parser_defaults = self._defaults
        try:
            for action in actions:
                action.default = argparse.SUPPRESS
            self._defaults = {}
            typed, _ = super().parse_known_args(args, None)
        finally:
            for action, default in zip(actions, saved):
                action.default = default
            self._defaults = saved_parser_defaults
        return frozenset(vars(typed)) & {action.dest for action in actions}


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """``--version``: the program's name and the package version, then exit 0."""
    from ezsr_live import __version__

    parser.add_argument("--version", action="version", version=f"{parser.prog} {__version__}")


#: the logger whose children are this project's (ezsr_live.gui.*, ezsr_live.drivers.* too)
OUR_LOGGER = "ezsr_live"


class _LogFormatter(logging.Formatter):
    """``PROG: message`` for this project's records; ``name: level: message`` for other
    libraries', so that their lines never pass for ours."""

    def __init__(self, prog: str) -> None:
        super().__init__()
        self._ours = logging.Formatter(f"{prog}: %(message)s")
        self._theirs = logging.Formatter("%(name)s: %(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ours = record.name == OUR_LOGGER or record.name.startswith(OUR_LOGGER + ".")
        return (self._ours if ours else self._theirs).format(record)


def configure_logging(prog: str, verbose: bool = False) -> None:
    """Logs on stderr: this project's at INFO (DEBUG with ``verbose``) as ``PROG: ...``;
    other libraries' (torch, open_clip, numba) at WARNING and above, under their own
    names. (The root logger at DEBUG used to let torch's and open_clip's debug and info
    chatter through, prefixed as if it were ours.)"""
    logging.getLogger(OUR_LOGGER).setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger()
    if root.handlers:
        return  # configured already (by the embedding program, or pytest's capture)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter(prog))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def exit_now(code: int) -> None:
    """End the process once its work is done: flush the standard streams, then leave
    without the interpreter's teardown, which with torch loaded spends seconds (13-40 s
    measured on a loaded machine) collecting objects nobody will use. Every file the
    commands write is closed before they return; only console entry points call this."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    notices = sys.modules.get("ezsr_live.jit_notice")
    if notices is not None:
        notices.cleanup()  # its marker file: atexit does not run after os._exit
    os._exit(code)
