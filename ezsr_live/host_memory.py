"""Does this kernel give free memory back to a hypervisor? It decides how whole-file
reads allocate (:func:`ezsr_live.events.whole_file_buffer`).

With virtio-balloon *free page reporting* (Firecracker, QEMU ``free-page-reporting=on``,
cloud sandboxes), blocks of ``page_reporting_order`` (2 MB here) that stay free for about
2 s are reported to the host, which discards them; the next first touch faults on the host
as well. Transparent huge pages are carved from exactly those blocks. First touch of
260 MB (20 M events), on this project's 2-core Firecracker VM, 2026-12-02:

===================================  ==========  ============
memory freed                          huge pages  4 kB pages
===================================  ==========  ============
just now (as on bare metal)           0.04 s      0.11 s
3 s ago (reported to the host)        0.23 s      0.14 s
===================================  ==========  ============

``compact_stall`` stayed 0 throughout: compaction, which the huge-page cost was first put
down to, plays no part. ``benchmarks/bench_first_touch.py`` measures it.
"""
from __future__ import annotations

import functools
from pathlib import Path

#: VIRTIO_BALLOON_F_REPORTING, a bit of the device's feature string in sysfs
#: (``/sys/bus/virtio/devices/virtioN/features``: one '0'/'1' per bit, bit 0 first)
BALLOON_REPORTING_BIT = 5


def reports_free_pages(sys_root: str | Path = "/sys") -> bool:
    """True when a virtio-balloon device bound to its driver has negotiated free page
    reporting. Anything unreadable counts as no (bare metal has no such device)."""
    driver = Path(sys_root) / "bus" / "virtio" / "drivers" / "virtio_balloon"
    try:
        devices = sorted(driver.glob("virtio*"))
    except OSError:
        return False
    for device in devices:
        try:
            features = (device / "features").read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if len(features) > BALLOON_REPORTING_BIT and features[BALLOON_REPORTING_BIT] == "1":
            return True
    return False


@functools.cache
def free_pages_go_to_host() -> bool:
    """:func:`reports_free_pages` of this machine, read once per process."""
    return reports_free_pages()
