"""Painting must not corrupt None's reference count (issue #15: PySide6 6.12.0 on
CPython 3.11 loses one reference to None in every void Qt call, and the window aborts
with ``Fatal Python error: none_dealloc`` after about a minute of painting)."""
from __future__ import annotations

import gc
import sys

import pytest
from PySide6.QtGui import QImage

from ezsr_live.drivers import open_reader
from ezsr_live.events import Geometry
from ezsr_live.gui.bridge import RenderedFrame
from ezsr_live.gui.event_view import EventView
from ezsr_live.gui.preflight import GuiUnavailable, check_binding, none_references_lost
from ezsr_live.kernels.colour_schemes import render_scheme

from .conftest import DEMO

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12),
                                reason="None is immortal from Python 3.12: its reference count cannot fall")

#: paints per test: one is enough to lose dozens of references on 6.12.0; thousands
#: show that nothing is lost slowly either
OVERLAY_PAINTS = 2000
VIEW_PAINTS = 1000
#: stop early once this many references are gone: None's count (some 100,000 in this
#: process) would reach zero, and the test must fail with a message, not abort the session
LOSS_LIMIT = 1000
#: None's count moves a little by itself (objects holding None come and go)
TOLERANCE = 64


def _demo_frame(width: int, height: int) -> RenderedFrame:
    events = next(iter(open_reader(DEMO)))[:20_000]
    image = render_scheme(events, Geometry(width, height), "polarity")
    return RenderedFrame(image, 1, len(events), int(events["t"][-1]), 0.0, "polarity")


def _references_lost_while(paint, times: int) -> tuple[int, int]:
    """(references to None lost, paints made) over up to ``times`` calls of ``paint``;
    what was lost is given back, so that a failing test leaves the session alive."""
    gc.collect()
    before = sys.getrefcount(None)
    done = 0
    while done < times:
        for _ in range(10):
            paint()
        done += 10
        if before - sys.getrefcount(None) > LOSS_LIMIT:
            break
    gc.collect()
    lost = before - sys.getrefcount(None)
    keep_alive.extend([None] * max(0, lost))
    return lost, done


keep_alive: list[None] = []


@pytest.fixture
def view(qtbot):
    view = EventView(346, 260)
    qtbot.addWidget(view)
    view.resize(480, 360)
    view.show()
    qtbot.waitExposed(view)
    view.show_frame(_demo_frame(346, 260))
    view.overlay.set_entries([("disc", 0.61), ("square", 0.22), ("bar", 0.09), ("ring", 0.05), ("star", 0.03)])
    view.overlay.set_note("paused — Right steps one window")
    return view


def test_painting_the_topk_overlay_keeps_nones_reference_count(view):
    overlay = view.overlay
    image = QImage(overlay.size(), QImage.Format.Format_ARGB32_Premultiplied)
    lost, paints = _references_lost_while(lambda: overlay.render(image), OVERLAY_PAINTS)
    assert lost <= TOLERANCE, (f"{lost} references to None lost in {paints} overlay paints "
                               f"({lost / paints:.1f} per paint): a broken Qt binding?")


def test_painting_the_event_view_keeps_nones_reference_count(view):
    before = view.paints
    lost, paints = _references_lost_while(view.graphics.viewport().repaint, VIEW_PAINTS)
    assert view.paints - before >= paints  # every repaint painted the event frame
    assert lost <= TOLERANCE, (f"{lost} references to None lost in {paints} event-view paints "
                               f"({lost / paints:.1f} per paint): a broken Qt binding?")


def test_the_start_check_refuses_exactly_a_binding_that_loses_references():
    before = sys.getrefcount(None)
    if none_references_lost() == 0:
        check_binding()
    else:  # PySide6 6.12.0 on 3.11: refused in one line that says what to install
        with pytest.raises(GuiUnavailable, match="none_dealloc.*PySide6-Essentials") as refused:
            check_binding()
        assert "\n" not in str(refused.value)
    # measuring gives back what it cost: the check never brings the abort nearer
    assert sys.getrefcount(None) >= before - TOLERANCE
