"""What the parent of an isolated dv-processing child (.aedat4, DV network) asks of it."""
from __future__ import annotations

import os

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def child_cpu_seconds(pid: int) -> float | None:
    """CPU time process ``pid`` has used so far (Linux /proc), or None where unknown.
    A child that sends nothing but burns CPU is spinning, not starved."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return None
