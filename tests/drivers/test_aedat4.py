"""AEDAT 4 reader and writer (through dv-processing, in a watched child process)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.drivers.aedat4 import Aedat4Reader, Aedat4Writer
from ezsr_live.errors import FormatError
from ezsr_live.events import TRIGGER_DTYPE, Geometry, SourceInfo, make_events

from .formats_support import (
    REFERENCE_KEYS,
    assert_each_ends_in_packets_or_format_error,
    damaged_versions,
    read_chunks,
    reference_summary,
)

SAMPLE = "dvxplorer_320x240.aedat4"


def write_aedat4(path: Path, geometry: Geometry, packets: list[np.ndarray], info: SourceInfo | None = None,
                 triggers: np.ndarray | None = None) -> Path:
    with open_writer(path, geometry, info=info) as writer:
        for packet in packets:
            writer.write(packet)
        if triggers is not None:
            writer.write_triggers(triggers)
    return path


def test_sample_decodes_to_reference_values_camera_and_resolution(samples_dir: Path, reference: dict) -> None:
    reader = open_reader(samples_dir / SAMPLE)
    assert isinstance(reader, Aedat4Reader)
    events, triggers, _ = read_chunks(samples_dir / SAMPLE)
    ref = reference[SAMPLE]
    assert reference_summary(events) == {k: ref[k] for k in REFERENCE_KEYS}
    assert reader.info.camera == ref["camera"]
    assert [reader.geometry.width, reader.geometry.height] == ref["resolution"]
    assert reader.info.header["streams"] == ref["streams"]  # imu and triggers are skipped
    assert len(triggers) == 0  # the sample's trigger stream is empty


def test_small_chunks_give_the_same_events_and_iterating_again_restarts(samples_dir: Path) -> None:
    reader = open_reader(samples_dir / SAMPLE, chunk_events=500)
    sizes = [len(chunk.events) for chunk in reader.iter_chunks()]
    assert max(sizes) <= 500 and sum(sizes) == 111954
    first = reader.read_all()
    np.testing.assert_array_equal(reader.read_all(), first)


@pytest.mark.parametrize("estimate", [None, 1_000])
def test_read_all_decodes_in_place_and_matches_the_chunks(
        samples_dir: Path, monkeypatch: pytest.MonkeyPatch, estimate: int | None) -> None:
    chunked, _, _ = read_chunks(samples_dir / SAMPLE, chunk_events=7_000)
    if estimate is not None:  # more events than estimated: decoded in parts, then joined
        monkeypatch.setattr(Aedat4Reader, "estimated_events", lambda self: estimate)
    reader = open_reader(samples_dir / SAMPLE, geometry=Geometry(300, 240))
    events = reader.read_all()
    inside = (chunked["x"] < 300)
    np.testing.assert_array_equal(events, chunked[inside])
    assert events.flags.owndata and reader.stats.out_of_bounds == int((~inside).sum())


def test_explicit_smaller_geometry_drops_and_counts(samples_dir: Path) -> None:
    reader = open_reader(samples_dir / SAMPLE, geometry=Geometry(160, 240))
    events = reader.read_all()
    assert int(events["x"].max()) < 160
    assert len(events) + reader.stats.out_of_bounds == 111954 and reader.stats.out_of_bounds > 0


@pytest.mark.parametrize("name", [SAMPLE, "nmnist_sample.bin", "ncars_sample.dat"])
def test_samples_round_trip_through_the_writer(samples_dir: Path, tmp_path: Path, name: str) -> None:
    source = open_reader(samples_dir / name)
    events = source.read_all()
    events = events[np.argsort(events["t"], kind="stable")]  # .aedat4 needs time order
    path = write_aedat4(tmp_path / "rt.aedat4", source.geometry,
                        [events[i:i + 30_000] for i in range(0, len(events), 30_000)], info=source.info)
    reader = open_reader(path)
    np.testing.assert_array_equal(reader.read_all(), events)
    assert reader.geometry == source.geometry
    assert reader.info.camera == (source.info.camera or "ezsr-live")


def test_triggers_round_trip_beside_events(tmp_path: Path) -> None:
    events = make_events(np.arange(0, 10_000, 10), np.arange(1000) % 32, np.arange(1000) % 24, np.arange(1000) % 2)
    triggers = np.array([(5, 0, 1), (2_000, 0, 0), (2_500, 1, 1), (9_000, 1, 0)], dtype=TRIGGER_DTYPE)
    path = write_aedat4(tmp_path / "tr.aedat4", Geometry(32, 24), [events], triggers=triggers)
    read_events, read_triggers, _ = read_chunks(path)
    np.testing.assert_array_equal(read_events, events)
    np.testing.assert_array_equal(read_triggers, triggers)


@st.composite
def sorted_packets(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    n = draw(st.integers(1, 400))
    start = draw(st.integers(0, 2**53))
    steps = draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n))
    x = draw(st.lists(st.integers(0, 639), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(0, 479), min_size=n, max_size=n))
    p = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(start + np.cumsum(steps), x, y, p), draw(st.integers(0, n))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=sorted_packets())
def test_any_time_ordered_packet_round_trips(tmp_path: Path, case: tuple[np.ndarray, int]) -> None:
    events, cut = case
    path = write_aedat4(tmp_path / "h.aedat4", Geometry(640, 480), [events[:cut], events[cut:]])
    np.testing.assert_array_equal(open_reader(path).read_all(), events)


def test_writer_refuses_time_going_back_within_and_across_packets(tmp_path: Path) -> None:
    with Aedat4Writer(tmp_path / "w.aedat4", Geometry(8, 8)) as writer:
        with pytest.raises(FormatError, match="back in time at index 2"):
            writer.write(make_events([1, 5, 3], [0, 0, 0], [0, 0, 0], [1, 1, 1]))
        writer.write(make_events([10, 20], [0, 1], [0, 1], [0, 1]))
        with pytest.raises(FormatError, match="across packets"):
            writer.write(make_events([19], [0], [0], [0]))
        assert writer.n_written == 2


def test_writer_uses_the_default_camera_name_without_source_info(tmp_path: Path) -> None:
    path = write_aedat4(tmp_path / "c.aedat4", Geometry(4, 4), [make_events([1], [1], [1], [1])])
    assert open_reader(path).info.camera == "ezsr-live"


@pytest.mark.parametrize("blob, problem", [
    (b"#!AER-DAT2.0\r\n" + bytes(64), "not an AEDAT 4.0"),
    (b"#!AER-DAT4.0\r\n\x05", "ends before the IOHeader"),
    (b"#!AER-DAT4.0\r\n\xff\xff\xff\x7f" + bytes(16), "IOHeader size"),
])
def test_files_that_are_not_aedat4_fail_at_open(tmp_path: Path, blob: bytes, problem: str) -> None:
    path = tmp_path / "bad.aedat4"
    path.write_bytes(blob)
    with pytest.raises(FormatError, match=problem):
        open_reader(path)


def test_truncated_and_misframed_samples_fail_at_open_with_an_offset(samples_dir: Path, tmp_path: Path) -> None:
    data = (samples_dir / SAMPLE).read_bytes()
    rng = np.random.default_rng(21)
    path = tmp_path / "t.aedat4"
    for k in range(200):
        buf = bytearray(data)
        if k % 2:
            cut = int(rng.integers(0, len(data)))
            buf = buf[:cut]
        else:  # delete a few bytes: every later packet header is misaligned
            i = int(rng.integers(2400, len(data) - 4096))
            del buf[i:i + int(rng.integers(1, 9))]
        path.write_bytes(bytes(buf))
        with pytest.raises(FormatError) as err:
            open_reader(path)
        assert str(path) in str(err.value)


def test_damaged_packet_payloads_end_in_packets_or_format_error(samples_dir: Path, tmp_path: Path) -> None:
    data = (samples_dir / SAMPLE).read_bytes()
    # a byte known to send dv-processing 2.0.4 into an endless loop in an LZ4 packet
    spinning = bytearray(data)
    spinning[164061] = 150
    cases = [("dv-spins@164061", bytes(spinning))]
    cases += [c for c in damaged_versions(data, 22, 10) if c[0].startswith(("damage1", "damage2"))]
    outcomes = assert_each_ends_in_packets_or_format_error(iter(cases), tmp_path / "case.aedat4")
    assert outcomes["format_error"] >= 1


# --- the in-process decoder against dv-processing and the peers -------------------

def _dv_in_process(path: Path) -> np.ndarray:
    """dv-processing's own decode of the events stream, in file order, as our dtype."""
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    parts = []
    while (batch := recording.getNextEventBatch()) is not None:
        parts.append(batch.numpy())
    records = np.concatenate(parts)
    return make_events(records["timestamp"], records["x"], records["y"], records["polarity"])


def _written_sample(samples_dir: Path, tmp_path: Path, compression: str = "LZ4") -> tuple[Path, np.ndarray]:
    """The sample's events, time-sorted, written by dv-processing with ``compression``."""
    import dv_processing as dv

    events = open_reader(samples_dir / SAMPLE).read_all()
    events = events[np.argsort(events["t"], kind="stable")]
    config = dv.io.MonoCameraWriter.EventOnlyConfig("agree", (320, 240))
    config.compression = getattr(dv.CompressionType, compression)
    path = tmp_path / f"agree_{compression}.aedat4"
    writer = dv.io.MonoCameraWriter(str(path), config)
    store = dv.EventStore()
    for t, x, y, p in zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(), events["p"].tolist()):
        store.push_back(t, x, y, bool(p))
    writer.writeEvents(store)
    del writer
    return path, events


def test_in_process_decoder_agrees_with_dv_processing_on_the_sample(samples_dir: Path) -> None:
    np.testing.assert_array_equal(open_reader(samples_dir / SAMPLE).read_all(), _dv_in_process(samples_dir / SAMPLE))


@pytest.mark.parametrize("compression", ["LZ4", "LZ4_HIGH", "NONE", "ZSTD"])
def test_in_process_decoder_agrees_with_dv_processing_on_written_files(
        samples_dir: Path, tmp_path: Path, compression: str) -> None:
    # ZSTD goes through the dv-processing child process (the only non-LZ4 path)
    path, events = _written_sample(samples_dir, tmp_path, compression)
    reader = open_reader(path, chunk_events=7_000)
    got = reader.read_all()
    np.testing.assert_array_equal(got, _dv_in_process(path))
    np.testing.assert_array_equal(got, events)
    assert reader.info.camera == "agree" and reader.geometry == Geometry(320, 240)


def test_peer_decoders_agree_event_for_event(samples_dir: Path, tmp_path: Path) -> None:
    ours_by_file = {p: open_reader(p).read_all() for p in
                    (samples_dir / SAMPLE, _written_sample(samples_dir, tmp_path)[0])}
    checked = 0
    try:
        import aedat  # type: ignore[import-not-found]
    except ImportError:
        aedat = None
    try:
        import faery  # type: ignore[import-not-found]
    except ImportError:
        faery = None
    for path, ours in ours_by_file.items():
        if aedat is not None:
            got = np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if "events" in p])
            np.testing.assert_array_equal(
                make_events(got["t"].view(np.int64), got["x"], got["y"], got["on"]), ours)
            checked += 1
        if faery is not None:
            got = np.concatenate(list(faery.events_stream_from_file(str(path))))
            np.testing.assert_array_equal(make_events(got["t"], got["x"], got["y"], got["on"]), ours)
            checked += 1
    if not checked:
        pytest.skip("neither aedat nor faery is installed")


def _replace_packet_size(data: bytes, index: int, new_size: int) -> tuple[bytes, int]:
    """``data`` with the size field of its ``index``-th packet replaced; and that packet's offset."""
    import struct

    offset = 14 + 4 + struct.unpack_from("<i", data, 14)[0]
    for _ in range(index):
        offset += 8 + struct.unpack_from("<i", data, offset + 4)[0]
    buf = bytearray(data)
    struct.pack_into("<i", buf, offset + 4, new_size)
    return bytes(buf), offset


@pytest.mark.parametrize("new_size", [2**31 - 1, 0, -5, 12])
def test_hostile_packet_sizes_fail_at_open_naming_the_packet_offset(
        samples_dir: Path, tmp_path: Path, new_size: int) -> None:
    blob, offset = _replace_packet_size((samples_dir / SAMPLE).read_bytes(), 3, new_size)
    path = tmp_path / "size.aedat4"
    path.write_bytes(blob)
    with pytest.raises(FormatError) as err:
        open_reader(path)
    assert str(path) in str(err.value) and "byte offset" in str(err.value)
    if new_size != 12:  # a smaller size misframes: the next "header" is the one refused
        assert f"byte offset {offset})" in str(err.value)


def test_damaged_lz4_payload_is_a_format_error_with_the_packet_offset(samples_dir: Path, tmp_path: Path) -> None:
    import struct

    data = bytearray((samples_dir / SAMPLE).read_bytes())
    offset = 14 + 4 + struct.unpack_from("<i", data, 14)[0]
    data[offset + 8:offset + 12] = b"\0\0\0\0"  # the first packet's LZ4 magic number
    path = tmp_path / "lz4.aedat4"
    path.write_bytes(bytes(data))
    reader = open_reader(path)  # the framing is intact: the damage shows when decoding
    with pytest.raises(FormatError, match="LZ4 frame lacks its magic") as err:
        reader.read_all()
    assert str(offset) in str(err.value)


def test_a_dtd_in_the_stream_description_is_refused(samples_dir: Path, tmp_path: Path) -> None:
    data = (samples_dir / SAMPLE).read_bytes()
    at = data.index(b"<dv version")
    blob = data[:at] + b"<!DOCTYPE" + data[at + 9:]  # same length: the framing stays intact
    path = tmp_path / "dtd.aedat4"
    path.write_bytes(blob)
    with pytest.raises(FormatError, match="DTD"):
        open_reader(path)


def test_a_recording_that_cannot_be_created_is_one_line_without_dvs_stack_trace(tmp_path):
    from ezsr_live.drivers import open_writer
    from ezsr_live.errors import EzsrError
    from ezsr_live.events import Geometry

    with pytest.raises(EzsrError) as missing:
        open_writer(tmp_path / "no" / "such" / "clip.aedat4", Geometry(346, 260))
    assert "the folder" in str(missing.value) and "does not exist" in str(missing.value)
    with pytest.raises(EzsrError) as refused:
        open_writer("/proc/clip.aedat4", Geometry(346, 260))  # a folder nobody may create files in
    text = str(refused.value)
    assert "dv-processing cannot create it" in text and "\n" not in text and "Stacktrace" not in text
