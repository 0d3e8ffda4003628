"""Our readers against the independent decoders on PyPI, event for event in file order,
on the real samples and on files our writers produce. A peer that is not installed is
skipped (``pip install -e .[peers]`` installs them all); a peer's known departure from
OpenEB's time rules is asserted exactly through its model in :mod:`.peer_models`, so a
new difference in any field still fails.

Known departures, on the camera EVT 3.0 sample (219,596 events):
- expelliarmus 1.1 adds 4,096 µs per TIME_LOW step back (11 in the file: 199,475
  events up to 45,056 µs late);
- faery 0.7 never lets time go back (1,455 events 1-11 µs late).
evt3 0.4, evlib 0.13 and every peer on EVT 2.0 and .aedat4 agree exactly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.drivers.raw import Evt2Writer, Evt3Writer
from ezsr_live.events import EventPacket, make_events

from .peer_models import evt3_times
from .raw_reference import words_of

EVT3_SAMPLE = "evt3_gen41_1280x720.raw"
EVT2_SAMPLE = "evt2_gen3_640x480.raw"
AEDAT4_SAMPLE = "dvxplorer_320x240.aedat4"


def _expelliarmus(path: Path, fmt: str) -> EventPacket:
    wizard = pytest.importorskip("expelliarmus").Wizard(encoding=fmt, fpath=str(path))
    got = wizard.read()
    return make_events(got["t"], got["x"], got["y"], got["p"])


def _evt3(path: Path, fmt: str) -> EventPacket:
    got = pytest.importorskip("evt3").decode_file(str(path))
    return make_events(got.timestamp.astype(np.int64), got.x, got.y, got.polarity)


def _evlib(path: Path, fmt: str) -> EventPacket:
    # formats.load_events keeps file order (the top-level load_events sorts by time)
    frame = pytest.importorskip("evlib").formats.load_events(str(path)).collect()
    return make_events(frame["t"].dt.total_microseconds().to_numpy(), frame["x"].to_numpy(),
                       frame["y"].to_numpy(), frame["polarity"].to_numpy() > 0)


def _faery(path: Path, fmt: str) -> EventPacket:
    packets = list(pytest.importorskip("faery").events_stream_from_file(str(path)))
    got = np.concatenate(packets)
    return make_events(got["t"].astype(np.int64), got["x"], got["y"], got["on"])


def _aedat(path: Path, fmt: str) -> EventPacket:
    decoder = pytest.importorskip("aedat").Decoder(str(path))
    got = np.concatenate([p["events"] for p in decoder if "events" in p])
    return make_events(got["t"].view(np.int64), got["x"], got["y"], got["on"])


PEERS: dict[str, Callable[[Path, str], EventPacket]] = {
    "expelliarmus": _expelliarmus, "evt3": _evt3, "evlib": _evlib, "faery": _faery, "aedat": _aedat,
}
#: the formats each peer reads
READS = {"expelliarmus": ("evt3", "evt2"), "evt3": ("evt3",), "evlib": ("evt3", "evt2", "aedat4"),
         "faery": ("evt3", "evt2", "aedat4"), "aedat": ("aedat4",)}
#: peers with a known EVT 3.0 time departure (modelled in peer_models)
EVT3_TIME_MODEL = {"expelliarmus": "expelliarmus", "faery": "faery"}


@pytest.fixture(scope="module")
def files(samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """The samples, and each RAW sample rewritten by both of our RAW writers."""
    tmp = tmp_path_factory.mktemp("peers")
    out = {EVT3_SAMPLE: (samples_dir / EVT3_SAMPLE, "evt3"), EVT2_SAMPLE: (samples_dir / EVT2_SAMPLE, "evt2"),
           AEDAT4_SAMPLE: (samples_dir / AEDAT4_SAMPLE, "aedat4")}
    for sample in (EVT3_SAMPLE, EVT2_SAMPLE):
        reader = open_reader(samples_dir / sample)
        events = reader.read_all()
        for writer, fmt in ((Evt3Writer, "evt3"), (Evt2Writer, "evt2")):
            path = tmp / f"{Path(sample).stem}.ours.{fmt}.raw"
            with writer(path, reader.geometry) as w:
                w.write(events)
            out[path.name] = (path, fmt)
    return out


FILES = {  # name -> format
    EVT3_SAMPLE: "evt3", EVT2_SAMPLE: "evt2", AEDAT4_SAMPLE: "aedat4",
    "evt3_gen41_1280x720.ours.evt3.raw": "evt3", "evt3_gen41_1280x720.ours.evt2.raw": "evt2",
    "evt2_gen3_640x480.ours.evt3.raw": "evt3", "evt2_gen3_640x480.ours.evt2.raw": "evt2",
}
CASES = [(peer, name) for peer in PEERS for name, fmt in FILES.items() if fmt in READS[peer]]


@pytest.mark.parametrize(("peer", "name"), CASES, ids=[f"{p}-{n}" for p, n in CASES])
def test_peer_decodes_the_same_events_in_file_order(files: dict[str, tuple[Path, str]], peer: str, name: str) -> None:
    path, fmt = files[name]
    theirs = PEERS[peer](path, fmt)
    ours = open_reader(path).read_all()
    assert len(theirs) == len(ours)
    for field in ("x", "y", "p"):
        np.testing.assert_array_equal(theirs[field], ours[field], err_msg=f"{peer} {field}")
    expected_t = ours["t"]
    if fmt == "evt3" and peer in EVT3_TIME_MODEL:
        words, _ = words_of(path)
        np.testing.assert_array_equal(evt3_times(words), ours["t"] - open_reader(path)._t_origin)
        expected_t = evt3_times(words, EVT3_TIME_MODEL[peer]) + open_reader(path)._t_origin
    np.testing.assert_array_equal(theirs["t"], expected_t, err_msg=f"{peer} t")


def test_the_known_departures_are_what_the_camera_sample_shows(samples_dir: Path) -> None:
    """The figures quoted above, so that a peer release that fixes (or worsens) its
    time rule is noticed here."""
    words, _ = words_of(samples_dir / EVT3_SAMPLE)
    openeb = evt3_times(words)
    np.testing.assert_array_equal(openeb, open_reader(samples_dir / EVT3_SAMPLE).read_all()["t"])
    late = {model: evt3_times(words, model) - openeb for model in ("expelliarmus", "faery")}
    assert (np.count_nonzero(late["expelliarmus"]), late["expelliarmus"].max()) == (199_475, 45_056)
    assert np.all(late["expelliarmus"] % 4096 == 0) and np.all(np.diff(late["expelliarmus"]) >= 0)
    assert (np.count_nonzero(late["faery"]), late["faery"][late["faery"] > 0].min(), late["faery"].max()) == (
        1_455, 1, 11)
