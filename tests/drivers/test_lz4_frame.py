"""LZ4 frames of AEDAT 4 packets: the numba kernel (LZ4's safe decoder called in place)
and the block-by-block Python path decode what python-lz4's frame encoder wrote, and
refuse damaged frames with a PacketError."""
from __future__ import annotations

from pathlib import Path

import lz4.frame
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ezsr_live.drivers._lz4_frame import (
    HAVE_LZ4_KERNEL,
    MAX_PACKET_BYTES,
    PacketError,
    Scratch,
    lz4_frame_decode,
    lz4_frame_decode_blocks,
)

BLOCK_SIZES = [lz4.frame.BLOCKSIZE_MAX64KB, lz4.frame.BLOCKSIZE_MAX256KB, lz4.frame.BLOCKSIZE_MAX1MB]


def _decode_both(frame: bytes) -> list[bytes | str]:
    """What the kernel and the Python path make of ``frame``: bytes, or the error."""
    results: list[bytes | str] = []
    for decode in (lambda a, n, s: lz4_frame_decode(a, n, s), lambda a, n, s: lz4_frame_decode_blocks(
            memoryview(a)[:n], s)):
        out = Scratch(1 << 10)
        payload = np.frombuffer(frame, np.uint8)
        try:
            n = decode(payload, len(frame), out)
            results.append(out.array[:n].tobytes())
        except PacketError as exc:
            results.append(f"error: {exc}")
    return results


def _event_like(rng: np.random.Generator, n: int) -> bytes:
    """Bytes shaped like dv's event structs (compressible, as in real packets)."""
    records = np.zeros(n, [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("pad", "V3")])
    records["t"] = np.cumsum(rng.integers(0, 4, n)) + 1_605_537_493_718_345
    records["x"] = rng.integers(0, 320, n)
    records["y"] = rng.integers(0, 240, n)
    records["on"] = rng.integers(0, 2, n)
    return records.tobytes()


def test_the_kernel_path_is_the_one_in_use() -> None:
    # python-lz4's wheels export LZ4's symbols; losing them would silently cost speed
    assert HAVE_LZ4_KERNEL


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize("linked", [True, False])
@pytest.mark.parametrize("checksums", [True, False])
def test_frames_of_every_layout_decode_to_what_was_compressed(block_size: int, linked: bool, checksums: bool) -> None:
    rng = np.random.default_rng(block_size + linked)
    # event-like bytes, then random bytes (stored as uncompressed blocks), then zeros
    data = _event_like(rng, 40_000) + rng.bytes(300_000) + bytes(200_000)
    frame = lz4.frame.compress(data, block_size=block_size, block_linked=linked, content_checksum=checksums,
                               block_checksum=checksums, store_size=checksums)
    assert _decode_both(frame) == [data, data]


def test_an_empty_frame_decodes_to_nothing() -> None:
    assert _decode_both(lz4.frame.compress(b"")) == [b"", b""]


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), edits=st.integers(1, 4), cut=st.booleans())
def test_damaged_frames_give_the_same_answer_on_both_paths_or_an_error(seed: int, edits: int, cut: bool) -> None:
    rng = np.random.default_rng(seed)
    data = _event_like(rng, 9_000)
    frame = bytearray(lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, store_size=False))
    for _ in range(edits):
        frame[int(rng.integers(0, len(frame)))] = int(rng.integers(0, 256))
    if cut:
        del frame[int(rng.integers(0, len(frame))):]
    kernel, python = _decode_both(bytes(frame))
    if isinstance(kernel, bytes) and isinstance(python, bytes):
        assert kernel == python
    else:  # the same damage is refused by both (the wording may differ for corrupt blocks)
        assert isinstance(kernel, str) and isinstance(python, str)


@pytest.mark.parametrize(("frame", "message"), [
    (b"\x04\x22\x4d\x19\x40\x40\xc0", "lacks its magic"),
    (b"\x04\x22\x4d\x18\x40\x40", "lacks its magic"),  # too short
    (b"\x04\x22\x4d\x18\x43\x40\xc0\x00\x00\x00\x00", "descriptor is invalid"),  # dictID / reserved bits
    (b"\x04\x22\x4d\x18\x40\x30\xc0\x00\x00\x00\x00", "descriptor is invalid"),  # block size code 3
    (b"\x04\x22\x4d\x18\x40\x40\xc0\x00\x00", "no end mark"),
    (b"\x04\x22\x4d\x18\x40\x40\xc0\x05\x00\x00\x00\x10", "does not fit its frame"),
    (b"\x04\x22\x4d\x18\x40\x40\xc0\x00\x00\x00\x00\xff", "bytes follow"),
    (b"\x04\x22\x4d\x18\x40\x40\xc0\x02\x00\x00\x00\xff\xff\x00\x00\x00\x00", "corrupt"),
])
def test_malformed_frames_name_their_problem(frame: bytes, message: str) -> None:
    with pytest.raises(PacketError, match=message):
        lz4_frame_decode(np.frombuffer(frame, np.uint8), len(frame), Scratch(64))


def test_a_frame_declaring_more_blocks_than_the_packet_limit_is_refused_before_allocating() -> None:
    # 4 MB blocks, each block header claiming an empty compressed block: 65 blocks need
    # 260 MB of room, over the limit, in a frame of a few hundred bytes
    blocks = b"\x00\x00\x00\x80" * 65  # stored, 0 bytes each
    frame = b"\x04\x22\x4d\x18\x40\x70\xdf" + blocks + b"\x00\x00\x00\x00"
    assert 65 * (4 << 20) > MAX_PACKET_BYTES
    out = Scratch(64)
    with pytest.raises(PacketError, match="MiB"):
        lz4_frame_decode(np.frombuffer(frame, np.uint8), len(frame), out)
    assert len(out.array) == 64


def test_the_reader_gives_the_same_events_on_the_python_path(samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ezsr_live.drivers import _aedat4_decode, _lz4_frame, open_reader

    path = samples_dir / "dvxplorer_320x240.aedat4"
    kernel = open_reader(path, chunk_events=20_000).read_all()
    monkeypatch.setattr(_lz4_frame, "HAVE_LZ4_KERNEL", False)
    monkeypatch.setattr(_aedat4_decode, "HAVE_LZ4_KERNEL", False)
    python = open_reader(path, chunk_events=20_000).read_all()
    assert len(python) == 111_954
    np.testing.assert_array_equal(python, kernel)
