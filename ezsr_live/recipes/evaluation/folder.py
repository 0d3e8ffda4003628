"""A plain folder of class folders of event files (any readable format) as an
:class:`~.datasets.EvalSet`: the held-out set of a training run's validation, such as
``ezsr synth`` of held-out images. Class names are the folder names (``_`` read as a
space); every file must have one sensor size, which frames all of them."""
from __future__ import annotations

import os
from pathlib import Path

from ezsr_live.errors import EzsrError, FormatError

from .datasets import EvalSample, EvalSet


def discover_event_folder(root: str | os.PathLike) -> EvalSet:
    from ezsr_live.drivers.registry import open_reader, reader_extensions

    root = Path(root)
    if not root.is_dir():
        raise EzsrError(f"{root}: event folder not found")
    extensions = tuple(reader_extensions())
    folders = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    samples: list[EvalSample] = []
    for label, folder in enumerate(folders):
        samples += [EvalSample(p, label) for p in sorted((root / folder).rglob("*"))
                    if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(extensions)]
    used = sorted({s.label for s in samples})
    if len(used) < 2:
        raise EzsrError(f"{root}: zero-shot validation needs class folders of event files ({', '.join(extensions)}) "
                        f"for at least two classes; found {len(used)}")
    if len(used) < len(folders):  # a folder with no events is no class to score
        keep = {old: new for new, old in enumerate(used)}
        folders = [folders[i] for i in used]
        samples = [EvalSample(s.path, keep[s.label]) for s in samples]
    geometries: dict[str, Path] = {}
    for s in samples:
        try:
            with open_reader(s.path) as reader:
                geometries.setdefault(str(reader.geometry), s.path)
        except FormatError as exc:
            raise EzsrError(str(exc)) from None
    if len(geometries) > 1:
        shown = ", ".join(f"{g} ({p.name})" for g, p in list(geometries.items())[:3])
        raise EzsrError(f"{root}: the event files have different sensor sizes: {shown}; synthesise them with "
                        "--geometry WxH")
    from ezsr_live.events import Geometry

    geometry = Geometry.parse(next(iter(geometries)))
    names = [f.replace("_", " ") for f in folders]
    if len(set(names)) != len(names):
        raise EzsrError(f"{root}: class folders {', '.join(folders)} do not name distinct classes")
    return EvalSet("events", root, folders, names, samples, geometry, "resize")
