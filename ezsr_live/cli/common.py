"""Helpers shared by the command-line front ends."""
from __future__ import annotations

import sys
from typing import Callable

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
