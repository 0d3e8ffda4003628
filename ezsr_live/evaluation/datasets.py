"""Event datasets in their usual folder layouts, with the class names zero-shot needs.

Every layout is "one folder per class" under ``--root`` (point it at the split, e.g.
``N_Imagenet/extracted_val``, ``N-MNIST/Test``, ``N-Cars/test``); every file inside a
class folder with a readable event extension is a sample.

=============  ========================  ==============================================
dataset        class folders             class names
=============  ========================  ==============================================
nimagenet      ImageNet synsets          open_clip's IMAGENET_CLASSNAMES by synset index
ncaltech101    Caltech-101 categories    readable category names; BACKGROUND_Google skipped
cifar10dvs     CIFAR-10 classes          the folder names
nmnist         0 ... 9                   "zero" ... "nine"
ncars          cars, background          "car", "background"
=============  ========================  ==============================================

N-ImageNet: the ImageNet index of a synset is its rank in the sorted list of the 1,000
synsets, and IMAGENET_CLASSNAMES is in that order. So a root holding all 1,000 synset
folders needs nothing else. Neither open_clip nor torchvision ships the synset list, so
a root holding only some synsets needs ``--class-names FILE``: the 1,000 synsets one per
line in ImageNet order (LOC_synset_mapping.txt works), or ``SYNSET NAME`` lines. An
optional list file (N-ImageNet's ``val_list.txt`` style: one relative path per line)
selects the samples. ``--class-names`` also overrides any layout's names with
``FOLDER NAME`` lines.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ezsr_live.errors import EzsrError
from ezsr_live.events import Geometry

DATASETS = ("nimagenet", "ncaltech101", "cifar10dvs", "nmnist", "ncars")
_SYNSET = re.compile(r"^n\d{8}$")
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_CALTECH_SPECIAL = {"airplanes": "airplane", "faces_easy": "face", "faces": "face", "leopards": "leopard",
                    "motorbikes": "motorbike"}


@dataclass(frozen=True)
class EvalSample:
    path: Path
    label: int


@dataclass
class EvalSet:
    dataset: str
    root: Path
    folders: list[str]  # class folder names, in label order
    class_names: list[str]  # zero-shot label text, in label order
    samples: list[EvalSample]
    geometry: Geometry | None  # fixed sensor of the dataset; None: each file's own
    coords: str  # "direct" (coordinates scaled into S x S, official N-ImageNet) or "resize"


def _read_lines(path: str | os.PathLike) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EzsrError(f"{path}: unreadable list file: {exc}") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _caltech_name(folder: str) -> str:
    """The readable name ``ezsr_live.model.builtin_labels.CALTECH101`` uses for a folder."""
    key = folder.lower()
    return _CALTECH_SPECIAL.get(key, key.replace("_", " "))


def _default_names(dataset: str, folders: list[str]) -> list[str]:
    if dataset == "nimagenet":
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        if len(folders) != len(IMAGENET_CLASSNAMES):
            raise EzsrError(f"N-ImageNet root has {len(folders)} synset folders, not 1000: their ImageNet "
                            "indices are unknown without the synset list; pass --class-names FILE "
                            "(the 1000 synsets in ImageNet order, e.g. LOC_synset_mapping.txt)")
        return list(IMAGENET_CLASSNAMES)
    if dataset == "ncaltech101":
        return [_caltech_name(f) for f in folders]
    if dataset == "nmnist":
        return [_DIGITS[int(f)] if f.isdigit() and int(f) < 10 else f for f in folders]
    if dataset == "ncars":
        return ["car" if f.lower() in ("cars", "car") else f.lower() for f in folders]
    return [f.replace("_", " ") for f in folders]


def _names_from_file(dataset: str, folders: list[str], path: str) -> list[str]:
    lines = _read_lines(path)
    pairs = [ln.split(None, 1) for ln in lines]
    if dataset == "nimagenet" and all(_SYNSET.match(p[0]) for p in pairs) and len(pairs) == 1000:
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        index = {p[0]: i for i, p in enumerate(pairs)}
        missing = [f for f in folders if f not in index]
        if missing:
            raise EzsrError(f"{path}: synsets {', '.join(missing[:5])} are not in the list")
        return [IMAGENET_CLASSNAMES[index[f]] for f in folders]
    mapping = {p[0]: (p[1].strip() if len(p) > 1 else p[0]) for p in pairs}
    missing = [f for f in folders if f not in mapping]
    if missing:
        raise EzsrError(f"{path}: no name for class folders {', '.join(missing[:5])}")
    return [mapping[f] for f in folders]


def discover(
    dataset: str,
    root: str | os.PathLike,
    *,
    list_file: str | None = None,
    class_names_file: str | None = None,
) -> EvalSet:
    """The samples and class names of ``dataset`` under ``root``."""
    from ezsr_live.drivers.registry import reader_extensions

    if dataset not in DATASETS:
        raise EzsrError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise EzsrError(f"{root}: dataset root not found")
    extensions = tuple(reader_extensions())

    def readable(p: Path) -> bool:
        return p.is_file() and p.name.lower().endswith(extensions)

    folders = sorted(d.name for d in root.iterdir() if d.is_dir())
    if dataset == "ncaltech101":
        folders = [f for f in folders if f != "BACKGROUND_Google"]
    if dataset == "nimagenet":
        folders = [f for f in folders if _SYNSET.match(f)]
    if not folders:
        raise EzsrError(f"{root}: no class folders found for {dataset}")
    label_of = {f: i for i, f in enumerate(folders)}
    samples: list[EvalSample] = []
    if list_file:
        for rel in _read_lines(list_file):
            path = root / rel
            if not path.is_file():  # N-ImageNet lists carry the split folder: try without it
                path = root / Path(*Path(rel).parts[-2:])
            if path.parent.name not in label_of or not readable(path):
                raise EzsrError(f"{list_file}: {rel} is not a sample file under {root}")
            samples.append(EvalSample(path, label_of[path.parent.name]))
    else:
        for f in folders:
            samples += [EvalSample(p, label_of[f]) for p in sorted((root / f).rglob("*")) if readable(p)]
    if not samples:
        raise EzsrError(f"{root}: no event files ({', '.join(extensions)}) in the class folders")
    names = _names_from_file(dataset, folders, class_names_file) if class_names_file else _default_names(dataset, folders)
    if dataset == "nimagenet":
        return EvalSet(dataset, root, folders, names, samples, Geometry(640, 480), "direct")
    return EvalSet(dataset, root, folders, names, samples, None, "resize")
