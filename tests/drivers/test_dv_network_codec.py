"""The DV network stream codec: the Numba kernel decodes what dv-processing decodes,
agrees with its numpy twin on damaged packets byte for byte, and the header parser
refuses damage with PeerError and nothing else."""
from __future__ import annotations

import random

import numpy as np
import pytest

from ezsr_live.drivers import _dv_network_codec as codec
from ezsr_live.drivers import _dv_network_kernel as kernel
from ezsr_live.events import EVENT_DTYPE

from .conftest import DV_SAMPLE
from .dv_hostile_peer import split_stream
from .test_dv_network import _file_events


def _scan(scan, data: bytes, capacity: int, width: int = 320, height: int = 240, stream_id: int = 0):
    buf = np.frombuffer(bytearray(data), np.uint8)
    out = np.zeros(capacity, EVENT_DTYPE)
    status, detail, pos, n_out, dropped = scan(buf, 0, len(buf), stream_id, codec.MAX_PACKET_BYTES,
                                                width, height, out, 0)
    return (status, detail, pos, n_out, dropped), out[:n_out].copy()


def test_the_kernel_and_its_twin_decode_a_real_networkwriter_stream_as_dv_reads_the_file(dv_capture, samples_dir):
    header, packets = split_stream(dv_capture.read_bytes())
    compression, description = codec.parse_io_header(header[4:])
    stream = codec.parse_stream_description(compression, description)
    assert (stream.width, stream.height, stream.camera, stream.compression_name) == (
        320, 240, "DVXplorer_DXB00010", "NONE")
    body = b"".join(packets)
    expected = _file_events(samples_dir / DV_SAMPLE)
    for scan in (kernel.scan_packets, codec.scan_packets_reference):
        (status, detail, pos, n_out, dropped), events = _scan(scan, body, 1 << 20)
        assert (status, detail, pos, dropped) == (codec.SCAN_NEED_MORE, 8, len(body), 0)
        assert np.array_equal(events, expected[:n_out]) and n_out >= 20000


def _damage(packets: list[bytes], rng: random.Random) -> bytes:
    starts = np.cumsum([0] + [len(p) for p in packets[:-1]])
    buf = bytearray(b"".join(packets))
    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.6:  # the structure: packet header, size prefix, root, vtable, vector length
            at = int(rng.choice(starts)) + rng.randrange(48)
        else:
            at = rng.randrange(len(buf))
        buf[min(at, len(buf) - 1)] = rng.choice((0, 0xFF, rng.randrange(256)))
    if rng.random() < 0.3:
        del buf[rng.randrange(len(buf)):]
    return bytes(buf)


def test_the_kernel_agrees_with_its_numpy_twin_on_damaged_packets(dv_capture):
    _, packets = split_stream(dv_capture.read_bytes())
    rng = random.Random(7)
    statuses = set()
    for _ in range(400):
        start = rng.randrange(len(packets))
        body = _damage(packets[start:start + rng.randint(1, 4)], rng)
        capacity = rng.choice((1, 500, 5000, 1 << 16))  # small outputs: SCAN_OUTPUT_FULL too
        width, height = rng.choice(((320, 240), (100, 80)))  # a smaller sensor drops events
        got = _scan(kernel.scan_packets, body, capacity, width, height)
        want = _scan(codec.scan_packets_reference, body, capacity, width, height)
        assert got[0] == want[0]
        assert np.array_equal(got[1], want[1])
        statuses.add(got[0][0])
    # the damage reached the checks that matter, not only the happy path
    assert {codec.SCAN_NEED_MORE, codec.SCAN_OUTPUT_FULL, codec.SCAN_BAD_SIZE, codec.SCAN_OTHER_STREAM,
            codec.SCAN_BAD_PREFIX, codec.SCAN_BAD_IDENTIFIER, codec.SCAN_BAD_LAYOUT} <= statuses, statuses


@pytest.mark.parametrize("size", [-1, 0, codec.MAX_PACKET_BYTES + 1, 2**31 - 1])
def test_an_impossible_packet_size_is_refused_before_anything_is_read(size):
    body = np.int32([0, size]).tobytes()
    for scan in (kernel.scan_packets, codec.scan_packets_reference):
        (status, detail, pos, n_out, _), _ = _scan(scan, body, 16)
        assert (status, detail, pos, n_out) == (codec.SCAN_BAD_SIZE, size, 0, 0)


def test_damaged_stream_headers_raise_peer_error_and_nothing_else(dv_capture):
    header, _ = split_stream(dv_capture.read_bytes())
    rng = random.Random(3)
    refused = 0
    for _ in range(600):
        damaged = bytearray(header[4:])
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.2:
            del damaged[rng.randrange(len(damaged)):]
        try:
            codec.parse_stream_description(*codec.parse_io_header(bytes(damaged)))
        except codec.PeerError:
            refused += 1
    assert refused > 100


@pytest.mark.parametrize("size", [0, 7, codec.MAX_IO_HEADER_BYTES + 1, 2**31 - 1])
def test_an_impossible_header_size_is_refused(size):
    with pytest.raises(codec.PeerError, match=f"declares {size} bytes"):
        codec.check_header_size(size)
