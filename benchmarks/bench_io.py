"""Decode throughput of our readers against every installed peer decoder, in one run.

Builds, in a temporary directory, one stream of at least ``--events`` CD events made of
the two real RAW samples (../shared/samples) repeated back to back with time offsets
(the 640x480 EVT 2.0 events fit in the 1280x720 frame), and writes it three times:
through our EVT 3.0 writer, our EVT 2.0 writer, and dv-processing's ``MonoCameraWriter``
(.aedat4, LZ4; each repetition stably sorted by time first, as .aedat4 needs monotonic
time). A fourth file repeats the EVT 3.0 sample's bytes verbatim, to measure decoding of
camera-made EVT 3.0 with vector words (our writer emits plain words only).

Then it decodes each file with our reader (numba, one thread; streaming: events counted
chunk by chunk in bounded memory; and whole-file ``read_all``) and with each installed
peer (``pip install -e .[bench]``): expelliarmus (RAW, whole file), evt3 (EVT 3.0,
batches and whole file), evlib (RAW and .aedat4, whole file as a polars frame), faery
(RAW and .aedat4, streaming), aedat (.aedat4, streaming) and dv-processing (.aedat4,
``getNextEventBatch`` with and without ``.numpy()``). Files are read once beforehand
so that all decoders see a warm page cache; the decoders of one file run in
interleaved rounds (A B C A B C ...) so that a busy machine slows them alike, and every
decoder of a file must count the same events. Figures are medians of ``--repeats``
rounds (the table adds the range). ``*_ratio_vs_fastest_peer`` divides our rate by the
fastest peer's on the same file in any of its modes (dv-processing without
``.numpy()`` builds no array and is left out of that). Prints a table and, as the last
line, one JSON object of the figures.

Usage: python benchmarks/bench_io.py [--events N] [--repeats R] [--skip-aedat4]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import statistics
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
    """Our .aedat4 reader (in-process), the one users get."""
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


def decode_faery_raw(path: Path) -> int:
    import faery  # type: ignore[import-not-found]

    return sum(len(packet) for packet in faery.events_stream_from_file(str(path)))


def decode_evt3_batches(path: Path) -> int:
    import evt3  # type: ignore[import-not-found]

    return sum(len(batch.x) for batch in evt3.decode_file_batches(str(path)))


def decode_evt3_whole(path: Path) -> int:
    import evt3  # type: ignore[import-not-found]

    return len(evt3.decode_file(str(path)).x)


def decode_evlib(path: Path) -> int:
    import evlib  # type: ignore[import-not-found]

    # formats.load_events: file order (the top-level load_events also sorts)
    return int(evlib.formats.load_events(str(path)).collect().height)


def decode_expelliarmus(path: Path, encoding: str) -> int:
    from expelliarmus import Wizard  # type: ignore[import-not-found]

    wizard = Wizard(encoding=encoding, fpath=str(path))
    return len(wizard.read())


def timed_rounds(fns: dict[str, Callable[[], int]], repeats: int) -> dict[str, tuple[list[float], list[float], int]]:
    """Wall and CPU seconds (this process, user + system, all threads) of each decoder in
    ``repeats`` interleaved rounds (A B C A B C ...), and the events it counted."""
    times: dict[str, tuple[list[float], list[float], int]] = {key: ([], [], 0) for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            n = fn()
            wall, cpu, _ = times[key]
            times[key] = (wall + [time.perf_counter() - w0], cpu + [time.process_time() - c0], n)
    return times


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


#: ours: the figures the ratios are about; the rest of a file's decoders are its peers
OURS = ("evt3", "evt3_read_all", "evt2", "evt2_read_all", "evt3_native", "evt3_native_read_all",
        "aedat4_ours", "aedat4_ours_read_all")
#: measured but no peer for the ratios: dv's batches without .numpy() build no array
NOT_A_PEER = ("aedat4_dv",)


def _cases(files: BenchFiles) -> list[tuple[str, str, Path, Callable[[], int]]]:
    """(key, label, file, decode) of every decoder to time; peers only when installed."""
    have = {m: importlib.util.find_spec(m) is not None for m in ("expelliarmus", "evt3", "evlib", "faery", "aedat")}
    for module, present in have.items():
        if not present:
            log.info("%s not installed: skipped", module)
    cases: list[tuple[str, str, Path, Callable[[], int]]] = []
    raw_files = (("evt3", "EVT 3.0 (our writer, plain words)", files.evt3, "evt3"),
                 ("evt2", "EVT 2.0", files.evt2, "evt2"),
                 ("evt3_native", "EVT 3.0 (camera words, vectors)", files.evt3_native, "evt3"))
    for key, what, path, encoding in raw_files:
        cases.append((key, f"ezsr {what}", path, partial(decode_ours, path)))
        cases.append((f"{key}_read_all", f"ezsr {what} read_all", path, partial(read_all_ours, path)))
        if have["expelliarmus"]:
            cases.append((f"{key}_expelliarmus", f"expelliarmus {what}", path,
                          partial(decode_expelliarmus, path, encoding)))
        if have["evt3"] and encoding == "evt3":
            cases.append((f"{key}_evt3_batches", f"evt3 batches {what}", path, partial(decode_evt3_batches, path)))
            cases.append((f"{key}_evt3", f"evt3 decode_file {what}", path, partial(decode_evt3_whole, path)))
        if have["evlib"]:
            cases.append((f"{key}_evlib", f"evlib {what}", path, partial(decode_evlib, path)))
        if have["faery"]:
            cases.append((f"{key}_faery", f"faery {what}", path, partial(decode_faery_raw, path)))
    if files.aedat4 is not None:
        aedat4 = files.aedat4
        cases.append(("aedat4_ours", "ezsr .aedat4 (in-process)", aedat4, partial(decode_ours_aedat4, aedat4)))
        cases.append(("aedat4_ours_read_all", "ezsr .aedat4 read_all", aedat4, partial(read_all_ours, aedat4)))
        cases.append(("aedat4_dv", "dv-processing .aedat4 batches", aedat4, partial(decode_dv, aedat4, False)))
        cases.append(("aedat4_dv_numpy", "dv-processing .aedat4 + .numpy()", aedat4, partial(decode_dv, aedat4, True)))
        for module, fn in (("aedat", decode_aedat), ("faery", decode_faery), ("evlib", decode_evlib)):
            if have[module]:
                cases.append((f"aedat4_{module}", f"{module} .aedat4", aedat4, partial(fn, aedat4)))
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000, help="events per file (default 20 M)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (median reported)")
    parser.add_argument(
        "--skip-aedat4", action="store_true", help="skip .aedat4 (its file takes longest to build)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="bench_io: %(message)s", stream=sys.stderr)

    # compile / load the kernels outside the timings
    decode_ours(SAMPLES_DIR / EVT3_SAMPLE)
    decode_ours(SAMPLES_DIR / EVT2_SAMPLE)

    rows: list[tuple[str, str, Path, int, list[float], list[float]]] = []  # key, label, file, events, wall, cpu
    with tempfile.TemporaryDirectory(prefix="ezsr_bench_io_") as tmp_name:
        files = build_files(Path(tmp_name), args.events, not args.skip_aedat4)
        by_file: dict[Path, list[tuple[str, str, Callable[[], int]]]] = {}
        for key, label, path, fn in _cases(files):
            by_file.setdefault(path, []).append((key, label, fn))
        for path, group in by_file.items():
            warm_page_cache(path)
            fns = {}
            for key, label, fn in group:
                try:
                    fn()  # warm-up: numba kernels loaded, and a peer must take the file
                except Exception as exc:  # a third-party decoder may not take our files
                    if key in OURS:
                        raise
                    log.warning("%s failed, skipped: %s", key, exc)
                    continue
                fns[key] = fn
            timed = timed_rounds(fns, args.repeats)
            counts = {key: n for key, (_, _, n) in timed.items()}
            if len(set(counts.values())) > 1:
                raise SystemExit(f"decoders of {path.name} disagree on the event count: {counts}")
            for key, label, _ in group:
                if key in timed:
                    wall, cpu, n = timed[key]
                    rows.append((key, label, path, n, wall, cpu))
                    log.info("%s: %d events, median %.3f s (CPU %.3f s)", key, n, statistics.median(wall),
                             statistics.median(cpu))
        sizes = {path: path.stat().st_size for path in by_file}

    rates = {"": {key: n / statistics.median(w) / 1e6 for key, _, _, n, w, _ in rows},
             "cpu_": {key: n / statistics.median(c) / 1e6 for key, _, _, n, _, c in rows}}
    fastest: dict[str, dict[Path, tuple[str, float]]] = {kind: {} for kind in rates}
    for kind, rate in rates.items():
        for key, _, path, _, _, _ in rows:
            if key not in OURS and key not in NOT_A_PEER and rate[key] > fastest[kind].get(path, ("", 0.0))[1]:
                fastest[kind][path] = (key, rate[key])
    load = os.getloadavg()[0]
    print(f"{files.n_events:,} events per file (1280x720; camera EVT 3.0: {files.n_events_native:,}); "
          f"ours: numba, one thread; {os.cpu_count()} cores, load {load:.1f}; median of {args.repeats} rounds; "
          "CPU: this process's user + system time")
    print(f"{'decoder':50s} {'events':>11s} {'MB':>6s} {'Mev/s':>6s} {'range':>11s} {'x peer':>6s} "
          f"{'CPU Mev/s':>9s} {'x peer':>6s}")
    figures: dict[str, float | int | str | None] = {}
    for key, label, path, n, wall, _ in rows:
        low, high = n / max(wall) / 1e6, n / min(wall) / 1e6
        cells = []
        for kind, rate in rates.items():
            best = fastest[kind].get(path)
            cells.append(f"{rate[key] / best[1]:6.2f}" if best else "     -")
            figures[f"{key}_{kind}mev_s"] = round(rate[key], 1)
            if key in OURS and best:
                figures[f"{key}_{kind}ratio_vs_fastest_peer"] = round(rate[key] / best[1], 2)
        print(f"{label:50s} {n:11,d} {sizes[path] / 1e6:6.1f} {rates[''][key]:6.1f} {low:5.1f}-{high:<5.1f} "
              f"{cells[0]} {rates['cpu_'][key]:9.1f} {cells[1]}")
    for key, _, path, _, _, _ in rows:
        if key in ("evt3", "evt2", "evt3_native", "aedat4_ours"):
            for kind in rates:
                if path in fastest[kind]:
                    figures[f"{key}_fastest_{kind}peer"] = fastest[kind][path][0]
    for key in ("evt3", "evt2", "evt3_native", "aedat4_ours"):
        for kind, rate in rates.items():
            if key in rate and f"{key}_read_all" in rate:
                figures[f"{key}_read_all_vs_streaming_{kind}ratio"] = round(rate[f"{key}_read_all"] / rate[key], 2)
    figures["n_events"] = files.n_events
    figures["load_avg"] = round(load, 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
