"""One option name per idea across the ``ezsr`` commands: ``--weights NAME`` wherever a
CLIP is chosen, ``--geometry`` for the sensor size, durations in seconds, ``-v`` on both
sides of the subcommand; the old names keep working and say once what replaced them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from ezsr_live.cli.toolbox import build_parser, main
from ezsr_live.drivers import open_reader
from ezsr_live.model import knn
from ezsr_live.model.registry import lookup, weights_dir


def _pngs(image_tree, n):
    return [str(p) for p in sorted(image_tree.rglob("*.png"))[:n]]


def test_pool_build_takes_the_registered_models_clip_by_name(image_tree, tmp_path, capsys):
    out = tmp_path / "pool"
    assert main(["pool", "build", str(image_tree), "-o", str(out), "--weights", "ezsr-demo", "--device", "cpu",
                 "--workers", "0", "--no-progress"]) == 0
    shipped = knn.read_pool_meta(weights_dir() / "demo" / "ezsr-demo-pool")
    # the identity the shipped demo pool was built with: the registered teacher, checked by sha256
    assert knn.open_pool(out).meta.model == shipped.model
    assert main(["pool", "build", str(image_tree), "-o", str(tmp_path / "p2"), "--weights", "ezsr-demo",
                 "--model", "ViT-B-32"]) == 2
    assert "--weights NAME sets --model and --pretrained" in capsys.readouterr().err
    assert main(["pool", "build", str(image_tree), "-o", str(tmp_path / "p3"), "--weights", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_train_takes_the_registered_models_clip_by_name(image_tree, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(image_tree), "-o", str(run), "--weights", "ezsr-demo", "--steps", "1",
                 "--batch-size", "4", "--workers", "0", "--device", "cpu", "--no-progress",
                 "--tensorboard", "off"]) == 0
    config = json.loads((run / "config.json").read_text())
    spec = lookup("ezsr-demo")
    assert config["model"] == spec.base_model == "ezsr-demo"
    assert config["pretrained"] == spec.pretrained_arg
    sidecar = json.loads((run / "event_encoder.json").read_text())
    assert sidecar["base_model"] == "ezsr-demo" and sidecar["input_size"] == spec.input_size


def test_sensor_is_geometry_and_the_old_name_warns_once(image_tree, tmp_path):
    images = _pngs(image_tree, 1)
    new, old = tmp_path / "new.raw", tmp_path / "old.raw"
    script = ("import sys; from ezsr_live.cli.toolbox import main; "
              "sys.exit(main(sys.argv[1:]))")
    base = [sys.executable, "-c", script, "synth", *images, "--seed", "2"]
    run_new = subprocess.run(base + ["-o", str(new), "--geometry", "40x30"], capture_output=True, text=True,
                             timeout=300)
    run_old = subprocess.run(base + ["-o", str(old), "--sensor", "40x30", "--sensor", "40x30"], capture_output=True,
                             text=True, timeout=300)
    assert run_new.returncode == run_old.returncode == 0
    assert "deprecated" not in run_new.stderr
    assert run_old.stderr.count("ezsr: --sensor is deprecated, use --geometry") == 1
    a, b = open_reader(new), open_reader(old)
    assert a.geometry == b.geometry and (a.geometry.width, a.geometry.height) == (40, 30)
    np.testing.assert_array_equal(a.read_all(), b.read_all())


def test_durations_are_seconds_and_the_old_millisecond_names_convert(image_tree, tmp_path, capsys):
    images = _pngs(image_tree, 2)
    new, old = tmp_path / "new.npz", tmp_path / "old.npz"
    assert main(["synth", *images, "-o", str(new), "--motion-s", "0.005", "0.02", "--gap-s", "0.03"]) == 0
    assert main(["synth", *images, "-o", str(old), "--duration-ms", "5", "20", "--gap-ms", "30"]) == 0
    err = capsys.readouterr().err
    assert "--duration-ms is deprecated, use --motion-s" in err and "--gap-ms is deprecated, use --gap-s" in err
    np.testing.assert_array_equal(open_reader(new).read_all(), open_reader(old).read_all())
    with pytest.raises(SystemExit) as exc:
        main(["synth", *images, "-o", str(tmp_path / "x.npz"), "--gap-ms", "soon"])
    assert exc.value.code == 2 and "argument --gap-ms: must be a number (ms)" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["info", "-v", "F"], ["-v", "info", "F"], ["pool", "build", "-v", "D", "-o", "P"], ["pool", "info", "P", "-v"],
    ["demo", "train", "-o", "W", "-v"], ["synth", "--verbose", "I", "-o", "O"],
])
def test_verbose_after_the_subcommand_at_every_level(argv):
    assert build_parser().parse_args(argv).verbose is True


def test_no_verbose_anywhere_means_quiet():
    assert build_parser().parse_args(["pool", "info", "P"]).verbose is False
