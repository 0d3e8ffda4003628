"""Whole-file reads allocate without numpy's transparent-huge-page hint (whose 2 MB
faults stall in compaction under the kernel's default ``defrag=madvise``); checked
against the kernel's own account of each mapping in ``/proc/self/smaps``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


@needs_madvise_mode
def test_the_buffer_is_not_hinted_while_a_plain_numpy_array_is():
    plain = np.empty(4_000_000, EVENT_DTYPE)  # 52 MB: numpy hints every allocation from 4 MB
    plain[:] = 0
    ours = whole_file_buffer(4_000_000)
    ours[:] = 0
    assert _huge_page_eligible(plain)  # the check sees the hint where numpy gives it
    assert not _huge_page_eligible(ours)


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
def test_read_all_of_a_raw_file_decodes_into_an_unhinted_buffer(tmp_path):
    n = 1_000_000
    rng = np.random.default_rng(0)
    events = make_events(np.sort(rng.integers(0, 5_000_000, n)), rng.integers(0, 640, n),
                         rng.integers(0, 480, n), rng.integers(0, 2, n))
    path = tmp_path / "big.raw"
    with open_writer(path, Geometry(640, 480)) as writer:
        writer.write(events)
    got = open_reader(path).read_all()
    np.testing.assert_array_equal(got, events)
    assert not _huge_page_eligible(got)
