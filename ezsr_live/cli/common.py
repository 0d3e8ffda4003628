"""Helpers shared by the command-line front ends."""
from __future__ import annotations

import sys
from typing import Callable

from ezsr_live.errors import EzsrError

#: exit code for bad input, unknown devices, wrong weights: anything the user can fix
EXIT_USAGE = 2


def run_guarded(prog: str, body: Callable[[], int | None]) -> int:
    """Run a command body; turn the project's errors into one line on stderr and exit 2."""
    try:
        return int(body() or 0)
    except EzsrError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
