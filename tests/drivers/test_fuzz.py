"""Fuzzing every reader with mutated and truncated real recordings.

Each case must end in packets or the project's own FormatError: never another
exception, a hang, or a crash. Cases are deterministic (seeded) so a failure reproduces.
"""
from __future__ import annotations

import faulthandler
import os
import re
import resource
import struct

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.errors import FormatError

from tests.conftest import SAMPLE_FILES

CASES_PER_FILE = 800  # 4 fast files -> 3,200 cases in CI, plus the .aedat4 ones
# .aedat4 is decoded in-process now (drivers/aedat4.py): whole-file cases cost about
# 10 ms each (no child process any more), plus the structure-aware ones of test_aedat4_structure_aware_mutations
CASES_PER_AEDAT4 = 200
CASES_AEDAT4_STRUCTURED = 400
CASE_TIMEOUT_S = 20  # a case that runs longer is a hang: the process dumps its stacks and exits
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
        faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
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
        finally:
            faulthandler.cancel_dump_traceback_later()
    assert sum(outcomes.values()) == n_cases
    print(name, outcomes)  # shown with -s: how the cases ended
    if name in WHOLE_FILE:
        assert outcomes["format_error"] and outcomes["packets"], outcomes


def _aedat4_packets(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, stream id, size) of each packet of a well-formed .aedat4 file."""
    offset = 14 + 4 + struct.unpack_from("<i", data, 14)[0]
    packets = []
    while offset + 8 <= len(data):
        stream_id, size = struct.unpack_from("<ii", data, offset)
        if stream_id < 0 or size <= 0 or offset + 8 + size > len(data):
            break  # the data table
        packets.append((offset, stream_id, size))
        offset += 8 + size
    return packets


def _aedat4_structured_mutations(data: bytes, rng: np.random.Generator, n: int):
    """Damage aimed at the AEDAT 4 structures: LZ4 payload bytes (frame descriptor,
    block size words, sequences), packet size and stream-id fields, the IOHeader, and
    truncations at and inside packet boundaries."""
    packets = _aedat4_packets(data)
    header_size = struct.unpack_from("<i", data, 14)[0]
    for k in range(n):
        buf = bytearray(data)
        offset, stream_id, size = packets[int(rng.integers(0, len(packets)))]
        payload = offset + 8
        kind = k % 8
        if kind == 0:  # bit flips inside one LZ4 payload
            for _ in range(int(rng.integers(1, 5))):
                buf[payload + int(rng.integers(0, size))] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # the LZ4 frame descriptor (magic, FLG, BD, HC)
            buf[payload + int(rng.integers(0, 7))] = int(rng.integers(0, 256))
        elif kind == 2:  # the first LZ4 block size word: bigger, smaller, stored flag
            word = struct.unpack_from("<I", buf, payload + 7)[0]
            word = [word + int(rng.integers(1, 1 << 16)), max(0, word - int(rng.integers(1, 64))),
                    word ^ 0x80000000, 0xFFFFFFFF][int(rng.integers(0, 4))]
            struct.pack_into("<I", buf, payload + 7, word)
        elif kind == 3:  # the packet size field
            new = [2**31 - 1, -1, 0, size + int(rng.integers(-64, 64)), 1 << 28][int(rng.integers(0, 5))]
            struct.pack_into("<i", buf, offset + 4, new)
        elif kind == 4:  # the stream id: unknown, or events <-> imu/triggers
            struct.pack_into("<i", buf, offset, int(rng.choice([0, 2, 3, 7, -1, 2**31 - 1])))
        elif kind == 5:  # the IOHeader (flatbuffer offsets, compression, XML)
            for _ in range(int(rng.integers(1, 4))):
                buf[18 + int(rng.integers(0, header_size))] = int(rng.integers(0, 256))
        elif kind == 6:  # truncation at a packet boundary or inside a packet
            buf = buf[:offset + int(rng.integers(0, 8 + size))]
        else:  # the tail of an LZ4 payload: end mark, checksum space
            buf[payload + size - int(rng.integers(1, 9))] = int(rng.integers(0, 256))
        yield f"aedat4-{kind}#{k}@{offset}", bytes(buf)


def test_aedat4_structure_aware_mutations_end_in_packets_or_format_error(samples_dir, tmp_path):
    data = (samples_dir / "dvxplorer_320x240.aedat4").read_bytes()
    rng = np.random.default_rng(404)
    path = tmp_path / "case.aedat4"
    outcomes: dict[str, int] = {"packets": 0}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for label, blob in _aedat4_structured_mutations(data, rng, CASES_AEDAT4_STRUCTURED):
        path.write_bytes(blob)
        faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
        try:
            reader = open_reader(path, chunk_events=4096)
            for chunk in reader.iter_chunks():
                ev = chunk.events
                if len(ev):
                    assert int(ev["x"].max()) < reader.geometry.width, label
                    assert int(ev["y"].max()) < reader.geometry.height, label
            outcomes["packets"] += 1
        except FormatError as exc:
            message = str(exc)
            assert str(path) in message and message.count("\n") == 0, label
            # group the failures by their reason (the message without file and offset)
            reason = re.sub(r"(?<![A-Z])\d+", "N", message.split(": ", 1)[1].split(" (")[0])
            outcomes[reason] = outcomes.get(reason, 0) + 1
        finally:
            faulthandler.cancel_dump_traceback_later()
    assert sum(outcomes.values()) == CASES_AEDAT4_STRUCTURED
    # KiB on Linux: decoding a 1 MB file never needs more than a few packets' worth
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 256 << 10
    print(sorted(outcomes.items(), key=lambda kv: -kv[1]))  # shown with -s
    # the cases reach the decoder's failure paths, not only the framing checks
    assert outcomes["packets"] >= 20
    assert any(r.startswith("LZ4") for r in outcomes), outcomes
    assert any("packet header" in r for r in outcomes), outcomes
