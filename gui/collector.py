"""Python's cyclic garbage collection, run on the GUI thread only while a window lives.

Automatic collection runs in whichever thread happens to allocate past the threshold:
with a window open that is often the source or recognition thread (a Numba compile
allocates a great deal). When such a collection frees a Qt object held in a reference
cycle, its C++ destructor runs on that thread: it takes Qt's connection lock, then waits
for the GIL (to look for a Python override), while the GUI thread holds the GIL and waits
for the same lock in ``QObject::connect``. That deadlock froze the multi-stream window
in CI (both stacks seen with ``py-spy dump --native``). So while any window exists,
automatic collection is off and a GUI-thread timer collects instead, by the same
generation thresholds (the scheme calibre uses for the same reason); the last window to
shut down collects once more and gives the collector back to the interpreter.
"""
from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QCoreApplication, QObject, QTimer

log = logging.getLogger(__name__)

#: how often the GUI thread looks at the allocation counts
CHECK_INTERVAL_MS = 200


class GuiThreadCollector(QObject):
    """Reference-counted: :meth:`acquire` per window, :meth:`release` at its shutdown."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.users = 0
        self.collections = 0  # collections this collector ran (for tests and the curious)
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.check)

    def acquire(self) -> None:
        global _disabled_here
        if self.users == 0:
            _disabled_here = gc.isenabled()
            gc.disable()
            self._timer.start()
        self.users += 1

    def release(self) -> None:
        if self.users == 0:
            return
        self.users -= 1
        if self.users == 0:
            self._timer.stop()
            gc.collect()  # here, on the GUI thread, before any other thread may collect again
            self.collections += 1
            _give_back()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as the
        interpreter would have."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = -1
        for g in range(3):
            if thresholds[g] and counts[g] > thresholds[g]:
                generation = g
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1


_collector: GuiThreadCollector | None = None
#: whether automatic collection is off because of the collector (given back at the last
#: release, or if the application goes away while windows still hold it)
_disabled_here = False


def _give_back() -> None:
    global _disabled_here
    if _disabled_here:
        gc.enable()
    _disabled_here = False


def collector() -> GuiThreadCollector:
    """The application's collector (made on first use, parented to the QApplication)."""
    global _collector
    if _collector is None:
        _collector = GuiThreadCollector(QCoreApplication.instance())
        _collector.destroyed.connect(_forget)
    return _collector


def _forget(*_: object) -> None:
    global _collector
    _collector = None
    _give_back()
