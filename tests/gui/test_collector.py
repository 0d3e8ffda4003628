"""While a window lives, Python's cyclic collector runs on the GUI thread only.

A collection on the source or worker thread that frees a Qt object in a reference cycle
runs its C++ destructor there, which deadlocked against the GUI thread's
``QObject::connect`` (the multi-stream window froze in CI). The check is what the
interpreter does: a cycle holding a QObject is freed while another thread allocates
hard enough to trigger many automatic collections, and the thread that frees it is
recorded.
"""
from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from ezsr_live.gui.collector import collector


def _garbage_cycle_with_a_qobject(freed_on: list[str]) -> None:
    obj = QObject()
    obj.cycle = obj  # a reference cycle: only the cyclic collector frees it
    weakref.finalize(obj, lambda: freed_on.append(threading.current_thread().name))


def _allocate_in_another_thread() -> None:
    """Container allocations enough for hundreds of automatic collections, on a thread
    of its own, while this one waits in ``join`` (allocating nothing)."""
    def churn() -> None:
        for _ in range(300):
            junk = [[] for _ in range(2000)]  # each batch passes gen-0's threshold (700)
            del junk

    busy = threading.Thread(target=churn, name="allocating-thread")
    busy.start()
    busy.join()


def test_a_qt_object_in_a_cycle_is_freed_on_the_gui_thread_while_a_window_lives(make_window, qtbot):
    window = make_window()
    assert not gc.isenabled()
    freed_on: list[str] = []
    _garbage_cycle_with_a_qobject(freed_on)
    _allocate_in_another_thread()
    assert freed_on == []  # the allocating thread collected nothing
    qtbot.waitUntil(lambda: bool(freed_on), timeout=10_000)  # the GUI thread's timer did
    assert freed_on == [threading.main_thread().name]
    assert collector().collections > 0
    window.shutdown()


def test_the_interpreter_gets_its_collector_back_when_the_last_window_shuts_down(make_window):
    assert gc.isenabled()
    first, second = make_window(), make_window()
    assert not gc.isenabled() and collector().users >= 2
    first.shutdown()
    assert not gc.isenabled()  # the second window still lives
    second.shutdown()
    assert gc.isenabled() and collector().users == 0
    second.shutdown()  # idempotent: releases once
    assert collector().users == 0


def test_without_the_guard_another_thread_would_free_it(qtbot):
    """The hazard is real here: with automatic collection on, the allocating thread frees
    the cycle itself (so the first test's outcome is the guard's doing)."""
    assert gc.isenabled()
    freed_on: list[str] = []
    _garbage_cycle_with_a_qobject(freed_on)
    _allocate_in_another_thread()
    assert freed_on == ["allocating-thread"]
