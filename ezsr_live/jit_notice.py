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

import contextlib
import multiprocessing
import os
import sys
import threading
from typing import IO, Any

#: what a cold start of the live pipeline compiles, measured (replaying a RAW file
#: through it on a 2-core machine); ``ezsr-live``'s notice quotes it
EXPECTED_COMPILE_S = 20
_PACKAGE = "ezsr_live"

#: a measured figure: seconds, or the (fastest, slowest) of the cases measured
Expected = float | tuple[float, float] | None

_lock = threading.Lock()
_notices: dict[str, Any] = {}


def notice_text(prog: str, expected_s: Expected) -> str:
    """The notice's line: ``PROG: compiling event kernels (first run only, about N s)…``
    (``about N-M s`` for a range), without a figure when nobody measured one."""
    if isinstance(expected_s, tuple):
        about = f", about {expected_s[0]:g}–{expected_s[1]:g} s"
    else:
        about = f", about {expected_s:g} s" if expected_s is not None else ""
    return f"{prog}: compiling event kernels (first run only{about})…"


def _notice_listener(text: str, stream: IO[str] | None, marker: str | None = None) -> Any:
    from numba.core import event

    # shared memory, inherited by forked children (a DataLoader's workers compile the
    # synthesis kernels each): one notice for the whole family, not one per process
    said = multiprocessing.get_context("fork").Value("b", 0)

    class Notice(event.Listener):
        def __init__(self) -> None:
            self.text = text
            self.said = said
            #: a file whose creation claims the notice, once spawned children share it
            self.marker = marker

        def claim(self) -> bool:
            if self.said.value:
                return False
            with self.said.get_lock():
                if self.said.value:
                    return False
                if self.marker is not None:
                    try:  # O_EXCL: exactly one process of the family creates it
                        os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                    except FileExistsError:
                        self.said.value = 1
                        return False
                    except OSError:
                        pass  # no temporary folder: announce rather than stay silent
                self.said.value = 1
                return True

        def on_start(self, ev: event.Event) -> None:
            dispatcher = (ev.data or {}).get("dispatcher")
            module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
            if not (module == _PACKAGE or module.startswith(_PACKAGE + ".")) or not self.claim():
                return
            out = stream if stream is not None else sys.stderr
            print(self.text, file=out, flush=True)

        def on_end(self, ev: event.Event) -> None:
            pass

    return Notice()


def child_initializer() -> tuple[Any, tuple[Any, ...]]:
    """``(initializer, initargs)`` for a pool of *spawned* processes (``ezsr synth
    --workers``, the study's trainers): a spawned child inherits no listener, so without
    this its first compile is silent while the parent waits. The family still says it
    once: from here on, the process that creates a marker file first announces. Nothing
    is installed in the children when this process has no notice or has said it."""
    with _lock:
        notice = next(iter(_notices.values()), None)
        if notice is None or notice.said.value:
            return _no_notice, ()
        if notice.marker is None:
            import atexit
            import tempfile

            fd, notice.marker = tempfile.mkstemp(prefix="ezsr-jit-notice-")
            os.close(fd)
            os.unlink(notice.marker)  # its creation is the claim
            atexit.register(cleanup)
        return _install_in_child, (notice.text, notice.marker)


def cleanup() -> None:
    """Remove the marker files of :func:`child_initializer` (at exit; ``exit_now``, which
    skips the interpreter's teardown, calls it itself)."""
    with _lock:
        for key, notice in _notices.items():
            if key == "child" or notice.marker is None:
                continue  # a child leaves the family's marker to its parent
            with contextlib.suppress(OSError):
                os.unlink(notice.marker)


def _no_notice() -> None:
    pass


def _install_in_child(text: str, marker: str) -> None:
    from numba.core import event

    with _lock:
        if "child" not in _notices:
            _notices["child"] = _notice_listener(text, None, marker)
            event.register("numba:compile", _notices["child"])


def install(prog: str = "ezsr-live", stream: IO[str] | None = None,
            expected_s: Expected = EXPECTED_COMPILE_S) -> None:
    """Print :func:`notice_text` once when Numba first compiles one of this package's
    kernels (never when they load from the cache), in this process or a child forked
    from it. ``expected_s``: the measured cold compile of what the caller runs (None:
    no figure). Installing again under the same ``prog`` only updates the figure: a
    process that runs several commands (``ezsr``'s ``main`` called in turn) announces
    once, with the figure of the command that compiles."""
    text = notice_text(prog, expected_s)
    with _lock:
        notice = _notices.get(prog)
        if notice is not None:
            notice.text = text
            return
        from numba.core import event

        notice = _notices[prog] = _notice_listener(text, stream)
        event.register("numba:compile", notice)
