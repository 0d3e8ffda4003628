"""Checks made before the QApplication exists.

Two things kill the window with SIGABRT (exit 134) instead of a message, and both can
be seen before Qt starts:

* **a Qt platform plugin whose system libraries are missing** (Debian without
  ``libxcb-cursor0``, ``libxcb-icccm4``, ...): Qt aborts in ``QApplication()``, after
  the model has loaded and with a misleading hint. :func:`check_platform` reads the
  plugin's ELF dependencies, asks the dynamic loader for each, and refuses in one line
  that names the Debian packages to install.
* **a Qt binding that loses references to None** (PySide6 6.12.0 on CPython 3.11 drops
  one in every void-returning method): None's count reaches zero within a minute of
  painting and CPython aborts (``none_dealloc``). :func:`check_binding` measures it.

Both raise :class:`GuiUnavailable` (an :class:`~ezsr_live.errors.EzsrError`: one line,
exit code 2); :func:`ezsr_live.gui.app.application` runs them.
"""
from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from importlib import metadata
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ezsr_live.errors import EzsrError

#: Debian/Ubuntu package of each system library that Qt's platform plugins load
#: (PySide6's wheels bundle the Qt libraries, not these)
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}

#: the distribution that provides the PySide6 package (its requirement is quoted in messages)
BINDING_DISTRIBUTION = "PySide6-Essentials"


class GuiUnavailable(EzsrError):
    """The window cannot run here; the message says what to install (or to use --headless)."""


# ----------------------------------------------------------------------------- ELF
_PT_LOAD, _PT_DYNAMIC = 1, 2
_DT_NULL, _DT_NEEDED, _DT_STRTAB, _DT_STRSZ = 0, 1, 5, 10


def elf_needed(path: str | os.PathLike) -> list[str]:
    """The ``DT_NEEDED`` entries (sonames the loader must find) of an ELF shared object.

    Read from the program headers, as the dynamic loader itself does (section headers
    may be stripped). Raises ValueError for a file that is not ELF."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path}: not an ELF file")
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        phoff, = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
        phdr, dyn = order + "IIQQQQQQ", order + "qQ"
    else:
        phoff, = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
        phdr, dyn = order + "IIIIIIII", order + "iI"
    loads: list[tuple[int, int, int]] = []  # (vaddr, filesz, offset)
    dynamic: tuple[int, int] | None = None  # (offset, size)
    for i in range(phnum):
        fields = struct.unpack_from(phdr, data, phoff + i * phentsize)
        if wide:
            p_type, _flags, offset, vaddr, _paddr, filesz = fields[:6]
        else:
            p_type, offset, vaddr, _paddr, filesz = fields[:5]
        if p_type == _PT_LOAD:
            loads.append((vaddr, filesz, offset))
        elif p_type == _PT_DYNAMIC:
            dynamic = (offset, filesz)
    if dynamic is None:
        return []  # statically linked: needs nothing
    needed: list[int] = []
    strtab = strsz = None
    step = struct.calcsize(dyn)
    for at in range(dynamic[0], dynamic[0] + dynamic[1] - step + 1, step):
        tag, value = struct.unpack_from(dyn, data, at)
        if tag == _DT_NULL:
            break
        if tag == _DT_NEEDED:
            needed.append(value)
        elif tag == _DT_STRTAB:
            strtab = value
        elif tag == _DT_STRSZ:
            strsz = value
    if strtab is None:
        raise ValueError(f"{path}: dynamic section without a string table")
    # DT_STRTAB is an address: the load segment that holds it gives its file offset
    base = next((offset + strtab - vaddr for vaddr, filesz, offset in loads if vaddr <= strtab < vaddr + filesz),
                strtab)
    end = base + strsz if strsz is not None else len(data)
    names = []
    for index in needed:
        stop = data.index(b"\0", base + index, end)
        names.append(data[base + index: stop].decode("utf-8", "replace"))
    return names


# ----------------------------------------------------------------------- libraries
def _missing_name(error: OSError, default: str) -> str:
    # "libxcb-icccm.so.4: cannot open shared object file: ...": the loader names the
    # library it could not find, which may be a dependency of the one asked for
    found = re.match(r"\s*([^\s:]+\.so[.\d]*): cannot open shared object file", str(error))
    return found.group(1) if found else default


def missing_libraries(sonames: Iterable[str], bundled_dir: str | os.PathLike | None = None) -> list[str]:
    """The libraries among ``sonames`` that the dynamic loader cannot load, in order.

    A soname found in ``bundled_dir`` (PySide6's own Qt libraries) is followed to its
    own dependencies instead of being loaded; any other is loaded with
    :class:`ctypes.CDLL`, i.e. found exactly as the loader will find it for Qt
    (``ld.so.cache``, ``LD_LIBRARY_PATH``); Qt loads these libraries a moment later anyway."""
    bundled = Path(bundled_dir) if bundled_dir is not None else None
    missing: list[str] = []
    seen: set[str] = set()
    todo = list(sonames)
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if bundled is not None and (bundled / name).is_file():
            try:
                todo.extend(elf_needed(bundled / name))
            except (OSError, ValueError):
                pass  # unreadable: the loader will tell Qt; nothing this check can add
            continue
        try:
            ctypes.CDLL(name)
        except OSError as exc:
            lost = _missing_name(exc, name)
            if lost not in missing:
                missing.append(lost)
    return missing


def install_hint(missing: Sequence[str]) -> str:
    """'sudo apt-get install PKG ...' for the libraries with a known Debian package, and
    the bare names of the others."""
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[name] for name in missing if name in DEBIAN_PACKAGES))
    unknown = [name for name in missing if name not in DEBIAN_PACKAGES]
    parts = []
    if packages:
        parts.append(f"on Debian/Ubuntu: sudo apt-get install {' '.join(packages)}")
    if unknown:
        parts.append(f"also install the package that provides {', '.join(unknown)}")
    return "; ".join(parts)


# ------------------------------------------------------------------------ platform
def qt_directories() -> tuple[Path, Path]:
    """(plugins, libraries) folders of the installed Qt (PySide6's, for a wheel)."""
    from PySide6.QtCore import QLibraryInfo

    return (Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)),
            Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.LibrariesPath)))


def platforms_to_try(environ: Mapping[str, str] | None = None) -> list[str]:
    """The platform plugins Qt will try, in order, as far as the environment tells."""
    environ = os.environ if environ is None else environ
    spec = environ.get("QT_QPA_PLATFORM", "").strip()
    if spec:
        # "xcb;offscreen" is a fallback list, "vnc:size=800x600" carries options
        return [piece.split(":", 1)[0].strip() for piece in spec.split(";") if piece.strip()]
    if not sys.platform.startswith("linux"):
        return []  # Windows and macOS plugins need nothing from the system
    if environ.get("XDG_SESSION_TYPE") == "wayland" and environ.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]  # Qt prefers Wayland there and falls back to XWayland
    return ["xcb"]


def platform_plugins(name: str, plugins_dir: str | os.PathLike, environ: Mapping[str, str] | None = None
                     ) -> list[Path]:
    """The shared objects that can provide platform ``name``, in the order Qt tries them:
    ``QT_QPA_PLATFORM_PLUGIN_PATH`` first, then Qt's own plugins (Qt falls back to the
    next when one fails to load)."""
    environ = os.environ if environ is None else environ
    folders = [Path(p) for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    folders.append(Path(plugins_dir) / "platforms")
    return [folder / f"libq{name}.so" for folder in folders if (folder / f"libq{name}.so").is_file()]


def platform_problem(name: str, *, plugins_dir: str | os.PathLike | None = None,
                     libraries_dir: str | os.PathLike | None = None,
                     libraries: Sequence[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> str | None:
    """Why platform plugin ``name`` cannot load; None when one of its files can, or when
    there is no file to read (Qt then decides, and says what it lacks).

    ``libraries`` replaces the plugins' own dependency lists (what tests use to
    simulate a missing library)."""
    if plugins_dir is None or libraries_dir is None:
        found_plugins, found_libraries = qt_directories()
        plugins_dir = found_plugins if plugins_dir is None else plugins_dir
        libraries_dir = found_libraries if libraries_dir is None else libraries_dir
    if libraries is not None:
        needs = [list(libraries)]
    else:
        needs = []
        for plugin in platform_plugins(name, plugins_dir, environ):
            try:
                needs.append(elf_needed(plugin))
            except (OSError, ValueError):
                return None  # unreadable here: leave it to Qt
    missing: list[str] = []
    for needed in needs:
        missing = missing_libraries(needed, libraries_dir)
        if not missing:
            return None
    if not missing:
        return None
    # the last file tried is Qt's own plugin, the one that installing packages fixes
    return (f"the window cannot open: Qt's {name!r} platform plugin needs {', '.join(missing)}, "
            f"not installed here; {install_hint(missing)} (or run with --headless)")


def check_platform(environ: Mapping[str, str] | None = None, **directories: str | os.PathLike) -> None:
    """Raise :class:`GuiUnavailable` when no platform plugin Qt will try can load."""
    problems = []
    for name in platforms_to_try(environ):
        problem = platform_problem(name, environ=environ, **directories)  # type: ignore[arg-type]
        if problem is None:
            return
        problems.append(problem)
    if problems:
        raise GuiUnavailable(problems[-1] if len(problems) == 1 else "; ".join(problems))


# ------------------------------------------------------------------------- binding
#: references to None that a defective binding took while it was measured, given back
_RETURNED_TO_NONE: list[None] = []


def none_references_lost(calls: int = 64) -> int:
    """References to None lost per ``calls`` calls of a void Qt method (0 when sound).

    CPython < 3.12 only; from 3.12 None is immortal and cannot be hurt. The references
    the measurement cost are given back, so that measuring never brings the abort
    nearer."""
    if sys.version_info >= (3, 12):
        return 0
    from PySide6.QtCore import QRectF

    rect = QRectF(0.0, 0.0, 1.0, 1.0)
    before = sys.getrefcount(None)
    for _ in range(calls):
        rect.setWidth(2.0)
    lost = before - sys.getrefcount(None)
    if lost > 0:
        _RETURNED_TO_NONE.extend([None] * lost)
    return max(0, lost)


def binding_requirement() -> str:
    """This project's requirement on the Qt binding (pyproject.toml), for messages."""
    try:
        for requirement in metadata.requires("ezsr-live") or ():
            if requirement.lower().startswith(BINDING_DISTRIBUTION.lower()):
                return requirement.split(";", 1)[0].strip()
    except metadata.PackageNotFoundError:
        pass
    return BINDING_DISTRIBUTION


def check_binding() -> None:
    """Raise :class:`GuiUnavailable` when the Qt binding corrupts None's reference count."""
    calls = 64
    lost = none_references_lost(calls)
    # one lost reference per void call is the 6.12.0 defect; a stray one could be the GC
    if lost >= calls // 2:
        import PySide6

        requirement = binding_requirement()
        raise GuiUnavailable(
            f"PySide6 {PySide6.__version__} on Python {sys.version_info.major}.{sys.version_info.minor} loses a "
            f"reference to None in every void Qt call ({lost} in {calls}); the window would abort within minutes "
            f"(Fatal Python error: none_dealloc). Install a sound version: pip install '{requirement}'")

