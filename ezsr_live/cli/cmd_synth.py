"""``ezsr synth IMAGE... -o OUT``: the events a moving event camera would see of images."""
from __future__ import annotations

import argparse

from ezsr_live.cli import options as types

NAME = "synth"
HELP = "Synthesise an event recording from static images seen by a briefly moving camera."


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """The synthetic camera's options (shared with ``ezsr train``)."""
    from ezsr_live.synth import SynthConfig, TrajectoryConfig

    d, t = SynthConfig(), TrajectoryConfig()
    g = parser.add_argument_group("synthetic camera")
    g.add_argument("--duration-ms", type=types.milliseconds, nargs="+", metavar="MS",
                   help=f"motion duration: one value, or a LOW HIGH range drawn per image "
                        f"(default {t.duration_ms[0]:g} {t.duration_ms[1]:g})")
    g.add_argument("--max-shift", type=types.fraction, default=t.max_shift_frac,
                   help=f"largest translation, as a fraction of the width (default {t.max_shift_frac})")
    g.add_argument("--max-rotation", type=types.degrees, default=t.max_rotation_deg,
                   help=f"largest rotation in degrees (default {t.max_rotation_deg})")
    g.add_argument("--max-zoom", type=types.fraction, default=t.max_zoom, help=f"largest relative zoom (default {t.max_zoom})")
    g.add_argument("--frames", type=types.frames, default=d.n_frames, help=f"rendered frames K (default {d.n_frames})")
    g.add_argument("--threshold", type=types.threshold, nargs=2, default=(d.threshold_on, d.threshold_off),
                   metavar=("ON", "OFF"), help=f"mean contrast thresholds in log units (default {d.threshold_on})")
    g.add_argument("--threshold-sigma", type=types.non_negative, default=d.threshold_sigma,
                   help=f"per-pixel threshold spread (default {d.threshold_sigma})")
    g.add_argument("--refractory-us", type=types.non_negative, default=d.refractory_us, help="refractory period (default 0)")
    g.add_argument("--shot-noise-hz", type=types.non_negative, default=d.shot_noise_hz,
                   help=f"shot-noise events per pixel per second (default {d.shot_noise_hz})")
    g.add_argument("--hot-pixels", type=types.fraction, default=d.hot_pixel_fraction,
                   help=f"fraction of hot pixels (default {d.hot_pixel_fraction})")
    g.add_argument("--hot-pixel-hz", type=types.non_negative, default=d.hot_pixel_hz,
                   help=f"event rate of a hot pixel (default {d.hot_pixel_hz:g})")


def synth_config_from_args(args: argparse.Namespace):
    from ezsr_live.errors import EzsrError
    from ezsr_live.synth import SynthConfig, TrajectoryConfig

    try:
        duration = TrajectoryConfig().duration_ms
        if args.duration_ms:
            if len(args.duration_ms) > 2:
                raise ValueError("--duration-ms takes one value or a LOW HIGH range")
            duration = (args.duration_ms[0], args.duration_ms[-1])
        traj = TrajectoryConfig(args.max_shift, args.max_rotation, args.max_zoom, duration)
        return SynthConfig(traj, args.frames, threshold_on=args.threshold[0], threshold_off=args.threshold[1],
                           threshold_sigma=args.threshold_sigma, refractory_us=args.refractory_us,
                           shot_noise_hz=args.shot_noise_hz, hot_pixel_fraction=args.hot_pixels,
                           hot_pixel_hz=args.hot_pixel_hz)
    except ValueError as exc:
        raise EzsrError(f"synthetic camera: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, played one after the other")
    parser.add_argument("-o", "--output", required=True, help="recording to write (.raw, .evt2.raw, .aedat4, .npz)")
    parser.add_argument("--sensor", metavar="WxH", help="sensor size (default: the first image's size); "
                        "images are scaled to cover it and centre-cropped")
    parser.add_argument("--seed", type=types.seed, default=0, help="random seed (default 0): same seed, same events")
    parser.add_argument("--gap-ms", type=types.gap_ms, default=10.0, help="pause between images (default 10 ms)")
    add_synth_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ezsr_live.drivers import open_writer
    from ezsr_live.errors import EzsrError
    from ezsr_live.events import Geometry
    from ezsr_live.synth import load_image, synthesize

    config = synth_config_from_args(args)
    images = [load_image(p) for p in args.images]  # fail on a bad image before writing anything
    try:
        geometry = Geometry.parse(args.sensor) if args.sensor else Geometry(*images[0].size)
    except ValueError as exc:
        raise EzsrError(str(exc)) from None
    seeds = np.random.SeedSequence(args.seed).spawn(len(images))
    t_next, total = 0, 0
    with open_writer(args.output, geometry) as writer:
        for path, image, seed in zip(args.images, images, seeds):
            result = synthesize(image, config, seed, geometry=geometry, t_offset_us=t_next)
            writer.write(result.events)
            n_on = int(result.events["p"].sum())
            print(f"{path}: {len(result.events)} events ({n_on} ON), {result.trajectory.duration_us / 1000:.1f} ms")
            t_next += result.trajectory.duration_us + int(args.gap_ms * 1000)
            total += len(result.events)
    print(f"{args.output}: {total} events, {geometry}, {config.n_frames} frames per image")
    return 0
