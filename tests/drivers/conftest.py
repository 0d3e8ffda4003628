"""Fixtures shared by the driver tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from .dv_hostile_peer import capture_stream

DV_SAMPLE = "dvxplorer_320x240.aedat4"
#: events in the captured DV network session (about 20 packets of the sample)
DV_CAPTURE_EVENTS = 20000


@pytest.fixture(scope="session")
def dv_capture(samples_dir, tmp_path_factory) -> Path:
    """The bytes a real dv.io.NetworkWriter sent for the sample's first events."""
    path = tmp_path_factory.mktemp("dv-capture") / "networkwriter.bin"
    path.write_bytes(capture_stream(samples_dir / DV_SAMPLE, limit=DV_CAPTURE_EVENTS))
    return path
