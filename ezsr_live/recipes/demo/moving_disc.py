"""A small analytic recording: a bright disc gliding across a DAVIS346-sized sensor.

Used as the committed demo recording of the foundation (``weights/demo/moving_disc.raw``)
and as a deterministic source in tests. Events are emitted where the disc's footprint
changes between two time steps (ON where it arrives, OFF where it leaves), with
timestamps spread uniformly inside the step, plus uniform background noise.
Regenerate with ``python -m ezsr_live.recipes.demo.moving_disc weights/demo/moving_disc.raw``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from ezsr_live.events import EventPacket, Geometry, empty_events

DEMO_GEOMETRY = Geometry(346, 260)


def moving_disc_events(
    geometry: Geometry = DEMO_GEOMETRY,
    duration_us: int = 2_000_000,
    step_us: int = 1_000,
    radius: float = 30.0,
    noise_hz_per_pixel: float = 0.2,
    seed: int = 0,
) -> EventPacket:
    """Events of a disc crossing the sensor left to right, then back, time-ordered."""
    rng = np.random.default_rng(seed)
    w, h = geometry.width, geometry.height
    yy, xx = np.mgrid[0:h, 0:w]
    n_steps = duration_us // step_us
    phase = np.linspace(0.0, 2.0, n_steps + 1)
    # there and back again, with a gentle vertical wobble
    cx = radius + (w - 2 * radius) * np.where(phase <= 1.0, phase, 2.0 - phase)
    cy = h / 2 + 0.25 * h * np.sin(np.pi * phase)
    parts = []
    prev = (xx - cx[0]) ** 2 + (yy - cy[0]) ** 2 <= radius**2
    for k in range(1, n_steps + 1):
        cur = (xx - cx[k]) ** 2 + (yy - cy[k]) ** 2 <= radius**2
        for mask, pol in ((cur & ~prev, 1), (prev & ~cur, 0)):
            ys, xs = np.nonzero(mask)
            if len(xs):
                ev = empty_events(len(xs))
                ev["x"], ev["y"], ev["p"] = xs, ys, pol
                ev["t"] = (k - 1) * step_us + rng.integers(0, step_us, len(xs))
                parts.append(ev)
        prev = cur
    n_noise = rng.poisson(noise_hz_per_pixel * w * h * duration_us * 1e-6)
    noise = empty_events(n_noise)
    noise["t"] = rng.integers(0, duration_us, n_noise)
    noise["x"] = rng.integers(0, w, n_noise)
    noise["y"] = rng.integers(0, h, n_noise)
    noise["p"] = rng.integers(0, 2, n_noise)
    parts.append(noise)
    events = np.concatenate(parts)
    return events[np.argsort(events["t"], kind="stable")]


def main(argv: list[str] | None = None) -> int:
    from ezsr_live.drivers import open_writer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="recording to write (.raw, .aedat4, .npz)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    events = moving_disc_events(seed=args.seed)
    with open_writer(args.output, DEMO_GEOMETRY) as writer:
        writer.write(events)
    print(f"wrote {len(events)} events to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
