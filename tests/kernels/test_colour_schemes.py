"""The view's colour schemes on a real 1280x720 window, against the kernels they show."""
from __future__ import annotations

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.events import Geometry, make_events
from ezsr_live.kernels import KernelStats, ezsr_histogram, time_surface
from ezsr_live.kernels.colour_schemes import (
    BACKGROUND,
    OFF_COLOUR,
    ON_COLOUR,
    SCHEMES,
    SchemeRenderer,
    argb_to_rgb,
    render_scheme,
)

GEOMETRY = Geometry(1280, 720)


@pytest.fixture(scope="module")
def window(samples_dir) -> np.ndarray:
    """200,000 events of the Gen4.1 EVT3 recording (a real, dense 1280x720 scene)."""
    packet = next(iter(open_reader(samples_dir / "evt3_gen41_1280x720.raw")))
    assert len(packet) >= 200_000
    return packet[:200_000]


def _blend(colour, level: np.ndarray) -> np.ndarray:
    bg, c = np.asarray(BACKGROUND, float), np.asarray(colour, float)
    return np.floor(bg + level[..., None] * (c - bg) + 0.5)


def test_polarity_shows_each_pixels_events_as_the_histogram_counts_them(window):
    rgb = argb_to_rgb(render_scheme(window, GEOMETRY, "polarity")).astype(int)
    # the EZSR histogram (official preprocessing) says which polarities a pixel saw;
    # hot-pixel removal zeroes a few counts, so the raw event counts decide here
    on = np.zeros((720, 1280), int)
    off = np.zeros((720, 1280), int)
    np.add.at(on, (window["y"][window["p"] != 0], window["x"][window["p"] != 0]), 1)
    np.add.at(off, (window["y"][window["p"] == 0], window["x"][window["p"] == 0]), 1)
    hist = ezsr_histogram(window, GEOMETRY)
    assert ((hist[0] > 0) <= (on > 0)).all() and ((hist[1] > 0) <= (off > 0)).all()
    assert (rgb[(on == 0) & (off == 0)] == BACKGROUND).all()
    assert (rgb[(on > 0) & (off == 0)] == ON_COLOUR).all()
    assert (rgb[(on == 0) & (off > 0)] == OFF_COLOUR).all()
    # a pixel with both shows its newest event's polarity
    last = {}
    for x, y, p in zip(window["x"].tolist(), window["y"].tolist(), window["p"].tolist()):
        last[(y, x)] = p
    both = np.argwhere((on > 0) & (off > 0))
    assert len(both) > 100
    for y, x in both[:2000]:
        assert tuple(rgb[y, x]) == (ON_COLOUR if last[(y, x)] else OFF_COLOUR)


@pytest.mark.parametrize("decay_us", [500.0, 5_000.0])
def test_time_surface_colours_are_the_time_surface_kernels_values(window, decay_us):
    t_ref = int(window["t"].max())
    rgb = argb_to_rgb(render_scheme(window, GEOMETRY, "time_surface", decay_us=decay_us, t_ref=t_ref)).astype(int)
    surface = time_surface(window, GEOMETRY, tau_us=decay_us, t_ref=t_ref)
    seen = (surface > 0).any(axis=0)
    assert (rgb[~seen] == BACKGROUND).all()
    # the pixel's newest event (the larger plane) gives colour and fade; ties between
    # the planes (both polarities at one timestamp) are left out: either may show
    on_newer, off_newer = surface[0] > surface[1], surface[1] > surface[0]
    for mask, colour, plane in ((on_newer, ON_COLOUR, 0), (off_newer, OFF_COLOUR, 1)):
        assert mask.sum() > 1000
        expected = _blend(colour, surface[plane][mask])
        assert np.abs(rgb[mask] - expected).max() <= 1


def test_event_count_is_grey_by_events_per_pixel_up_to_the_saturation(window):
    saturation = 4
    rgb = argb_to_rgb(render_scheme(window, GEOMETRY, "event_count", saturation=saturation)).astype(int)
    counts = np.bincount(window["y"].astype(int) * 1280 + window["x"], minlength=1280 * 720).reshape(720, 1280)
    assert counts.max() > saturation  # the scene saturates somewhere
    expected = _blend((255, 255, 255), np.minimum(counts, saturation) / saturation)
    assert (rgb == expected).all()


def test_a_reused_buffer_is_repainted_whole_and_off_sensor_events_are_dropped():
    renderer = SchemeRenderer((8, 4))
    out = renderer.new_frame()
    for scheme in SCHEMES:
        renderer.render(make_events([0, 1], [1, 2], [1, 1], [1, 0]), scheme, out)
        stats = KernelStats()
        # hostile coordinates: never written, counted as dropped
        frame = render_scheme(make_events([5, 6], [1, 60_000], [0, 3], [1, 1]), (8, 4), scheme, out=out, stats=stats)
        rgb = argb_to_rgb(frame)
        assert stats.dropped == 1 and frame is out
        assert (rgb[1, 2] == BACKGROUND).all()  # the previous frame's pixel is gone
        assert (rgb[0, 1] != BACKGROUND).any()


def test_the_settings_offer_exactly_the_kernels_schemes():
    from ezsr_live.runtime.display import SCHEME_NAMES

    assert SCHEME_NAMES == tuple(SCHEMES)


def test_bad_arguments_are_refused():
    renderer = SchemeRenderer((8, 4))
    events = make_events([0], [1], [1], [1])
    with pytest.raises(ValueError, match="unknown colour scheme"):
        renderer.render(events, "rainbow", renderer.new_frame())
    with pytest.raises(ValueError, match="uint32"):
        renderer.render(events, "polarity", np.zeros((4, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="decay"):
        renderer.render(events, "time_surface", renderer.new_frame(), decay_us=0)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_explains_its_colours_in_a_legend(scheme):
    entries = SCHEMES[scheme].legend(10.0, 8)
    assert entries and all(entry.text and entry.colours for entry in entries)
    colours = {c for entry in entries for c in entry.colours}
    if scheme != "event_count":
        # the legend's colours are the ones the kernel paints
        assert any(abs(np.subtract(c, ON_COLOUR)).max() <= 1 for c in colours)
        assert any(abs(np.subtract(c, OFF_COLOUR)).max() <= 1 for c in colours)
