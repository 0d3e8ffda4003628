"""`ezsr info`: the table and the JSON say the same, against the real sample recordings
(reference.json's values, the files' own headers) and dv-processing's reading of triggers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.events import TRIGGER_DTYPE, Geometry

from .conftest import SAMPLE_FILES

#: what each sample's own header says of its camera (see ../shared/samples/README.md);
#: formats with no camera header have none
CAMERAS = {
    "evt3_gen41_1280x720.raw": ("Prophesee", "4.1", "48"),  # plugin hal_plugin_gen41_evk3
    "evt2_gen3_640x480.raw": ("Prophesee", "3.0", "21"),  # hal_plugin_gen3_fx3; Metavision: system ID 21 is 3.0
    "dvxplorer_320x240.aedat4": (None, None, None),
    "nmnist_sample.bin": (None, None, None),
    "ncars_sample.dat": (None, None, None),
}


def _json(capsys, *argv) -> dict:
    assert ezsr(["info", "--json", *map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_rate_camera_fields_and_the_table_agree_with_the_reference(samples_dir, reference, capsys, name):
    ref = reference[name]
    info = _json(capsys, samples_dir / name)
    duration_s = (ref["t_last"] - ref["t_first"]) * 1e-6
    assert info["event_rate_ev_per_s"] == pytest.approx(ref["n_events"] / duration_s, rel=1e-6)
    assert (info["camera_integrator"], info["camera_generation"], info["system_id"]) == CAMERAS[name]
    assert info["n_triggers"] == 0 and info["t_first_trigger_us"] is None
    # the default is the readable table, with the same numbers
    assert ezsr(["info", str(samples_dir / name)]) == 0
    table = dict(line.split("  ", 1) for line in capsys.readouterr().out.splitlines())
    table = {k.strip(): v.strip() for k, v in table.items()}
    assert table["events"] == f"{ref['n_events']:,}"
    assert table["sensor"] == f"{info['width']}x{info['height']}"
    assert table["first / last event"] == f"{ref['t_first']:,} us / {ref['t_last']:,} us"
    rate = ref["n_events"] / duration_s
    shown, unit = table["average event rate"].split()
    assert float(shown) * {"Mev/s": 1e6, "kev/s": 1e3, "ev/s": 1}[unit] == pytest.approx(rate, rel=1e-2)
    assert table["generation"] == (CAMERAS[name][1] or "-")


def test_trigger_times_match_dv_processing(samples_dir, tmp_path, capsys):
    from ezsr_live.drivers import open_reader, open_writer

    events = open_reader(samples_dir / "dvxplorer_320x240.aedat4").read_all()
    t0, t1 = int(events["t"][0]), int(events["t"][-1])
    triggers = np.zeros(4, TRIGGER_DTYPE)
    triggers["t"] = np.linspace(t0 + 1000, t1 - 1000, 4).astype(np.int64)
    triggers["p"] = [1, 0, 1, 0]
    path = tmp_path / "with_triggers.aedat4"
    with open_writer(path, Geometry(320, 240)) as writer:
        half = len(events) // 2
        writer.write(events[:half])
        writer.write_triggers(triggers)
        writer.write(events[half:])
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    seen = []
    while recording.isRunning():
        batch = recording.getNextTriggerBatch()
        if batch is None:
            break
        seen += [t.timestamp for t in batch]
    assert len(seen) == 4
    info = _json(capsys, path)
    assert (info["n_triggers"], info["t_first_trigger_us"], info["t_last_trigger_us"]) == (4, seen[0], seen[-1])
    assert ezsr(["info", str(path)]) == 0
    assert f"{seen[0]:,} us / {seen[-1]:,} us" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["info", "-v", "{f}"], ["-v", "info", "{f}"], ["info", "{f}", "--verbose"]])
def test_verbose_is_accepted_before_and_after_the_subcommand(samples_dir, capsys, argv):
    path = str(samples_dir / "nmnist_sample.bin")
    assert ezsr([a.format(f=path) for a in argv] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "atis_bin"
