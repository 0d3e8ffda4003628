"""An installed wheel carries the registry and the bundled demo, and finds them without a
checkout. The full check (build the wheel, install it into a fresh venv, run the demo
from outside the checkout) is ``.ci/wheel-check``, run by ``.ci/run``: it takes a minute,
too long for the test suite; these tests cover the pieces it relies on."""
from __future__ import annotations

import tomllib
from pathlib import Path

from ezsr_live.cli.toolbox import main as ezsr_main
from ezsr_live.cli.live import main as live_main
from ezsr_live import __version__
from ezsr_live.errors import ModelError
from ezsr_live.model.registry import default_weights_dir, load_registry
from tests.helpers import REPO_ROOT


def test_every_file_the_registry_ships_is_package_data():
    """Each file of weights/ that the registry (and its demo) names is matched by a
    package-data pattern of ezsr_live.weights, so the wheel has it."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["ezsr_live.weights"] == "weights"
    # each folder of weights/ is a package of its own (setuptools installs no data-only
    # folders), and its patterns are relative to it
    packages = [pkg for pkg in config["package-data"] if pkg == "ezsr_live.weights" or pkg.startswith("ezsr_live.weights.")]
    assert "ezsr_live.weights" in packages and set(packages) <= set(config["packages"])
    patterns = [f"{pkg.removeprefix('ezsr_live.weights').lstrip('.').replace('.', '/')}/{pat}".lstrip("/")
                for pkg in packages for pat in config["package-data"][pkg]]
    weights = REPO_ROOT / "weights"
    shipped = [p.relative_to(weights).as_posix() for p in weights.rglob("*") if p.is_file()]
    packaged = {p.relative_to(weights).as_posix() for pat in patterns for p in weights.glob(pat) if p.is_file()}
    missing = sorted(set(shipped) - packaged)
    assert not missing, f"not package data, so not in the wheel: {missing}"
    # and the demo is what the registry names
    demo = load_registry(weights / "registry.json")["ezsr-demo"]
    for name in (demo.event_weights, demo.pretrained, demo.labels, demo.templates):
        assert (weights / name).relative_to(weights).as_posix() in shipped


def test_the_checkout_folder_wins_and_the_packaged_copy_is_the_fallback(tmp_path):
    checkout, packaged = tmp_path / "checkout", tmp_path / "packaged"
    checkout.mkdir()
    packaged.mkdir()
    (packaged / "registry.json").write_text('{"models": []}')
    assert default_weights_dir(checkout, packaged) == packaged  # an installed wheel
    (checkout / "registry.json").write_text('{"models": []}')
    assert default_weights_dir(checkout, packaged) == checkout  # a source checkout
    (checkout / "registry.json").unlink()
    (packaged / "registry.json").unlink()
    assert default_weights_dir(checkout, packaged) == checkout  # neither: the message names the checkout's


def test_a_missing_registry_says_how_to_point_at_one(tmp_path):
    try:
        load_registry(tmp_path / "registry.json")
    except ModelError as exc:
        assert "set EZSR_WEIGHTS_DIR" in str(exc)
    else:
        raise AssertionError("no error for a missing registry")


def test_both_commands_print_their_version(capsys):
    for main, prog in ((ezsr_main, "ezsr"), (live_main, "ezsr-live")):
        try:
            main(["--version"])
        except SystemExit as exc:
            assert exc.code == 0
        assert capsys.readouterr().out.strip() == f"{prog} {__version__}"
    assert Path(REPO_ROOT / "ezsr_live" / "__init__.py").read_text().count(__version__) == 1
