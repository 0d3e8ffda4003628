"""`ezsr info FILE`: one JSON object describing a recording."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ezsr_live.cli.options import add_geometry_option
from ezsr_live.drivers import open_reader
from ezsr_live.drivers.summary import summarize_reader

NAME = "info"
HELP = "Print one JSON object describing a recording (format, geometry, event statistics, header)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="recording (.raw, .aedat4, .dat, .npz, .bin, .aedat)")
    add_geometry_option(parser)


def run(args: argparse.Namespace) -> int:
    reader = open_reader(args.file, geometry=args.geometry)
    with reader:
        s = summarize_reader(reader)
        info = reader.info
        out = {
            "file": args.file,
            "format": info.format,
            "width": info.geometry.width,
            "height": info.geometry.height,
            "camera": info.camera,
            "serial": info.serial,
            "n_events": s.n_events,
            "t_first_us": s.t_first,
            "t_last_us": s.t_last,
            "duration_us": s.duration_us,
            "t_min_us": s.t_min,
            "t_max_us": s.t_max,
            "x_max": s.x_max,
            "y_max": s.y_max,
            "n_on": s.n_on,
            "n_triggers": s.n_triggers,
            "dropped": asdict(reader.stats),
            "header": info.header,
        }
    print(json.dumps(out, default=str))
    return 0
