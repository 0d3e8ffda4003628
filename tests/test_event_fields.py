"""Arrays from outside enter by field NAME: tonic's x, y, t, p order, reversed
orders and extra fields give exactly the events of the real recording, in every public
kernel, window iterator, writer and recorder; arrays that cannot be read by name are
refused with one line saying what is wrong."""
from __future__ import annotations

import numpy as np
import pytest

from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.errors import EventArrayError, EzsrError
from ezsr_live.events import EVENT_DTYPE, Geometry, as_event_packet, make_events
from ezsr_live.kernels import (
    SCHEMES,
    DisplayAccumulator,
    display_frame,
    ezsr_histogram,
    ezsr_model_input,
    ezsr_model_input_batch,
    render_scheme,
    time_surface,
    voxel_grid,
)
from ezsr_live.runtime.recorder import Recorder
from ezsr_live.runtime.ring import EventRingBuffer
from ezsr_live.windows import WindowSpec, iter_windows

GEOMETRY = Geometry(640, 480)

#: tonic's structured dtype for its event datasets (tonic.datasets: x, y, t, p as int64);
#: N-ImageNet's event_data has the same order with u2/i8/bool
TONIC_DTYPE = np.dtype([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
REVERSED_DTYPE = np.dtype([("p", "i1"), ("y", "<u2"), ("x", "<u2"), ("t", "<i8")])
#: extra fields around ours, as a user's own array might carry them
EXTRA_DTYPE = np.dtype([("label", "<i4"), ("x", "<u4"), ("t", "<u8"), ("weight", "<f4"), ("y", "<u4"),
                        ("p", "?")])


@pytest.fixture(scope="module")
def events(samples_dir) -> np.ndarray:
    """30,000 events of the real Gen3 recording (640x480), both polarities."""
    with open_reader(samples_dir / "evt2_gen3_640x480.raw") as reader:
        packet = reader.read_all()[:30_000]
    assert 0 < np.count_nonzero(packet["p"]) < len(packet)
    return packet


def _as(events: np.ndarray, dtype: np.dtype, *, minus_one_off: bool = False) -> np.ndarray:
    out = np.zeros(len(events), dtype)
    for name in "txy":
        out[name] = events[name]
    out["p"] = np.where(events["p"] == 1, 1, -1) if minus_one_off else events["p"]
    return out


def foreign_arrays(events: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "tonic x,y,t,p": _as(events, TONIC_DTYPE),
        "tonic -1/1 polarity": _as(events, TONIC_DTYPE, minus_one_off=True),
        "reversed p,y,x,t": _as(events, REVERSED_DTYPE),
        "extra fields": _as(events, EXTRA_DTYPE),
    }


def test_foreign_field_orders_convert_to_the_same_packet(events):
    for name, array in foreign_arrays(events).items():
        packet = as_event_packet(array)
        assert packet.dtype == EVENT_DTYPE, name
        assert packet.tobytes() == events.tobytes(), name


def test_a_packet_of_ours_passes_through_without_a_copy(events):
    assert as_event_packet(events) is events
    view = events[5:100]
    assert as_event_packet(view) is view


KERNELS = {
    "ezsr_histogram": lambda ev: ezsr_histogram(ev, GEOMETRY),
    "ezsr_histogram direct": lambda ev: ezsr_histogram(ev, GEOMETRY, direct_size=224),
    "ezsr_model_input": lambda ev: ezsr_model_input(ev, GEOMETRY, size=64),
    "ezsr_model_input direct": lambda ev: ezsr_model_input(ev, GEOMETRY, size=64, coords="direct"),
    "ezsr_model_input_batch": lambda ev: ezsr_model_input_batch([ev[:10_000], ev[10_000:]], GEOMETRY, size=64).numpy(),
    "display_frame": lambda ev: display_frame(ev, GEOMETRY, decay_us=5_000.0),
    "DisplayAccumulator": lambda ev: _accumulate(ev),
    "time_surface": lambda ev: time_surface(ev, GEOMETRY, tau_us=10_000.0),
    **{f"render_scheme {name}": (lambda ev, name=name: render_scheme(ev, GEOMETRY, name, decay_us=5_000.0))
       for name in SCHEMES},
    "voxel_grid": lambda ev: voxel_grid(ev, GEOMETRY, 5),
}


def _accumulate(ev: np.ndarray) -> np.ndarray:
    acc = DisplayAccumulator(GEOMETRY, decay_us=5_000.0)
    acc.add(ev[:15_000])
    acc.add(ev[15_000:])
    return acc.render()


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_every_public_kernel_gives_identical_results_in_any_field_order(events, kernel):
    run = KERNELS[kernel]
    expected = run(events)
    assert np.count_nonzero(expected) > 100  # the window really lands on the sensor
    for name, array in foreign_arrays(events).items():
        np.testing.assert_array_equal(run(array), expected, err_msg=f"{kernel} on {name}")


def test_window_iterators_and_the_ring_buffer_read_fields_by_name(events):
    tonic = _as(events, TONIC_DTYPE)
    for spec in (WindowSpec.by_events(7_000), WindowSpec.by_time_ms(0.5)):
        ours = [w.events.tobytes() for w in iter_windows(events, spec)]
        assert len(ours) >= 3
        assert [w.events.tobytes() for w in iter_windows(tonic, spec)] == ours
        packets = [tonic[i:i + 4_096] for i in range(0, len(tonic), 4_096)]
        assert [w.events.tobytes() for w in iter_windows(packets, spec)] == ours
    ring = EventRingBuffer(50_000)
    ring.push(tonic)
    assert ring.newest(WindowSpec.by_events(12_000)).events.tobytes() == events[-12_000:].tobytes()


@pytest.mark.parametrize("suffix", [".raw", ".evt2.raw", ".npz", ".aedat4"])
def test_writers_store_foreign_arrays_by_field_name(samples_dir, tmp_path, suffix):
    with open_reader(samples_dir / "nmnist_sample.bin") as reader:
        original = reader.read_all()
        geometry = reader.geometry
    original = original[np.argsort(original["t"], kind="stable")]  # .aedat4 needs monotonic time
    out = tmp_path / f"tonic{suffix}"
    with open_writer(out, geometry) as writer:
        writer.write(_as(original, TONIC_DTYPE, minus_one_off=True))
    with open_reader(out) as reader:
        back = reader.read_all()
    for name in "txyp":
        np.testing.assert_array_equal(back[name], original[name], err_msg=f"{suffix}: {name}")


def test_recorder_converts_by_name_and_refuses_bad_arrays_in_the_callers_thread(events, tmp_path):
    path = tmp_path / "rec.evt2.raw"
    with Recorder(path, GEOMETRY) as recorder:
        recorder.write(_as(events, REVERSED_DTYPE))
        with pytest.raises(EventArrayError, match=f"{path}: lacks field t"):
            recorder.write(np.zeros(3, [("x", "<u2"), ("y", "<u2"), ("p", "i1")]))
    with open_reader(path) as reader:
        assert reader.read_all().tobytes() == events.tobytes()


def test_spellings_of_dv_processing_and_column_mappings_are_accepted(events):
    dv = np.zeros(len(events), [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "u1")])
    dv["timestamp"], dv["x"], dv["y"], dv["polarity"] = events["t"], events["x"], events["y"], events["p"]
    assert as_event_packet(dv).tobytes() == events.tobytes()
    spikingjelly = {"t": events["t"].astype(">u4"), "x": events["x"].astype("<u4"),
                    "y": events["y"].astype("<u4"), "p": events["p"].astype("<i8")}
    assert as_event_packet(spikingjelly).tobytes() == events.tobytes()
    exact_floats = _as(events, np.dtype([("t", "<f8"), ("x", "<f4"), ("y", "<f4"), ("p", "<f4")]))
    assert as_event_packet(exact_floats).tobytes() == events.tobytes()


def _structured(**columns) -> np.ndarray:
    out = np.zeros(len(next(iter(columns.values()))), [(k, np.asarray(v).dtype) for k, v in columns.items()])
    for k, v in columns.items():
        out[k] = v
    return out


@pytest.mark.parametrize("array, message", [
    (_structured(x=[1, 2], y=[1, 2], t=[5, 6]), r"tonic\.npy: lacks field p \(has fields x, y, t\)"),
    (_structured(x=[1], y=[1]), r"lacks fields t, p"),
    (np.zeros((10, 4), np.int64), r"plain int64 array of shape \(10, 4\).*column order"),
    (_structured(t=[1], timestamp=[1], x=[1], y=[1], p=[1]), r"both t and timestamp"),
    (_structured(t=[0.5, 1.0], x=[1, 2], y=[1, 2], p=[1, 0]), r"t holds non-integer values such as 0\.5.*microseconds"),
    (_structured(t=[1, 2], x=[-1, 2], y=[1, 2], p=[1, 0]), r"x holds values from -1 to 2, outside 0\.\.65535"),
    (_structured(t=[1, 2], x=[1, 2], y=[1, 70_000], p=[1, 0]), r"y holds values from 1 to 70000"),
    (_structured(t=[1, 2], x=[1.5, 2], y=[1, 2], p=[1, 0]), r"x holds non-integer values"),
    (_structured(t=[1, 2], x=[1, 2], y=[1, 2], p=[1, 2]), r"p holds 2; polarity must be 1 \(ON\) or 0 / -1"),
    (_structured(t=np.array([2**63], np.uint64), x=[1], y=[1], p=[1]), r"t holds values .* outside"),
    (_structured(t=[np.nan], x=[1], y=[1], p=[1]), r"t holds NaN"),
    (np.zeros((2, 3), EVENT_DTYPE.descr), r"1-D array of events, got shape \(2, 3\)"),
])
def test_arrays_that_cannot_be_read_by_name_are_refused_in_one_line(array, message):
    with pytest.raises(EventArrayError, match=message) as info:
        as_event_packet(array, source="tonic.npy")
    assert isinstance(info.value, EzsrError) and "\n" not in str(info.value)
    # the kernels say the same (their source is "events")
    with pytest.raises(EventArrayError, match=message.replace(r"tonic\.npy", "events")):
        ezsr_histogram(array, GEOMETRY)


def test_make_events_maps_minus_one_to_off_and_checks_ranges():
    packet = make_events([1, 2, 3], [4, 5, 6], 7, [-1, 1, 0])
    assert packet["p"].tolist() == [0, 1, 0] and packet["y"].tolist() == [7, 7, 7]
    with pytest.raises(EventArrayError, match="x holds values from -3"):
        make_events([1], [-3], [0], [1])
