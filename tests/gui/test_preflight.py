"""What would abort Qt is refused before the QApplication exists (issue #15): missing
system libraries of the platform plugin name their Debian packages, in one line, exit 2."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ezsr_live.gui.preflight import (
    GuiUnavailable,
    check_platform,
    elf_needed,
    install_hint,
    missing_libraries,
    platform_plugins,
    platform_problem,
    platforms_to_try,
    qt_directories,
)

from .conftest import DEMO, model_args

PLUGINS, QT_LIBRARIES = qt_directories()
NO_SUCH_LIBRARY = "libezsr-no-such-library.so.7"


def _readelf_needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="binutils' readelf is the reference")
@pytest.mark.parametrize("name", ["xcb", "offscreen", "minimal"])
def test_the_elf_reader_lists_the_same_dependencies_as_readelf(name):
    plugin, = platform_plugins(name, PLUGINS)
    assert elf_needed(plugin) == _readelf_needed(plugin)


def test_a_library_the_loader_cannot_find_is_reported_and_present_ones_are_not():
    assert missing_libraries(["libc.so.6", NO_SUCH_LIBRARY, "libm.so.6"]) == [NO_SUCH_LIBRARY]
    # Qt's own libraries are followed to their dependencies, not reported
    assert missing_libraries(["libQt6Gui.so.6", "libQt6Core.so.6"], QT_LIBRARIES) == []


def test_the_message_names_the_debian_packages_in_one_line():
    problem = platform_problem("xcb", libraries=["libc.so.6", NO_SUCH_LIBRARY])
    assert problem is not None and "\n" not in problem
    assert NO_SUCH_LIBRARY in problem and "--headless" in problem
    hint = install_hint(["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", NO_SUCH_LIBRARY])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in hint and NO_SUCH_LIBRARY in hint


def test_the_offscreen_platform_these_tests_run_on_passes_the_check():
    assert platform_problem("offscreen") is None
    check_platform({"QT_QPA_PLATFORM": "offscreen"})


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None,
                    reason="ldd (glibc) is the reference on Linux")
def test_the_xcb_check_finds_exactly_what_ldd_finds_missing():
    plugin, = platform_plugins("xcb", PLUGINS)
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    not_found = list(dict.fromkeys(line.split("=>")[0].strip() for line in ldd.splitlines() if "not found" in line))
    problem = platform_problem("xcb")
    if not not_found:
        assert problem is None
        check_platform({"QT_QPA_PLATFORM": "xcb"})
    else:  # this machine lacks some: each is named, with its package
        assert problem is not None and all(name in problem for name in not_found)
        with pytest.raises(GuiUnavailable):
            check_platform({"QT_QPA_PLATFORM": "xcb"})


def test_qt_falls_back_through_a_list_and_so_does_the_check():
    assert platforms_to_try({"QT_QPA_PLATFORM": "xcb;offscreen"}) == ["xcb", "offscreen"]
    assert platforms_to_try({"QT_QPA_PLATFORM": "vnc:size=800x600"}) == ["vnc"]
    check_platform({"QT_QPA_PLATFORM": "xcb;offscreen"})  # offscreen loads, whatever xcb lacks
    # a platform without a plugin file to read is left to Qt
    assert platform_problem("no-such-platform") is None


@pytest.fixture
def plugin_missing_a_library(tmp_path):
    """The environment of a machine where a platform plugin lacks a library: a copy of
    Qt's 'minimal' plugin, its key renamed to 'ezsrmin' (so that Qt cannot fall back to
    its own, sound 'minimal') and its libfreetype.so.6 dependency to one that does not
    exist."""
    original, = platform_plugins("minimal", PLUGINS)
    data = original.read_bytes()
    # the key in the plugin's CBOR metadata (0x67: a 7-byte text) and the soname
    for old, new in ((b"\x67minimal", b"\x67ezsrmin"), (b"libfreetype.so.6\0", b"libezsrmiss.so.6\0")):
        assert data.count(old) == 1
        data = data.replace(old, new)
    folder = tmp_path / "platforms"
    folder.mkdir()
    (folder / "libqezsrmin.so").write_bytes(data)
    # DISPLAY: ezsr-live asks for one unless the platform is one it knows to need none;
    # the plugin never connects to it
    return dict(os.environ, QT_QPA_PLATFORM="ezsrmin", QT_QPA_PLATFORM_PLUGIN_PATH=str(folder),
                DISPLAY=":0", XDG_CONFIG_HOME=str(tmp_path), HOME=str(tmp_path))


def test_a_plugin_in_qt_qpa_platform_plugin_path_falls_back_to_qts_own_as_qt_does(tmp_path):
    folder = tmp_path / "platforms"
    folder.mkdir()
    original, = platform_plugins("minimal", PLUGINS)
    (folder / original.name).write_bytes(original.read_bytes().replace(b"libfreetype.so.6\0",
                                                                       b"libezsrmiss.so.6\0"))
    environ = {"QT_QPA_PLATFORM_PLUGIN_PATH": str(folder)}
    assert platform_plugins("minimal", PLUGINS, environ) == [folder / original.name, original]
    assert platform_problem("minimal", environ=environ) is None


def test_without_the_check_qt_itself_aborts_on_that_plugin(plugin_missing_a_library):
    # the simulation is real: Qt cannot load the plugin and aborts (SIGABRT)
    proc = subprocess.run([sys.executable, "-c", "from PySide6.QtWidgets import QApplication; QApplication([])"],
                          capture_output=True, text=True, env=plugin_missing_a_library, timeout=120)
    assert proc.returncode == -6 and "ezsrmin" in proc.stderr


def test_ezsr_live_refuses_in_one_line_with_exit_code_2_before_loading_the_model(plugin_missing_a_library,
                                                                                  tiny_model_name):
    proc = subprocess.run([sys.executable, "-m", "ezsr_live.cli.live", "--replay", str(DEMO),
                           *model_args(tiny_model_name)],
                          capture_output=True, text=True, env=plugin_missing_a_library, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("ezsr-live: ") and "libezsrmiss.so.6" in lines[0] and "'ezsrmin'" in lines[0]
