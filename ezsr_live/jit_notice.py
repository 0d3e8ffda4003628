"""One line on stderr when Numba must compile this project's kernels.

Every kernel is ``cache=True``: after the first run, Numba loads machine code from its
cache and nothing is compiled. On a cold cache (first run after installing or
upgrading, or a fresh ``NUMBA_CACHE_DIR``) the first calls compile instead, which takes
many seconds of silence; :func:`install` turns that into one notice, printed when the
first of our kernels starts compiling. Numba raises its ``numba:compile`` event only on
a cache miss, so a warm cache prints nothing.

:func:`install` imports Numba (about a second): callers install it once the source is
open, so that a usage error or a missing file is still reported at once.
"""
from __future__ import annotations

import sys
import threading
from typing import IO, Any

#: what a cold start compiles, measured (replaying a RAW file through the whole live
#: pipeline on a 2-core machine); the notice quotes it
EXPECTED_COMPILE_S = 20
_PACKAGE = "ezsr_live"

_lock = threading.Lock()
_installed: set[str] = set()


def _notice_listener(prog: str, stream: IO[str] | None) -> Any:
    from numba.core import event

    class Notice(event.Listener):
        said = False

        def on_start(self, ev: event.Event) -> None:
            dispatcher = (ev.data or {}).get("dispatcher")
            module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
            if self.said or not (module == _PACKAGE or module.startswith(_PACKAGE + ".")):
                return
            with _lock:
                if self.said:
                    return
                self.said = True
            out = stream if stream is not None else sys.stderr
            print(f"{prog}: compiling event kernels (first run only, about {EXPECTED_COMPILE_S} s)…",
                  file=out, flush=True)

        def on_end(self, ev: event.Event) -> None:
            pass

    return Notice()


def install(prog: str = "ezsr-live", stream: IO[str] | None = None) -> None:
    """Print ``prog: compiling event kernels …`` once when Numba first compiles one of
    this package's kernels (never when they load from the cache). Installing again
    under the same ``prog`` does nothing."""
    with _lock:
        if prog in _installed:
            return
        _installed.add(prog)
    from numba.core import event

    event.register("numba:compile", _notice_listener(prog, stream))
