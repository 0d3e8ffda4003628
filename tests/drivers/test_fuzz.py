"""Fuzzing every reader with mutated and truncated real recordings.

Each case must end in packets or the project's own FormatError: never another
exception, a hang, or a crash. Cases are deterministic (seeded) so a failure reproduces.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.errors import FormatError

from tests.conftest import SAMPLE_FILES

CASES_PER_FILE = 800  # 4 fast files -> 3,200 cases in CI, plus the .aedat4 ones
# dv-processing decodes .aedat4 in a child process (it can spin forever on corrupt LZ4
# data, see drivers/aedat4.py), so each case costs a process start: fewer cases there
CASES_PER_AEDAT4 = 24
MAX_BYTES = 96 * 1024  # mutate a prefix: keeps each case fast, reaches headers and bodies
# .aedat4 ends in a file index (dv-processing checks it), so a prefix is always a truncated
# file: mutate the whole recording to reach its compressed packets
WHOLE_FILE = {"dvxplorer_320x240.aedat4"}


def _mutations(data: bytes, rng: np.random.Generator, n: int):
    size = len(data)
    header_end = data.find(b"\n% end") if b"% end" in data[:4096] else min(size, 512)
    for k in range(n):
        buf = bytearray(data)
        kind = k % 8
        if kind == 0:  # truncation anywhere
            cut = int(rng.integers(0, size))
            yield f"truncate@{cut}", bytes(buf[:cut])
            continue
        if kind == 1:  # single bit flips
            for _ in range(int(rng.integers(1, 8))):
                i = int(rng.integers(0, size))
                buf[i] ^= 1 << int(rng.integers(0, 8))
        elif kind == 2:  # a run of random bytes
            i = int(rng.integers(0, size))
            j = min(size, i + int(rng.integers(1, 256)))
            buf[i:j] = rng.integers(0, 256, j - i, dtype=np.uint8).tobytes()
        elif kind == 3:  # damage the header region
            i = int(rng.integers(0, max(1, header_end + 16)))
            buf[i] = int(rng.integers(0, 256))
        elif kind == 4:  # extreme values (0x00 / 0xFF runs) in the body
            i = int(rng.integers(0, size))
            buf[i : i + 64] = (b"\xff" if rng.random() < 0.5 else b"\x00") * len(buf[i : i + 64])
        elif kind == 5:  # duplicate a slice into another place
            i, j = sorted(int(v) for v in rng.integers(0, size, 2))
            buf[j:j] = buf[i : min(j, i + 1024)]
        elif kind == 6:  # delete a slice (misaligns everything after it)
            i = int(rng.integers(0, size))
            del buf[i : i + int(rng.integers(1, 7))]
        else:  # truncate and flip
            cut = int(rng.integers(1, size))
            buf = buf[:cut]
            buf[int(rng.integers(0, cut))] ^= 0xFF
        yield f"mutation{kind}#{k}", bytes(buf)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_mutated_recordings_end_in_packets_or_format_error(samples_dir, tmp_path, name):
    data = (samples_dir / name).read_bytes()
    if name not in WHOLE_FILE:
        data = data[:MAX_BYTES]
    rng = np.random.default_rng(sum(name.encode()))
    path = tmp_path / f"case{os.path.splitext(name)[1]}"
    outcomes = {"packets": 0, "format_error": 0}
    n_cases = CASES_PER_AEDAT4 if name in WHOLE_FILE else CASES_PER_FILE
    for label, blob in _mutations(data, rng, n_cases):
        path.write_bytes(blob)
        try:
            reader = open_reader(path, chunk_events=4096)
            with reader:
                for chunk in reader.iter_chunks():
                    ev = chunk.events
                    if len(ev):
                        # whatever came out is in range for the geometry it declared
                        assert int(ev["x"].max()) < reader.geometry.width, label
                        assert int(ev["y"].max()) < reader.geometry.height, label
            outcomes["packets"] += 1
        except FormatError as exc:
            assert str(path) in str(exc), label
            outcomes["format_error"] += 1
    assert sum(outcomes.values()) == n_cases
    print(name, outcomes)  # shown with -s: how the cases ended
