"""Whole-file reads keep numpy's transparent-huge-page hint on bare metal and leave it
out where the kernel reports free pages to a hypervisor (there a 2 MB fault costs about
2 ms); checked against the kernel's own account of each mapping in ``/proc/self/smaps``,
and the detection against sysfs trees laid out as the kernel lays them out."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ezsr_live import host_memory
from ezsr_live.drivers import open_reader, open_writer
from ezsr_live.events import EVENT_DTYPE, Geometry, make_events, whole_file_buffer

THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _thp_mode() -> str | None:
    try:
        text = THP_MODE.read_text()
    except OSError:
        return None
    return text[text.index("[") + 1:text.index("]")] if "[" in text else None


def _huge_page_eligible(array: np.ndarray) -> bool:
    """The kernel's THPeligible flag of the mapping 1 MB into ``array``'s data (numpy's
    hint skips the allocation's first page, which is a mapping of its own)."""
    address = array.ctypes.data + (1 << 20)
    inside = False
    with open("/proc/self/smaps", encoding="ascii", errors="replace") as fh:
        for line in fh:
            head = line.split(maxsplit=1)[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(v, 16) for v in head.split("-"))
                inside = lo <= address < hi
            elif inside and head == "THPeligible:":
                return line.split()[1] == "1"
    raise AssertionError("no mapping holds the array")


needs_madvise_mode = pytest.mark.skipif(_thp_mode() != "madvise",
                                        reason="transparent huge pages are not in madvise mode here")


@pytest.fixture(params=[True, False], ids=["host-reports-free-pages", "bare-metal"])
def reporting(request, monkeypatch) -> bool:
    monkeypatch.setattr(host_memory, "free_pages_go_to_host", lambda: request.param)
    return request.param


@needs_madvise_mode
def test_the_buffer_is_hinted_unless_free_pages_go_to_the_host(reporting):
    plain = np.empty(4_000_000, EVENT_DTYPE)  # 52 MB: numpy hints every allocation from 4 MB
    plain[:] = 0
    ours = whole_file_buffer(4_000_000)
    ours[:] = 0
    assert _huge_page_eligible(plain)  # the check sees the hint where numpy gives it
    assert _huge_page_eligible(ours) is not reporting


def _balloon(root: Path, features: str, name: str = "virtio0", bound: bool = True) -> Path:
    device = root / "devices" / "pci0000:00" / "0000:00:01.0" / name
    device.mkdir(parents=True)
    (device / "features").write_text(features + "\n")
    driver = root / "bus" / "virtio" / "drivers" / "virtio_balloon"
    driver.mkdir(parents=True, exist_ok=True)
    (driver / "bind").write_text("")
    if bound:
        (driver / name).symlink_to(device)
    return root


# a Firecracker VM's balloon: stats queue, deflate on OOM, free page reporting (bit 5)
FIRECRACKER = "0110010100000000000000000000000010" + "0" * 94


@pytest.mark.parametrize(("features", "bound", "expected"), [
    (FIRECRACKER, True, True),
    ("0110000100000000000000000000000010" + "0" * 94, True, False),  # the same balloon, no reporting
    (FIRECRACKER, False, False),  # a device the driver does not hold
    ("01100", True, False),  # a feature string too short to say
], ids=["reporting", "no-reporting", "unbound", "short"])
def test_free_page_reporting_is_read_from_the_balloon_driver(tmp_path, features, bound, expected):
    assert host_memory.reports_free_pages(_balloon(tmp_path, features, bound=bound)) is expected


def test_no_balloon_or_an_unreadable_one_means_bare_metal(tmp_path):
    assert host_memory.reports_free_pages(tmp_path) is False  # no virtio bus at all
    root = _balloon(tmp_path / "vm", FIRECRACKER)
    (root / "devices" / "pci0000:00" / "0000:00:01.0" / "virtio0" / "features").unlink()
    assert host_memory.reports_free_pages(root) is False
    _balloon(tmp_path / "two", "0" * 128, name="virtio0")
    _balloon(tmp_path / "two", FIRECRACKER, name="virtio3")  # any balloon that reports counts
    assert host_memory.reports_free_pages(tmp_path / "two") is True


def test_the_hint_setting_is_restored_whatever_it_was():
    multiarray = np._core.multiarray
    before = multiarray._get_madvise_hugepage()
    try:
        for setting in (True, False):
            multiarray._set_madvise_hugepage(setting)
            buf = whole_file_buffer(10)
            assert buf.dtype == EVENT_DTYPE and len(buf) == 10
            assert multiarray._get_madvise_hugepage() is setting
        multiarray._set_madvise_hugepage(True)
        with pytest.raises((MemoryError, ValueError)):
            whole_file_buffer(1 << 62)  # refused by numpy: the setting must come back all the same
        assert multiarray._get_madvise_hugepage() is True
    finally:
        multiarray._set_madvise_hugepage(before)


@needs_madvise_mode
def test_read_all_of_a_raw_file_hints_its_buffer_unless_free_pages_go_to_the_host(tmp_path, reporting):
    n = 1_000_000
    rng = np.random.default_rng(0)
    events = make_events(np.sort(rng.integers(0, 5_000_000, n)), rng.integers(0, 640, n),
                         rng.integers(0, 480, n), rng.integers(0, 2, n))
    path = tmp_path / "big.raw"
    with open_writer(path, Geometry(640, 480)) as writer:
        writer.write(events)
    got = open_reader(path).read_all()
    np.testing.assert_array_equal(got, events)
    assert _huge_page_eligible(got) is not reporting
