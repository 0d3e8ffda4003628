"""Fuzz the DV network source with mutated real streams, for as many cases as fit a
time budget.

Each case is what a real dv.io.NetworkWriter sent for the .aedat4 sample (uncompressed
and LZ4, captured once), damaged by random byte flips and truncations, served by a
plain Python socket peer (tests/drivers/dv_hostile_peer.py). The client is a separate
process that opens the stream with ``open_source`` and reads it to its end, one case
after the other, so that a crash or a hang of the client is seen and counted here
(and the client restarted) instead of ending the run. Outcomes:

- ``ended``: the stream ended (the peer closed after its bytes);
- ``project_errors``: a SourceError/EzsrError, one line (``reader_deaths`` counts those
  saying the reader process died: dv-processing crashing in it on damaged LZ4 data,
  contained there);
- ``other_exceptions``: anything else raised in the client (a bug; must be 0);
- ``crashes``: the client process died (must be 0);
- ``hangs``: a case that did not end within CASE_TIMEOUT_S (must be 0).

Usage: python benchmarks/fuzz_network.py [--budget-s 300] [--cases 100000] [--seed 0]
Prints a line per 50 cases, then one JSON line of counts.
"""
from __future__ import annotations

import argparse
import json
import random
import select
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests" / "drivers"))
from _data import SAMPLES, scratch_dir  # noqa: E402
from dv_hostile_peer import capture_stream, free_port, mutate_stream, start_peer  # noqa: E402

SAMPLE = "dvxplorer_320x240.aedat4"
#: a case ends well within this (the handshake timeout is 2 s here; damage that leaves
#: a packet incomplete ends when the peer closes)
CASE_TIMEOUT_S = 30.0
BATCH = 50

CLIENT = textwrap.dedent("""
    import json, sys
    from ezsr_live.drivers.sources import open_source
    from ezsr_live.errors import EzsrError
    for line in sys.stdin:
        result = {"packets": 0, "events": 0}
        try:
            source = open_source(line.strip(), handshake_timeout_s=2.0)
            for packet in source:
                result["packets"] += 1
                result["events"] += len(packet)
            result["outcome"] = "ended"
        except EzsrError as exc:
            result["outcome"] = "project_error"
            result["reader_death"] = "reader process died" in str(exc)
        except Exception as exc:
            result["outcome"] = "other_exception"
            result["error"] = repr(exc)
        print(json.dumps(result), flush=True)
""")


class Client:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def run(self, uri: str) -> dict | str:
        """The case's result, or "crash" / "hang"."""
        self.proc.stdin.write(uri + "\n")
        self.proc.stdin.flush()
        if not select.select([self.proc.stdout], [], [], CASE_TIMEOUT_S)[0]:
            return "hang"
        line = self.proc.stdout.readline()
        return json.loads(line) if line else "crash"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=300.0)
    parser.add_argument("--cases", type=int, default=100_000, help="at most this many cases")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scratch = scratch_dir()
    start = time.monotonic()
    captures = [capture_stream(SAMPLES / SAMPLE, limit=20000, compression=c) for c in ("NONE", "LZ4")]
    counts = {"cases": 0, "packets": 0, "events": 0, "ended": 0, "project_errors": 0, "reader_deaths": 0,
              "other_exceptions": 0, "crashes": 0, "hangs": 0}
    examples: list[str] = []
    client = Client()
    try:
        while counts["cases"] < args.cases and time.monotonic() - start < args.budget_s:
            batch = []
            for i in range(min(BATCH, args.cases - counts["cases"])):
                path = scratch / f"case{i}.bin"
                path.write_bytes(mutate_stream(rng.choice(captures), rng))
                batch.append(path)
            port = free_port()
            peer = start_peer("serve", f"tcp:{port}", serve=batch)
            try:
                for _ in batch:
                    result = client.run(f"tcp://127.0.0.1:{port}")
                    counts["cases"] += 1
                    if isinstance(result, str):  # the client is gone or stuck: a fresh one
                        counts["crashes" if result == "crash" else "hangs"] += 1
                        client.close()
                        client = Client()
                        break  # the peer's remaining connections would be out of step
                    counts["packets"] += result["packets"]
                    counts["events"] += result["events"]
                    outcome = result["outcome"]
                    counts["ended" if outcome == "ended" else outcome + "s"] += 1
                    counts["reader_deaths"] += bool(result.get("reader_death"))
                    if outcome == "other_exception" and len(examples) < 5:
                        examples.append(result["error"])
                    if time.monotonic() - start > args.budget_s:
                        break
            finally:
                peer.kill()
                peer.wait()
            print(f"{time.monotonic() - start:7.1f} s  " + " ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
    finally:
        client.close()
        shutil.rmtree(scratch, ignore_errors=True)
    for example in examples:
        print("other exception:", example)
    counts["wall_s"] = round(time.monotonic() - start, 1)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
