"""`ezsr`: the toolbox (info, convert, ... as issues add them).

Each subcommand is one module in this package that defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; listing it in ``SUBCOMMANDS`` is
all it takes to register it. A module whose work compiles Numba kernels also defines
``COMPILE_S``: its cold-cache compile time, measured, which the notice on a first run
quotes (:mod:`ezsr_live.jit_notice`).
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from typing import Sequence

from ezsr_live.cli.common import ArgumentParser, add_version_option, configure_logging, run_guarded

SUBCOMMANDS = (
    "ezsr_live.cli.cmd_info",
    "ezsr_live.cli.cmd_convert",
    "ezsr_live.cli.cmd_record",
    "ezsr_live.cli.cmd_pool",
    "ezsr_live.cli.cmd_synth",
    "ezsr_live.cli.cmd_train",
    "ezsr_live.cli.cmd_eval",
    "ezsr_live.cli.cmd_geometry",
    "ezsr_live.cli.cmd_demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="ezsr",
        description="ezsr-live toolbox: inspect, convert and process event recordings.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages on stderr")
    add_version_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        _accept_verbose(p)
        p.set_defaults(_run=module.run, _compile_s=getattr(module, "COMPILE_S", None))
    return parser


def _accept_verbose(parser: argparse.ArgumentParser) -> None:
    """``-v`` after the subcommand (``ezsr info -v F``) as well as before it, on every
    level of nested subcommands (``ezsr pool build -v``). SUPPRESS as the default keeps
    a ``-v`` given before the subcommand from being reset by the subparser."""
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug messages on stderr")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _accept_verbose(child)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args._argv = argv  # for commands that record how they were run
    configure_logging("ezsr", args.verbose)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM ends a command like Ctrl-C: partial outputs are removed, exit 130
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run_guarded("ezsr", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    from ezsr_live import jit_notice

    # after argparse's refusals; the notice fires only when a kernel first compiles, which
    # is once the command has opened and checked its inputs: a missing file stays silent.
    # Numba is loaded already (the parser imports the synthesis options), so this is free
    jit_notice.install("ezsr", expected_s=args._compile_s)
    return int(args._run(args) or 0)


def entry() -> None:
    """The console script: :func:`main`, then a prompt exit (:func:`~ezsr_live.cli.common.exit_now`)."""
    from ezsr_live.cli.common import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
