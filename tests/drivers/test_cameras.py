"""Camera adapters. We have no cameras: the dv-processing camera module and the
Metavision SDK are replaced by STAND-INS (named as such) that mimic their documented APIs;
everything after the device call is the real adapter code."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ezsr_live.drivers import metavision_camera
from ezsr_live.drivers.dv_camera import DvCameraSource
from ezsr_live.drivers.metavision_camera import MetavisionCameraSource
from ezsr_live.drivers.sources import known_camera_names, open_source
from ezsr_live.errors import SourceError

from . import standin_metavision_sdk_stream as standin_mv


# --------------------------------------------------------------------------- dv stand-in
class StandInEventStore:
    """Mimics dv.EventStore's numpy()/size() (dv's own dtype: timestamp, x, y, polarity)."""

    DTYPE = np.dtype([("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "i1")])

    def __init__(self, t, x, y, p):
        self._a = np.zeros(len(t), self.DTYPE)
        self._a["timestamp"], self._a["x"], self._a["y"], self._a["polarity"] = t, x, y, p

    def numpy(self):
        return self._a

    def size(self):
        return len(self._a)


class StandInDescriptor:
    def __init__(self, model, serial):
        self.cameraModel, self.serialNumber = model, serial


class StandInDvCamera:
    def __init__(self, batches, resolution):
        self.batches, self.resolution, self.running = list(batches), resolution, True

    def isEventStreamAvailable(self):
        return True

    def getEventResolution(self):
        return self.resolution

    def getCameraName(self):
        return "DAVIS346_00000499"

    def getNextEventBatch(self):
        if self.batches:
            return self.batches.pop(0)
        self.running = False  # unplugged after the last batch
        return None

    def isRunning(self):
        return self.running


class StandInDvCameraModule:
    """STAND-IN for dv_processing.io.camera: discover() and open(serial)."""

    def __init__(self, devices, cameras):
        self.devices, self.cameras, self.opened = devices, cameras, []

    def discover(self):
        return self.devices

    def open(self, serial):
        self.opened.append(serial)
        return self.cameras[serial]


def _batches():
    rng = np.random.default_rng(0)
    out = []
    for k in range(5):
        n = 1000
        t = np.sort(rng.integers(k * 10_000, (k + 1) * 10_000, n))
        x, y = rng.integers(0, 346, n), rng.integers(0, 260, n)
        x[0] = 400  # a misbehaving device: out of the sensor, must be dropped
        out.append(StandInEventStore(t, x, y, rng.integers(0, 2, n)))
    return out


def test_davis346_is_found_opened_and_converted():
    batches = _batches()
    module = StandInDvCameraModule(
        [StandInDescriptor("DVXplorer", "DXA001"), StandInDescriptor("DAVIS346", "00000499")],
        {"00000499": StandInDvCamera(batches, (346, 260))},
    )
    source = open_source("davis346", camera_module=module)
    assert isinstance(source, DvCameraSource)
    assert module.opened == ["00000499"]
    assert (source.geometry.width, source.geometry.height) == (346, 260)
    assert source.info.serial == "00000499"
    got = np.concatenate(list(source))
    expected = np.concatenate([b.numpy() for b in batches])
    inside = expected["x"] < 346
    assert np.array_equal(got["t"], expected["timestamp"][inside])
    assert np.array_equal(got["x"], expected["x"][inside])
    assert np.array_equal(got["p"], expected["polarity"][inside])
    assert source.out_of_bounds == 5
    assert source.status == "ended: camera disconnected"


def test_a_serial_number_selects_that_camera():
    module = StandInDvCameraModule(
        [StandInDescriptor("DAVIS346", "A1"), StandInDescriptor("DAVIS346", "B2")],
        {"B2": StandInDvCamera([], (346, 260)), "A1": StandInDvCamera([], (346, 260))},
    )
    open_source("B2", camera_module=module)
    assert module.opened == ["B2"]


def test_no_matching_camera_lists_what_was_found():
    module = StandInDvCameraModule([StandInDescriptor("DVXplorer", "DXA001")], {})
    with pytest.raises(SourceError, match=r"'davis346'.*DAVIS346.*found: DVXplorer \(serial DXA001\)"):
        open_source("davis346", camera_module=module)


def test_cli_without_any_camera_exits_2_quickly_naming_the_search():
    proc = subprocess.run(  # a hang would end in TimeoutExpired, failing the test
        [sys.executable, "-m", "ezsr_live.cli.live", "--camera", "davis346", "--headless"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert "davis346" in proc.stderr and "discover()" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_known_camera_names_cover_both_families():
    names = known_camera_names()
    for n in ("davis346", "davis", "dvxplorer", "dvs128", "prophesee", "evk4"):
        assert n in names


# --------------------------------------------------------------------- metavision stand-in
@pytest.fixture
def mv_sdk():
    standin_mv.unplug_all()
    yield standin_mv
    standin_mv.unplug_all()


def _mv_slices(n_slices=4, n=500):
    rng = np.random.default_rng(1)
    slices = []
    for k in range(n_slices):
        ev = np.zeros(n, standin_mv.EVENT_CD)
        ev["t"] = np.sort(rng.integers(k * 1000, (k + 1) * 1000, n))
        ev["x"], ev["y"], ev["p"] = rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n)
        slices.append(ev)
    return slices


def test_prophesee_first_available_camera_is_converted(mv_sdk):
    slices = _mv_slices()
    mv_sdk.plug("P0001", 1280, 720, slices)
    source = MetavisionCameraSource("prophesee", sdk=mv_sdk)
    got = np.concatenate(list(source))
    expected = np.concatenate(slices)
    assert (source.geometry.width, source.geometry.height) == (1280, 720)
    for ours, theirs in (("t", "t"), ("x", "x"), ("y", "y"), ("p", "p")):
        assert np.array_equal(got[ours], expected[theirs])
    assert got.dtype.names == ("t", "x", "y", "p")
    assert source.status == "ended: camera stream ended"


def test_prophesee_serial_selects_and_unplugging_ends_cleanly(mv_sdk):
    mv_sdk.plug("P0001", 640, 480, _mv_slices())
    mv_sdk.plug("P0002", 1280, 720, _mv_slices(), fail_after=2)
    source = MetavisionCameraSource("prophesee:P0002", sdk=mv_sdk)
    assert source.geometry.width == 1280
    got = list(source)
    assert len(got) == 2
    assert source.status.startswith("ended: camera error (device disconnected")


def test_prophesee_without_camera_is_a_source_error(mv_sdk):
    with pytest.raises(SourceError, match="no Prophesee camera"):
        MetavisionCameraSource("prophesee", sdk=mv_sdk)


def test_without_the_metavision_sdk_the_user_is_told_how_to_install_it(monkeypatch):
    monkeypatch.setattr(metavision_camera, "SDK_MODULE", "metavision_sdk_stream_not_installed_here")
    with pytest.raises(SourceError, match="Metavision SDK is not installed.*OpenEB"):
        open_source("evk4")


def test_cli_prophesee_without_sdk_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "ezsr_live.cli.live", "--camera", "prophesee", "--headless"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 2
    assert "OpenEB" in proc.stderr and "Traceback" not in proc.stderr
