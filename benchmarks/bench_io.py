"""Decode throughput of the RAW readers against dv-processing's .aedat4 reading.

Builds, in a temporary directory, one stream of at least ``--events`` CD events made of
the two real RAW samples (../shared/samples) repeated back to back with time offsets
(the 640x480 EVT 2.0 events fit in the 1280x720 frame), and writes it three times:
through our EVT 3.0 writer, our EVT 2.0 writer, and dv-processing's ``MonoCameraWriter``
(.aedat4, LZ4; each repetition stably sorted by time first, as .aedat4 needs monotonic
time). A fourth file repeats the EVT 3.0 sample's bytes verbatim, to measure decoding of
camera-made EVT 3.0 with vector words (our writer emits plain words only).

Then it times full decodes, best of ``--repeats``: our readers (numba, single thread,
events counted chunk by chunk, and whole-file ``read_all``), our ``.aedat4`` reader
(in-process LZ4 decoding), dv-processing's ``MonoCameraRecording``
``getNextEventBatch`` loop (with and without ``.numpy()`` on each batch), and the
peers when installed: expelliarmus (RAW), aedat and faery (.aedat4). Files are read
once beforehand so that all decoders see a warm page cache; the decoders of one file
are timed in interleaved rounds (A B C A B C ...) so that a busy machine slows them
alike, and every decoder of a file must count the same events. Prints a table and,
as the last line, one JSON object of the figures.

Usage: python benchmarks/bench_io.py [--events N] [--repeats R] [--skip-aedat4]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ezsr_live.drivers.raw import Evt2Writer, Evt3Writer, RawReader, read_header
from ezsr_live.events import Geometry

log = logging.getLogger("bench_io")

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = Path(os.environ.get("EZSR_SAMPLES", REPO_ROOT.parent / "shared" / "samples"))
EVT3_SAMPLE = "evt3_gen41_1280x720.raw"
EVT2_SAMPLE = "evt2_gen3_640x480.raw"
GEOMETRY = Geometry(1280, 720)
GAP_US = 1000  # time between two repetitions


def load_base_block() -> np.ndarray:
    """Both samples' events, the EVT 2.0 ones shifted to follow the EVT 3.0 ones."""
    evt3 = RawReader(SAMPLES_DIR / EVT3_SAMPLE).read_all()
    evt2 = RawReader(SAMPLES_DIR / EVT2_SAMPLE).read_all()
    evt3["t"] -= evt3["t"].min()
    evt2["t"] += int(evt3["t"].max()) + GAP_US - int(evt2["t"].min())
    return np.concatenate([evt3, evt2])


@dataclass
class BenchFiles:
    evt3: Path  # our EVT 3.0 writer
    evt2: Path  # our EVT 2.0 writer
    aedat4: Path | None  # dv-processing writer (None when skipped)
    evt3_native: Path  # the EVT 3.0 sample's words repeated
    n_events: int  # in each of evt3, evt2, aedat4
    n_events_native: int


def build_files(tmp: Path, n_target: int, with_aedat4: bool) -> BenchFiles:
    base = load_base_block()
    span = int(base["t"].max()) + GAP_US
    order = np.argsort(base["t"], kind="stable")  # for .aedat4 only
    reps = -(-n_target // len(base))
    files = BenchFiles(
        evt3=tmp / "stream.evt3.raw",
        evt2=tmp / "stream.evt2.raw",
        aedat4=tmp / "stream.aedat4" if with_aedat4 else None,
        evt3_native=tmp / "native.raw",
        n_events=reps * len(base),
        n_events_native=0,
    )
    dv_writer = None
    if files.aedat4 is not None:
        import dv_processing as dv

        config = dv.io.MonoCameraWriter.EventOnlyConfig("bench", (GEOMETRY.width, GEOMETRY.height))
        dv_writer = dv.io.MonoCameraWriter(str(files.aedat4), config)
    block = np.empty_like(base)
    t0 = time.perf_counter()
    with Evt3Writer(files.evt3, GEOMETRY) as w3, Evt2Writer(files.evt2, GEOMETRY) as w2:
        for r in range(reps):
            block[:] = base
            block["t"] += r * span
            w3.write(block)
            w2.write(block)
            if dv_writer is not None:
                dv_writer.writeEvents(_dv_store(block[order]))
    del dv_writer  # closes the .aedat4 file
    log.info("wrote %d events to each file in %.1f s", files.n_events, time.perf_counter() - t0)

    # camera-made EVT 3.0 (vector words): the sample's words repeated; its TIME_HIGH
    # restarts each time by less than the wrap threshold, so times simply repeat
    sample = SAMPLES_DIR / EVT3_SAMPLE
    data = sample.read_bytes()[read_header(sample).data_offset :]
    n_sample = len(RawReader(sample).read_all())
    native_reps = -(-n_target // n_sample)
    with open(files.evt3_native, "wb") as f:
        f.write(b"% evt 3.0\n% format EVT3;height=720;width=1280\n% end\n")
        for _ in range(native_reps):
            f.write(data)
    files.n_events_native = native_reps * n_sample
    return files


def _dv_store(events: np.ndarray):  # type: ignore[no-untyped-def]
    """dv.EventStore from a packet; dv-processing has no bulk constructor from numpy."""
    import dv_processing as dv

    store = dv.EventStore()
    push = store.push_back
    columns = events["t"].tolist(), events["x"].tolist(), events["y"].tolist(), (events["p"] != 0).tolist()
    for t, x, y, p in zip(*columns):
        push(t, x, y, p)
    return store


def decode_ours(path: Path) -> int:
    n = 0
    for chunk in RawReader(path).iter_chunks():
        n += len(chunk.events)
    return n


def read_all_ours(path: Path) -> int:
    """The whole file into one array, as a notebook user calls it."""
    from ezsr_live.drivers import open_reader

    return len(open_reader(path).read_all())


def decode_ours_aedat4(path: Path) -> int:
    """Our .aedat4 reader (dv-processing in a child process), the one users get."""
    from ezsr_live.drivers import open_reader

    return sum(len(p) for p in open_reader(path))


def decode_dv(path: Path, to_numpy: bool) -> int:
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    n = 0
    while True:
        batch = recording.getNextEventBatch()
        if batch is None:
            break
        n += len(batch.numpy()) if to_numpy else batch.size()
    return n


def decode_aedat(path: Path) -> int:
    import aedat  # type: ignore[import-not-found]

    return sum(len(packet["events"]) for packet in aedat.Decoder(str(path)) if "events" in packet)


def decode_faery(path: Path) -> int:
    import faery  # type: ignore[import-not-found]

    return sum(len(packet) for packet in faery.events_stream_from_file(str(path)))


def decode_expelliarmus(path: Path, encoding: str) -> int:
    from expelliarmus import Wizard  # type: ignore[import-not-found]

    wizard = Wizard(encoding=encoding, fpath=str(path))
    return len(wizard.read())


def best_times(fns: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[float, int]]:
    """Best time of each decoder over ``repeats`` interleaved rounds (A B C A B C ...)."""
    best = {key: (float("inf"), 0) for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            n = fn()
            best[key] = (min(best[key][0], time.perf_counter() - t0), n)
    return best


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000, help="events per file (default 50 M)")
    parser.add_argument("--repeats", type=int, default=3, help="timed decodes per reader, best kept")
    parser.add_argument(
        "--skip-aedat4", action="store_true", help="skip dv-processing (its file takes longest to build)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bench_io: %(message)s", stream=sys.stderr)

    # compile / load the kernels outside the timings
    decode_ours(SAMPLES_DIR / EVT3_SAMPLE)
    decode_ours(SAMPLES_DIR / EVT2_SAMPLE)

    rows: list[tuple[str, str, int, float, int]] = []  # key, label, events, seconds, bytes
    with tempfile.TemporaryDirectory(prefix="ezsr_bench_io_") as tmp_name:
        files = build_files(Path(tmp_name), args.events, not args.skip_aedat4)
        n_stream = files.n_events
        cases: list[tuple[str, str, Path, Callable[[], int]]] = [
            ("evt3", "ezsr EVT 3.0 (our writer, plain words)", files.evt3, partial(decode_ours, files.evt3)),
            ("evt2", "ezsr EVT 2.0", files.evt2, partial(decode_ours, files.evt2)),
            ("evt3_native", "ezsr EVT 3.0 (camera words, vectors)", files.evt3_native, partial(decode_ours, files.evt3_native)),
            ("evt3_read_all", "ezsr EVT 3.0 read_all (one array)", files.evt3, partial(read_all_ours, files.evt3)),
            ("evt2_read_all", "ezsr EVT 2.0 read_all (one array)", files.evt2, partial(read_all_ours, files.evt2)),
        ]
        if files.aedat4 is not None:
            aedat4 = files.aedat4
            cases.append(("aedat4_dv", "dv-processing .aedat4 batches", aedat4, partial(decode_dv, aedat4, False)))
            cases.append(("aedat4_dv_numpy", "dv-processing .aedat4 + .numpy()", aedat4, partial(decode_dv, aedat4, True)))
            cases.append(("aedat4_ours", "ezsr .aedat4 reader (in-process LZ4)", aedat4, partial(decode_ours_aedat4, aedat4)))
            for module, fn in (("aedat", decode_aedat), ("faery", decode_faery)):
                if importlib.util.find_spec(module) is not None:
                    cases.append((f"aedat4_{module}", f"{module} .aedat4", aedat4, partial(fn, aedat4)))
                else:
                    log.info("%s not installed: skipped", module)
        if importlib.util.find_spec("expelliarmus") is not None:
            for fmt, path in (("evt3", files.evt3), ("evt2", files.evt2)):
                label = f"expelliarmus {fmt.upper()}"
                cases.append((f"expelliarmus_{fmt}", label, path, partial(decode_expelliarmus, path, fmt)))
        else:
            log.info("expelliarmus not installed: skipped")
        peers_optional = ("expelliarmus", "aedat4_aedat", "aedat4_faery")
        by_file: dict[Path, list[tuple[str, str, Callable[[], int]]]] = {}
        for key, label, path, fn in cases:
            by_file.setdefault(path, []).append((key, label, fn))
        for path, group in by_file.items():
            warm_page_cache(path)
            fns = {}
            for key, label, fn in group:
                try:
                    fn()  # warm-up: numba kernels loaded, and an optional peer must take the file
                except Exception as exc:  # an optional third-party decoder may not take our files
                    if not key.startswith(peers_optional):
                        raise
                    log.warning("%s failed, skipped: %s", key, exc)
                    continue
                fns[key] = fn
            timed = best_times(fns, args.repeats)
            counts = {key: n for key, (_, n) in timed.items() if not key.endswith("_native")}
            if len(set(counts.values())) > 1:
                raise SystemExit(f"decoders of {path.name} disagree on the event count: {counts}")
            for key, label, _ in group:
                if key in timed:
                    seconds, n = timed[key]
                    rows.append((key, label, n, seconds, path.stat().st_size))
                    log.info("%s: %d events in %.3f s", key, n, seconds)

    rate = {key: n / s / 1e6 for key, _, n, s, _ in rows}
    ref = rate.get("aedat4_dv")
    load = os.getloadavg()[0]
    print(f"{n_stream:,} events per file (1280x720); ours: numba, one thread; {os.cpu_count()} cores, load {load:.1f}")
    print(f"{'decoder':40s} {'events':>12s} {'MB':>8s} {'s':>7s} {'Mev/s':>8s} {'x dv':>6s}")
    for key, label, n, s, size in rows:
        ratio = f"{rate[key] / ref:6.2f}" if ref else "     -"
        print(f"{label:40s} {n:12,d} {size / 1e6:8.1f} {s:7.3f} {rate[key]:8.1f} {ratio}")
    figures = {f"{key}_mev_s": round(value, 1) for key, value in rate.items()}
    figures.setdefault("aedat4_dv_mev_s", None)
    if ref:
        figures["evt3_vs_aedat4_dv_ratio"] = round(rate["evt3"] / ref, 2)
        figures["evt2_vs_aedat4_dv_ratio"] = round(rate["evt2"] / ref, 2)
    for ours, peers in (("evt3", ("expelliarmus_evt3",)), ("evt2", ("expelliarmus_evt2",)),
                        ("aedat4_ours", ("aedat4_dv_numpy", "aedat4_aedat", "aedat4_faery"))):
        present = [rate[p] for p in peers if p in rate]
        if ours in rate and present:
            figures[f"{ours}_ratio_vs_fastest_peer"] = round(rate[ours] / max(present), 2)
    if ref and "aedat4_ours" in rate:  # dv without .numpy(): batches counted, no array made
        figures["aedat4_ours_vs_aedat4_dv_ratio"] = round(rate["aedat4_ours"] / ref, 2)
    for fmt in ("evt3", "evt2"):
        figures[f"{fmt}_read_all_vs_streaming_ratio"] = round(rate[f"{fmt}_read_all"] / rate[fmt], 2)
    figures["n_events"] = n_stream
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
