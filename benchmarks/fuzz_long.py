"""Long fuzz of every file reader: mutated real recordings until a case count or a time
budget is reached, in worker processes so that a crash or a hang is seen, not suffered.

Each case is a seeded mutation (bit flips, random runs, header damage, extreme values,
duplicated/deleted slices, truncations, and word-aware edits of RAW type nibbles) of a
prefix of one of the real samples (../shared/samples), written to a RAM-backed file and
read to the end. Outcomes: ``packets`` (read to the end, every event inside the declared
geometry), ``project_errors`` (the project's FormatError naming the file), and the ones
that must stay 0: ``other_exceptions``, ``out_of_geometry``, ``crashes`` (a worker died),
``hangs`` (a case ran past ``--case-timeout``). The last line is one JSON object.

The text inputs (TOML configs, label files, model registries, weight sidecars) are
fuzzed alongside, with the structure-aware generators of ``tests/fuzz_structured.py``
through the program's own entry points: ``accepted`` counts those that load, and a
refusal is a project error (an EzsrError, or argparse's refusal of a config value).
``--inputs files`` or ``--inputs text`` runs one family only.

Usage: python benchmarks/fuzz_long.py [--cases 1000000] [--budget-s 1800] [--workers 2] [--inputs files,text]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

SAMPLES = Path(os.environ.get("EZSR_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "samples"))
#: fast readers only: .aedat4 has its own fuzz (tests/drivers/test_fuzz.py), the network
#: source benchmarks/fuzz_network.py
FILES = ["evt3_gen41_1280x720.raw", "evt2_gen3_640x480.raw", "nmnist_sample.bin", "ncars_sample.dat"]
PREFIX = 16 * 1024
OUTCOMES = ("packets", "accepted", "project_errors", "other_exceptions", "out_of_geometry", "crashes", "hangs")
REPO = Path(__file__).resolve().parents[1]
#: one text input of each kind in the rotation beside the recordings
TEXT_TARGETS = ("text:config", "text:labels", "text:registry", "text:sidecar")


def mutate(data: bytes, rng: np.random.Generator, kind: int) -> bytes:
    buf = bytearray(data)
    size = len(buf)
    if kind == 0:
        return bytes(buf[: int(rng.integers(0, size))])
    if kind == 1:
        for _ in range(int(rng.integers(1, 16))):
            i = int(rng.integers(0, size))
            buf[i] ^= 1 << int(rng.integers(0, 8))
    elif kind == 2:
        i = int(rng.integers(0, size))
        j = min(size, i + int(rng.integers(1, 512)))
        buf[i:j] = rng.integers(0, 256, j - i, dtype=np.uint8).tobytes()
    elif kind == 3:
        end = data.find(b"\n% end")
        i = int(rng.integers(0, max(1, (end if end > 0 else 256) + 16)))
        buf[i] = int(rng.integers(0, 256))
    elif kind == 4:
        i = int(rng.integers(0, size))
        buf[i:i + 128] = (b"\xff" if rng.random() < 0.5 else b"\x00") * len(buf[i:i + 128])
    elif kind == 5:
        i, j = sorted(int(v) for v in rng.integers(0, size, 2))
        buf[j:j] = buf[i:min(j, i + 2048)]
    elif kind == 6:
        i = int(rng.integers(0, size))
        del buf[i:i + int(rng.integers(1, 9))]
    else:  # word-aware: rewrite the type nibble of random 16/32-bit words (RAW event types)
        width = 2 if rng.random() < 0.5 else 4
        for _ in range(int(rng.integers(1, 32))):
            i = int(rng.integers(0, max(1, size // width))) * width + width - 1
            if i < size:
                buf[i] = (buf[i] & 0x0F) | (int(rng.integers(0, 16)) << 4)
    return bytes(buf)


def _text_case(target: str, case: int, tmp: Path, counts: dict[str, int]) -> None:
    from tests.fuzz_structured import make_case, run_case

    kind = target.split(":", 1)[1]
    try:
        outcome = run_case(kind, make_case(kind, case), tmp)
        counts["accepted" if outcome == "ok" else "project_errors"] += 1
    except Exception:  # noqa: BLE001 - that is what is being counted
        counts["other_exceptions"] += 1
        if counts["other_exceptions"] <= 3:
            print(f"case {case} ({target}):\n{traceback.format_exc()}", file=sys.stderr)


def worker(index: int, n_workers: int, stop_at: float, max_cases: int, queue, heartbeat,  # type: ignore[no-untyped-def]
           targets: list[str]) -> None:
    sys.path.insert(0, str(REPO))  # tests.fuzz_structured
    from ezsr_live.drivers import open_reader
    from ezsr_live.errors import FormatError

    counts = dict.fromkeys(OUTCOMES, 0)
    counts["events"] = 0
    blobs = {name: (SAMPLES / name).read_bytes()[:PREFIX] for name in targets if name in FILES}
    tmp = Path(tempfile.mkdtemp(prefix="ezsr-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    if any(t.startswith("text:") for t in targets):
        # the entry points import torch and open_clip: load them before any case is timed
        from tests.fuzz_structured import KINDS, run_case
        for kind in KINDS:
            run_case(kind, b"", tmp)
    case = index
    try:
        while case < max_cases and time.time() < stop_at:
            name = targets[case % len(targets)]
            if name.startswith("text:"):
                heartbeat[index] = time.time()
                _text_case(name, case // len(targets), tmp, counts)
                heartbeat[index] = 0.0
                case += n_workers
                continue
            rng = np.random.default_rng([case, 20261201])
            path = tmp / f"case{Path(name).suffix}"
            path.write_bytes(mutate(blobs[name], rng, (case // len(targets)) % 8))
            heartbeat[index] = time.time()
            try:
                with open_reader(path, chunk_events=4096) as reader:
                    w, h = reader.geometry.width, reader.geometry.height
                    for chunk in reader.iter_chunks():
                        ev = chunk.events
                        if len(ev) and (int(ev["x"].max()) >= w or int(ev["y"].max()) >= h):
                            counts["out_of_geometry"] += 1
                        counts["events"] += len(ev)
                counts["packets"] += 1
            except FormatError:
                counts["project_errors"] += 1
            except Exception:  # noqa: BLE001 - that is what is being counted
                counts["other_exceptions"] += 1
                if counts["other_exceptions"] <= 3:
                    print(f"case {case} ({name}):\n{traceback.format_exc()}", file=sys.stderr)
            heartbeat[index] = 0.0
            case += n_workers
    finally:
        queue.put(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--budget-s", type=float, default=1800.0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--case-timeout", type=float, default=30.0)
    ap.add_argument("--inputs", default="files,text", help="files (recordings), text (configs, labels, registries, "
                    "sidecars), or both")
    opts = ap.parse_args()
    families = set(opts.inputs.split(","))
    targets = (FILES if "files" in families else []) + (list(TEXT_TARGETS) if "text" in families else [])
    if not targets:
        ap.error("--inputs: files, text or files,text")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    heartbeat = ctx.Array("d", opts.workers)
    start = time.time()
    stop_at = start + opts.budget_s
    procs = [ctx.Process(target=worker, args=(i, opts.workers, stop_at, opts.cases, queue, heartbeat, targets))
             for i in range(opts.workers)]
    for p in procs:
        p.start()
    totals = dict.fromkeys(OUTCOMES, 0)
    totals["events"] = 0
    alive = set(range(opts.workers))
    while alive:
        time.sleep(0.5)
        for i in list(alive):
            began = heartbeat[i]
            if began and time.time() - began > opts.case_timeout:
                totals["hangs"] += 1
                procs[i].kill()
                procs[i].join()  # once: the heartbeat of a killed worker stays set
                alive.discard(i)
                continue
            if not procs[i].is_alive():
                procs[i].join()
                alive.discard(i)
                if procs[i].exitcode not in (0, None) and not (began and time.time() - began > opts.case_timeout):
                    totals["crashes"] += 1
    while not queue.empty():
        for k, v in queue.get().items():
            totals[k] += v
    cases = totals["packets"] + totals["accepted"] + totals["project_errors"] + totals["other_exceptions"]
    wall = time.time() - start
    print(f"{cases:,} cases in {wall:.0f} s ({cases / max(wall, 1e-9):.0f}/s) over {', '.join(targets)}")
    print(json.dumps({"cases": cases, "wall_s": round(wall, 1), "cases_per_s": round(cases / max(wall, 1e-9), 1),
                      "packets": totals["packets"], "accepted": totals["accepted"], "events": totals["events"],
                      "project_errors": totals["project_errors"], "other_exceptions": totals["other_exceptions"],
                      "out_of_geometry": totals["out_of_geometry"], "crashes": totals["crashes"],
                      "hangs": totals["hangs"]}))


if __name__ == "__main__":
    main()
