"""Run a command and report, as JSON, how it ended and the peak RSS of its process tree.

    python run_measured.py REPORT.json TIMEOUT_S COMMAND...

Run in its own process so that ``RUSAGE_CHILDREN`` counts only COMMAND and what it
waited for (the test process's own earlier children would otherwise count too). The
report: returncode (None when killed at TIMEOUT_S), timed_out, wall_s, maxrss_bytes,
stdout, stderr.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main() -> None:
    report, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    start = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        timed_out = True
    wall = time.monotonic() - start
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
    with open(report, "w") as f:
        json.dump({"returncode": None if timed_out else proc.returncode, "timed_out": timed_out,
                   "wall_s": wall, "maxrss_bytes": maxrss, "stdout": out, "stderr": err}, f)


if __name__ == "__main__":
    main()
