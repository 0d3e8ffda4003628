"""``ezsr synth IMAGE... -o OUT``: the events a moving event camera would see of images;
``ezsr synth IMAGE_DIR -o EVENTS_DIR``: one event file per image of a folder tree."""
from __future__ import annotations

import argparse

from ezsr_live.cli import options as types
from ezsr_live.cli.aliases import add_deprecated_alias, ms_to_s
from ezsr_live.cli.options import add_geometry_option, parse_geometry

NAME = "synth"
HELP = ("Synthesise events from static images seen by a briefly moving camera: one recording of the images, "
        "or one event file per image of a folder (training data for 'ezsr train --events').")
#: a cold Numba cache compiles the synthesis kernels and an encoder: 1.5-1.6 s into .aedat4,
#: 3.6-5.3 s into RAW, measured on 2 cores
COMPILE_S = (2, 5)


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """The synthetic camera's options (shared with ``ezsr train``)."""
    from ezsr_live.synth import SynthConfig, TrajectoryConfig

    d, t = SynthConfig(), TrajectoryConfig()
    g = parser.add_argument_group("synthetic camera")
    g.add_argument("--motion-s", type=types.motion_s, nargs="+", metavar="S",
                   help=f"how long the camera moves per image, in seconds: one value, or a LOW HIGH range drawn "
                        f"per image (default {t.duration_ms[0] / 1000:g} {t.duration_ms[1] / 1000:g})")
    add_deprecated_alias(g, "--duration-ms", "--motion-s", dest="motion_s", convert=ms_to_s(types.milliseconds),
                         nargs="+")
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
        if args.motion_s:
            if len(args.motion_s) > 2:
                raise ValueError("--motion-s takes one value or a LOW HIGH range")
            duration = (1000.0 * args.motion_s[0], 1000.0 * args.motion_s[-1])
        traj = TrajectoryConfig(args.max_shift, args.max_rotation, args.max_zoom, duration)
        return SynthConfig(traj, args.frames, threshold_on=args.threshold[0], threshold_off=args.threshold[1],
                           threshold_sigma=args.threshold_sigma, refractory_us=args.refractory_us,
                           shot_noise_hz=args.shot_noise_hz, hot_pixel_fraction=args.hot_pixels,
                           hot_pixel_hz=args.hot_pixel_hz)
    except ValueError as exc:
        raise EzsrError(f"synthetic camera: {exc}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files, played one after the other; or one folder, searched recursively, "
                             "for one event file per image (class folders kept)")
    parser.add_argument("-o", "--output", required=True,
                        help="recording to write (.raw, .evt2.raw, .aedat4, .npz, .h5); for a folder of images, "
                             "the folder of event files")
    add_geometry_option(parser, help="sensor size WxH (default: each image's own size); images are scaled to cover "
                                     "it and centre-cropped")
    add_deprecated_alias(parser, "--sensor", "--geometry", dest="geometry", convert=parse_geometry)
    parser.add_argument("--seed", type=types.seed, default=0, help="random seed (default 0): same seed, same events")
    parser.add_argument("--gap-s", type=types.gap_s, default=0.01, metavar="S",
                        help="pause between images in one recording, in seconds (default 0.01)")
    add_deprecated_alias(parser, "--gap-ms", "--gap-s", dest="gap_s", convert=ms_to_s(types.gap_ms))
    b = parser.add_argument_group("a folder of images")
    b.add_argument("--workers", type=types.workers, default=0, metavar="N",
                   help="synthesis processes (default 0: in this process)")
    b.add_argument("--format", default=None, metavar="EXT",
                   help="event file format by extension (default .evt2.raw: the fastest of our readers per file)")
    b.add_argument("--no-progress", action="store_true")
    add_synth_arguments(parser)


def _folder(args: argparse.Namespace) -> int:
    from ezsr_live.cli.common import EXIT_RUNTIME
    from ezsr_live.recipes.train.event_folder import DEFAULT_EXTENSION, synthesize_folder

    config = synth_config_from_args(args)
    extension = args.format or DEFAULT_EXTENSION
    extension = extension if extension.startswith(".") else "." + extension
    report = synthesize_folder(args.images[0], args.output, config, seed=args.seed, geometry=args.geometry,
                               extension=extension, workers=args.workers, progress=not args.no_progress)
    print(f"{args.output}: {report.written} event files written ({report.events} events), "
          f"{report.skipped} already there, {len(report.failed)} images unreadable")
    return EXIT_RUNTIME if report.failed else 0


def run(args: argparse.Namespace) -> int:
    import os

    import numpy as np

    from ezsr_live.drivers import open_writer
    from ezsr_live.errors import EzsrError
    from ezsr_live.events import Geometry
    from ezsr_live.synth import load_image, synthesize

    if any(os.path.isdir(p) for p in args.images):
        if len(args.images) > 1:
            raise EzsrError("give one folder of images, or a list of image files")
        return _folder(args)
    if args.format is not None or args.workers:
        raise EzsrError("--format and --workers apply to a folder of images")
    config = synth_config_from_args(args)
    images = [load_image(p) for p in args.images]  # fail on a bad image before writing anything
    geometry = args.geometry or Geometry(*images[0].size)
    seeds = np.random.SeedSequence(args.seed).spawn(len(images))
    t_next, total = 0, 0
    with open_writer(args.output, geometry) as writer:
        for path, image, seed in zip(args.images, images, seeds):
            result = synthesize(image, config, seed, geometry=geometry, t_offset_us=t_next)
            writer.write(result.events)
            n_on = int(result.events["p"].sum())
            print(f"{path}: {len(result.events)} events ({n_on} ON), {result.trajectory.duration_us / 1000:.1f} ms")
            t_next += result.trajectory.duration_us + int(round(args.gap_s * 1e6))
            total += len(result.events)
    print(f"{args.output}: {total} events, {geometry}, {config.n_frames} frames per image")
    return 0
