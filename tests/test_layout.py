"""Structural rules of the code base that import-linter does not express (see pyproject.toml)."""
from __future__ import annotations

import ast
import tomllib

from .conftest import REPO_ROOT

PACKAGE_ROOTS = {"ezsr_live": REPO_ROOT / "ezsr_live", "ezsr_live.drivers": REPO_ROOT / "drivers",
                 "ezsr_live.gui": REPO_ROOT / "gui"}
#: folders installed as package data only (no code): the registry and the bundled demo
DATA_PACKAGES = {"ezsr_live.weights": REPO_ROOT / "weights"}


def _imports(path, top_level_only=False):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_the_command_line_loads_the_gui_only_on_demand():
    """``ezsr-live --headless`` never loads Qt: the CLI imports the GUI inside the function
    that opens the window. (That the engine and the drivers never import Qt or the CLI at
    all is an import-linter contract in pyproject.toml, run by .ci/run.)"""
    offenders = []
    for path in (REPO_ROOT / "ezsr_live" / "cli").rglob("*.py"):
        for name in _imports(path, top_level_only=True):
            if name.startswith("ezsr_live.gui") or name.split(".")[0] in ("PySide6", "pyqtgraph"):
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {name} at import time")
    assert offenders == []


def test_every_package_directory_is_installed():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    assert config["package-dir"] == {k: v.name for k, v in {**PACKAGE_ROOTS, **DATA_PACKAGES}.items()}
    assert not [p for root in DATA_PACKAGES.values() for p in root.rglob("*.py")], "data packages hold no code"
    found = set(DATA_PACKAGES)
    # setuptools installs no data-only folders: each importable-named folder of a data
    # package is a package of its own (ezsr_live.weights.demo); others are its data
    for top, root in DATA_PACKAGES.items():
        for folder in root.rglob("*"):
            parts = folder.relative_to(root).parts
            if folder.is_dir() and folder.name != "__pycache__" and all(part.isidentifier() for part in parts):
                found.add(".".join((top, *parts)))
    for top, root in PACKAGE_ROOTS.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root).parts
            found.add(".".join((top, *rel)))
    assert found == declared


def test_building_the_command_line_parsers_imports_neither_torch_nor_open_clip():
    """``ezsr --help`` and ``ezsr-live --help`` answer at once: the heavy imports wait
    until a command runs."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from ezsr_live.cli import live, toolbox\n"
            "toolbox.build_parser(); live.build_parser()\n"
            "print(sorted(m for m in ('torch', 'open_clip', 'faiss') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout
