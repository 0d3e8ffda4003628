"""`ezsr info FILE`: what a recording holds, as a readable table or (``--json``) one
JSON object: format, sensor, camera (integrator, generation, system ID, serial), event
counts, time range, average event rate, triggers, header, dropped words."""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict
from typing import Any

from ezsr_live.cli.options import add_geometry_option
from ezsr_live.drivers import open_reader
from ezsr_live.drivers.summary import summarize_reader

NAME = "info"
HELP = "Describe a recording: format, sensor, camera, events, time range, event rate, triggers, header."
#: a cold Numba cache compiles the file's decoder: 0.4-2.7 s for RAW, .dat, .bin, 5.5-9.3 s
#: for .aedat4 (LZ4 and flatbuffer kernels), measured on 2 cores
COMPILE_S = (1, 9)

#: the header keys that name the camera's integrator and sensor generation, the newest
#: first (OpenEB 4 writes camera_integrator_name and sensor_generation; older files only
#: integrator_name, and the generation inside plugin_name, e.g. hal_plugin_gen41_evk3)
_INTEGRATOR_KEYS = ("camera_integrator_name", "integrator_name", "plugin_integrator_name")
_GENERATION_KEYS = ("sensor_generation", "generation")
_PLUGIN_GENERATION = re.compile(r"(?:^|_)gen(\d)(\d?)(?:_|$)")


def _first(header: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    return next((str(header[k]) for k in keys if header.get(k) not in (None, "")), None)


def camera_generation(header: dict[str, Any]) -> str | None:
    """The sensor generation a RAW header states ("4.2"), or that its plugin name
    implies (``hal_plugin_gen41_evk3`` -> "4.1", ``hal_plugin_gen3_fx3`` -> "3.0")."""
    stated = _first(header, _GENERATION_KEYS)
    if stated:
        return stated
    match = _PLUGIN_GENERATION.search(str(header.get("plugin_name", "")))
    return f"{match.group(1)}.{match.group(2) or '0'}" if match else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="recording (.raw, .aedat4, .dat, .npz, .h5, .bin, .aedat)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    add_geometry_option(parser)


def describe(path: str, geometry: Any = None) -> dict[str, Any]:
    """Everything ``ezsr info`` reports of ``path``, one streaming pass."""
    reader = open_reader(path, geometry=geometry)
    with reader:
        s = summarize_reader(reader)
        info = reader.info
        header = info.header
        duration = s.duration_us
        return {
            "file": path,
            "format": info.format,
            "width": info.geometry.width,
            "height": info.geometry.height,
            "camera": info.camera,
            "camera_integrator": _first(header, _INTEGRATOR_KEYS),
            "camera_generation": camera_generation(header),
            "system_id": header.get("system_ID"),
            "serial": info.serial,
            "n_events": s.n_events,
            "t_first_us": s.t_first,
            "t_last_us": s.t_last,
            "duration_us": duration,
            "event_rate_ev_per_s": s.n_events / (duration * 1e-6) if duration > 0 else None,
            "t_min_us": s.t_min,
            "t_max_us": s.t_max,
            "x_max": s.x_max,
            "y_max": s.y_max,
            "n_on": s.n_on,
            "n_triggers": s.n_triggers,
            "t_first_trigger_us": s.t_first_trigger,
            "t_last_trigger_us": s.t_last_trigger,
            "dropped": asdict(reader.stats),
            "header": header,
        }


def _rate(ev_per_s: float | None) -> str:
    if ev_per_s is None:
        return "-"
    for unit, scale in (("Mev/s", 1e6), ("kev/s", 1e3)):
        if ev_per_s >= scale:
            return f"{ev_per_s / scale:.2f} {unit}"
    return f"{ev_per_s:.1f} ev/s"


def _us(value: int | None) -> str:
    return "-" if value is None else f"{value:,} us"


def as_text(d: dict[str, Any]) -> str:
    """The human-readable table of :func:`describe`'s result."""
    n = d["n_events"]
    on = f"{d['n_on']:,} ON ({100 * d['n_on'] / n:.1f} %)" if n else "-"
    dropped = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in d["dropped"].items() if v) or "none"
    rows = [
        ("file", d["file"]), ("format", d["format"]), ("sensor", f"{d['width']}x{d['height']}"),
        ("camera", d["camera"] or "-"), ("integrator", d["camera_integrator"] or "-"),
        ("generation", d["camera_generation"] or "-"), ("system ID", d["system_id"] or "-"),
        ("serial", d["serial"] or "-"),
        ("events", f"{n:,}"), ("polarity", on),
        ("first / last event", f"{_us(d['t_first_us'])} / {_us(d['t_last_us'])}"),
        ("duration", _us(d["duration_us"]) + (f" ({d['duration_us'] / 1e6:.3f} s)" if d["duration_us"] else "")),
        ("average event rate", _rate(d["event_rate_ev_per_s"])),
        ("time range", f"{_us(d['t_min_us'])} .. {_us(d['t_max_us'])}"),
        ("largest x, y", "-" if d["x_max"] is None else f"{d['x_max']}, {d['y_max']}"),
        ("triggers", f"{d['n_triggers']:,}"),
        ("first / last trigger", f"{_us(d['t_first_trigger_us'])} / {_us(d['t_last_trigger_us'])}"),
        ("dropped", dropped),
    ]
    rows += [(f"header: {k}", str(v)) for k, v in d["header"].items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def run(args: argparse.Namespace) -> int:
    out = describe(args.file, args.geometry)
    print(json.dumps(out, default=str) if args.json else as_text(out))
    return 0
