"""A real window on a real replay with the tiny model; settings in a temporary folder."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from tests.helpers import DEMO_DISC
from ezsr_live.cli.display_options import display_settings_from_args  # noqa: E402
from ezsr_live.cli.live import build_run, parse_command_line, remembered_controls  # noqa: E402

from tests.conftest import TINY_MODEL_CONFIG  # noqa: E402

DEMO = DEMO_DISC
LABELS = "disc,square,bar,ring,star"


def model_args(model_name: str) -> list[str]:
    return ["--model", model_name, "--model-config", str(TINY_MODEL_CONFIG), "--pretrained", "",
            "--templates", "photo", "--device", "cpu"]


def pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ezsr-") and t.is_alive()]


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path):
    """Point QSettings (INI, user scope) at a temporary folder: tests never touch the user's."""
    from PySide6.QtCore import QSettings

    folder = tmp_path / "settings"
    folder.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, tiny_model_name):
    """make_window(*extra_args) -> a started MainWindow replaying the demo recording in a loop;
    the arguments are read as ezsr-live reads them (``--config`` too); with ``remembered``
    it restores the controls that ezsr-live would (those no option given chose)."""
    from ezsr_live.gui.main_window import MainWindow

    windows = []

    def make(*extra: str, smooth: int = 1, restore_vocabulary: bool = False, restore_controls=(),
             remembered: bool = False, source: tuple[str, ...] = ("--replay", str(DEMO), "--loop")):
        args = parse_command_line([*source, *model_args(tiny_model_name), "--labels", LABELS, *extra])
        if remembered:
            restore_controls = remembered_controls(args)
        pipeline = build_run(args).pipeline
        window = MainWindow(pipeline, smooth=smooth, restore_vocabulary=restore_vocabulary,
                            restore_controls=restore_controls, display=display_settings_from_args(args))
        qtbot.addWidget(window)
        window.show()
        window.start()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
