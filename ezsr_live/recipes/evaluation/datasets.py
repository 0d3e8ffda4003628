"""Event datasets in their official folder layouts, with the class names zero-shot needs.

``--root`` is one split's folder of class folders, exactly as the official release
unpacks; every file with the dataset's extension inside a class folder is a sample:

===========  ====================================  =======================  ===============  =======
dataset      --root                                class folders            files            sensor
===========  ====================================  =======================  ===============  =======
nimagenet    ``N_Imagenet/extracted_val`` (or      ImageNet synsets         ``.npz``         640x480
             ``extracted_train``, ``N_Imagenet_    ``n########``
             cam/val_mode_*``)
ncaltech101  ``Caltech101`` (of ``Caltech101.zip``;  the 100 categories;      ``.bin``         240x180
             its sibling ``Caltech101_             ``BACKGROUND_Google``
             annotations`` holds no events)        skipped
cifar10dvs   the folder of the ten class folders   ``airplane`` ...         ``.aedat``       128x128
             (one per ``airplane.zip`` ...)        ``truck``                (``.aedat4``,
                                                                            ``.npz``)
nmnist       ``N-MNIST/Test`` or ``Train``         ``0`` ... ``9``          ``.bin``         34x34
ncars        ``test`` or ``train`` (of             ``background``,          ``.dat``         120x100
             ``n-cars_test.zip`` ...)              ``cars``
===========  ====================================  =======================  ===============  =======

A root that is not such a folder is refused with what was found and, when the root is
one level off (it holds the split folders, or the dataset's top folder), the path to
pass instead. Unknown folders beside the class folders are refused too (a wrong root
would otherwise become a class); a subset of the classes is accepted with a warning.
CIFAR10-DVS also comes as tonic's ``.aedat4`` mirror and SpikingJelly's ``events_np``
(``.npz`` with ``t``, ``x``, ``y``, ``p``); N-MNIST and N-Caltech101 as SpikingJelly
``.npz`` too.

Every sample is framed in its dataset's fixed sensor (the table above), never in the
bounding box of its own events: a narrow N-Cars sample would otherwise be magnified and
cropped differently from its neighbours. Sources: N-MNIST 34x34 and N-Cars 120x100 as
tonic's ``sensor_size``; N-Caltech101's images were scaled to fit 240x180 before the
ATIS recorded them (Orchard et al. 2015; SpikingJelly's ``get_H_W`` is (180, 240), and
tonic measured at most 233x173); CIFAR10-DVS was recorded with a DVS128; N-ImageNet with
a 640x480 Prophesee Gen3.

Class names: N-MNIST "zero" ... "nine", N-Cars "background"/"car", CIFAR10-DVS its
folder names, N-Caltech101 the readable names of ``ezsr_live.model.builtin_labels``
(``Faces_easy`` -> "face"; original Caltech-101's ``Faces``, which N-Caltech101 dropped,
is "off-center face" as in CLIP's Caltech-101 names), N-ImageNet open_clip's
IMAGENET_CLASSNAMES by ImageNet index. Class names must be distinct, except the two
pairs open_clip's ImageNet list itself repeats ("missile", "sunglasses": distinct
synsets CLIP names alike; they share one text embedding, as in CLIP's own evaluation).

N-ImageNet: the ImageNet index of a synset is its rank in the sorted list of the 1,000
ImageNet-1k synsets, which timm (a dependency of open_clip) ships as
``timm/data/_info/imagenet_synsets.txt``; so any subset of synset folders (mini
N-ImageNet's 100) needs nothing else. ``--class-names FILE`` may give that order
instead: the 1000 synsets one per line in ImageNet order (LOC_synset_mapping.txt
works), or the N-ImageNet devkit's ``mapping.txt``, whose lines hold the synset as
their second token (``ID SYNSET WORDS``): the official loader
(github.com/82magnolia/n_imagenet, ``data/imagenet.py``) takes the second tokens of the
first 1,000 lines and sorts them, and so do we. ``--class-names`` also renames any
layout's classes with ``FOLDER NAME`` lines. An optional list file (N-ImageNet's
``val_list.txt`` style: one path per line) selects the samples.
"""
from __future__ import annotations

import collections
import importlib.util
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ezsr_live.errors import EzsrError
from ezsr_live.events import Geometry

log = logging.getLogger(__name__)

_SYNSET = re.compile(r"^n\d{8}$")
_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

#: N-Caltech101's category folders, as Caltech101.zip unpacks them (original Caltech-101
#: minus its duplicate "Faces" class, which N-Caltech101 removed)
NCALTECH101_FOLDERS = (
    "Faces_easy", "Leopards", "Motorbikes", "accordion", "airplanes", "anchor", "ant", "barrel", "bass",
    "beaver", "binocular", "bonsai", "brain", "brontosaurus", "buddha", "butterfly", "camera", "cannon",
    "car_side", "ceiling_fan", "cellphone", "chair", "chandelier", "cougar_body", "cougar_face", "crab",
    "crayfish", "crocodile", "crocodile_head", "cup", "dalmatian", "dollar_bill", "dolphin", "dragonfly",
    "electric_guitar", "elephant", "emu", "euphonium", "ewer", "ferry", "flamingo", "flamingo_head",
    "garfield", "gerenuk", "gramophone", "grand_piano", "hawksbill", "headphone", "hedgehog", "helicopter",
    "ibis", "inline_skate", "joshua_tree", "kangaroo", "ketch", "lamp", "laptop", "llama", "lobster",
    "lotus", "mandolin", "mayfly", "menorah", "metronome", "minaret", "nautilus", "octopus", "okapi",
    "pagoda", "panda", "pigeon", "pizza", "platypus", "pyramid", "revolver", "rhino", "rooster",
    "saxophone", "schooner", "scissors", "scorpion", "sea_horse", "snoopy", "soccer_ball", "stapler",
    "starfish", "stegosaurus", "stop_sign", "strawberry", "sunflower", "tick", "trilobite", "umbrella",
    "watch", "water_lilly", "wheelchair", "wild_cat", "windsor_chair", "wrench", "yin_yang",
)
#: readable names where the folder name is not one (plural, capitalised, duplicate faces)
_CALTECH_SPECIAL = {"airplanes": "airplane", "faces_easy": "face", "faces": "off-center face",
                    "leopards": "leopard", "motorbikes": "motorbike"}
CIFAR10_FOLDERS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_ARCHIVES = (".zip", ".7z", ".tar", ".tar.gz", ".tgz", ".rar")


@dataclass(frozen=True)
class DatasetLayout:
    """One split of a dataset as its official release lays it out."""

    name: str  # the CLI's --dataset value
    title: str  # as the dataset calls itself, for messages
    geometry: Geometry  # the fixed sensor every sample is framed in
    coords: str  # "direct" (official N-ImageNet evaluation) or "resize"
    extensions: tuple[str, ...]  # sample files, lower case, the official one first
    classes: tuple[str, ...] | None  # the official class folders; None: ImageNet synset folders
    default_names: Callable[[list[str]], list[str]]
    skipped: tuple[str, ...] = ()  # folders of the release that are not classes
    extra_classes: tuple[str, ...] = ()  # accepted beyond the official classes
    splits: tuple[str, ...] = ()  # the release's split folders above the class folders
    annotation_prefix: str | None = None  # files of a sibling annotation tree, not events
    events_folder: str | None = None  # the release's events folder, beside its annotations

    def is_class(self, folder: str) -> bool:
        if self.classes is None:
            return bool(_SYNSET.match(folder))
        return folder in self.classes or folder in self.extra_classes

    @property
    def n_classes(self) -> int:
        return 1000 if self.classes is None else len(self.classes)

    def expected(self) -> str:
        if self.classes is None:
            return "ImageNet synset folders n########"
        shown = ", ".join(self.classes[:4]) + (", ..." if len(self.classes) > 4 else "")
        return f"the {len(self.classes)} class folders {shown}"

    def accepts(self, filename: str) -> bool:
        return filename.lower().endswith(self.extensions)


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
    geometry: Geometry  # the dataset's fixed sensor: every sample is framed in it
    coords: str  # "direct" (coordinates scaled into S x S, official N-ImageNet) or "resize"


def _caltech_name(folder: str) -> str:
    """The readable name ``ezsr_live.model.builtin_labels.CALTECH101`` uses for a folder."""
    key = folder.lower()
    return _CALTECH_SPECIAL.get(key, key.replace("_", " "))


def _imagenet_synsets() -> list[str] | None:
    """The 1,000 ImageNet-1k synsets in index order, from timm's package data (found
    without importing timm, which would load its model zoo); None without timm."""
    spec = importlib.util.find_spec("timm")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "_info" / "imagenet_synsets.txt"
        if path.is_file():
            synsets = path.read_text(encoding="utf-8").split()
            if len(synsets) == 1000 and all(_SYNSET.match(s) for s in synsets):
                return synsets
    return None


def _imagenet_names(folders: list[str]) -> list[str]:
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    synsets = _imagenet_synsets()
    if synsets is None:
        if len(folders) != 1000:
            raise EzsrError(f"N-ImageNet root has {len(folders)} synset folders, not 1000, and timm's synset list "
                            "(timm/data/_info/imagenet_synsets.txt) is not installed: pass --class-names FILE "
                            "(the 1000 synsets in ImageNet order, e.g. LOC_synset_mapping.txt)")
        synsets = sorted(folders)
    return _names_by_synset_order(folders, synsets, "timm's ImageNet-1k synset list", IMAGENET_CLASSNAMES)


def _names_by_synset_order(folders: list[str], order: list[str], what: str, classnames: list[str]) -> list[str]:
    index = {s: i for i, s in enumerate(order)}
    unknown = [f for f in folders if f not in index]
    if unknown:
        raise EzsrError(f"synset folders {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''} "
                        f"are not in {what}: not ImageNet-1k classes")
    return [classnames[index[f]] for f in folders]


LAYOUTS: dict[str, DatasetLayout] = {
    layout.name: layout
    for layout in (
        DatasetLayout(
            "nimagenet", "N-ImageNet", Geometry(640, 480), "direct", (".npz",), None, _imagenet_names,
            splits=("extracted_train", "extracted_val"),
        ),
        DatasetLayout(
            "ncaltech101", "N-Caltech101", Geometry(240, 180), "resize", (".bin", ".npz"), NCALTECH101_FOLDERS,
            lambda folders: [_caltech_name(f) for f in folders],
            skipped=("BACKGROUND_Google",), extra_classes=("Faces",),
            annotation_prefix="annotation_", events_folder="Caltech101",
        ),
        DatasetLayout(
            "cifar10dvs", "CIFAR10-DVS", Geometry(128, 128), "resize", (".aedat", ".aedat4", ".npz"),
            CIFAR10_FOLDERS, lambda folders: list(folders),
        ),
        DatasetLayout(
            "nmnist", "N-MNIST", Geometry(34, 34), "resize", (".bin", ".npz"), tuple("0123456789"),
            lambda folders: [_DIGITS[int(f)] for f in folders], splits=("Train", "Test"),
        ),
        DatasetLayout(
            "ncars", "N-Cars", Geometry(120, 100), "resize", (".dat",), ("background", "cars"),
            lambda folders: ["car" if f == "cars" else f for f in folders], splits=("train", "test"),
        ),
    )
}
DATASETS = tuple(LAYOUTS)


def _read_lines(path: str | os.PathLike) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EzsrError(f"{path}: unreadable list file: {exc}") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _subdirs(folder: Path) -> list[str]:
    # macOS zip extraction leaves __MACOSX beside the real folders; hidden folders are tools'
    try:
        return sorted(d.name for d in folder.iterdir()
                      if d.is_dir() and not d.name.startswith(".") and d.name != "__MACOSX")
    except OSError:
        return []


def _listing(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _wrong_root(layout: DatasetLayout, root: Path, subdirs: list[str]) -> str:
    """Why ``root`` holds no class folders, and which path to pass instead."""
    title = layout.title
    nested = [d for d in subdirs if any(layout.is_class(s) for s in _subdirs(root / d))]
    annotations = [d for d in nested if "annotation" in d.lower()]
    event_dirs = [d for d in nested if d not in annotations]
    if event_dirs:
        # evaluation is on the test split: suggest it where the release has one
        pick = next((d for d in event_dirs if re.search("test|val", d, re.IGNORECASE)), event_dirs[0])
        splits = {s.lower() for s in layout.splits}
        kind = "splits" if splits and all(d.lower() in splits for d in event_dirs) else (
            "dataset folder" if len(event_dirs) == 1 else "dataset folders")
        also = f" (and the annotations {', '.join(annotations)}, which hold no events)" if annotations else ""
        return f"{title} root {root} holds the {kind} {', '.join(event_dirs)}{also}: pass --root {root / pick}"
    if annotations:
        folder = f"the {layout.events_folder} folder" if layout.events_folder else "the event_dirs folder"
        return (f"{title} root {root} holds only the annotations {', '.join(annotations)}, which hold no event_dirs: "
                f"pass {folder} of the release")
    files = sorted(p.name for p in root.iterdir() if p.is_file() and layout.accepts(p.name))
    if files:
        what = f"the class folder {root.name}" if layout.is_class(root.name) else "a single class folder"
        count = f"{len(files)} {layout.extensions[0]} file{'' if len(files) == 1 else 's'}"
        return (f"{title} root {root} holds {count} ({files[0]} ...) but no class folders: it looks like {what}; "
                f"pass its parent --root {root.parent}")
    archives = sorted(p.name for p in root.iterdir() if p.is_file() and p.name.lower().endswith(_ARCHIVES))
    if archives:
        return f"{title} root {root} holds the archives {_listing(archives)}: extract them and pass the split folder"
    found = f"found {_listing(subdirs)}" if subdirs else "it holds no folders"
    return f"{title} root {root}: no {title} class folders ({found}; expected {layout.expected()})"


def _class_folders(layout: DatasetLayout, root: Path, named: set[str]) -> list[str]:
    """The class folders under ``root`` in label order (``named``: folders a
    ``--class-names`` file names, accepted beyond the official ones)."""
    subdirs = _subdirs(root)
    folders = [d for d in subdirs if layout.is_class(d) or d in named]
    if not folders:
        raise EzsrError(_wrong_root(layout, root, subdirs))
    others = [d for d in subdirs if d not in folders and d not in layout.skipped]
    if others:
        raise EzsrError(f"{layout.title} root {root}: {_listing(others)} {'is not a' if len(others) == 1 else 'are not'} "
                        f"{layout.title} class folder{'' if len(others) == 1 else 's'} (expected {layout.expected()}); "
                        "name extra classes with --class-names FILE ('FOLDER NAME' lines)")
    official = [f for f in folders if layout.is_class(f)]
    if len(official) < layout.n_classes:
        log.warning("%s root %s holds %d of the %d classes: scoring a %d-class problem",
                    layout.title, root, len(official), layout.n_classes, len(folders))
    return folders


def _samples(layout: DatasetLayout, root: Path, folders: list[str], list_file: str | None) -> list[EvalSample]:
    label_of = {f: i for i, f in enumerate(folders)}
    samples: list[EvalSample] = []
    ignored: list[Path] = []
    if list_file:
        for rel in _read_lines(list_file):
            path = root / rel
            if not path.is_file():  # N-ImageNet lists carry the split folder: try without it
                path = root / Path(*Path(rel).parts[-2:])
            if path.parent.name not in label_of or not path.is_file() or not layout.accepts(path.name):
                raise EzsrError(f"{list_file}: {rel} is not a {layout.title} sample file under {root}")
            samples.append(EvalSample(path, label_of[path.parent.name]))
    else:
        for f in folders:
            for p in sorted((root / f).rglob("*")):
                if not p.is_file() or p.name.startswith("."):
                    continue
                if layout.accepts(p.name):
                    samples.append(EvalSample(p, label_of[f]))
                else:
                    ignored.append(p)
    exts = "/".join(layout.extensions)
    if not samples:
        other = f" (found {len(ignored)} other files such as {ignored[0].name})" if ignored else ""
        raise EzsrError(f"{layout.title} root {root}: no {exts} files in the class folders{other}")
    if ignored:
        log.warning("%s: ignored %d files that are not %s, such as %s", root, len(ignored), exts, ignored[0])
    if layout.annotation_prefix:
        notes = [s.path for s in samples if s.path.name.startswith(layout.annotation_prefix)]
        if notes:
            sibling = root.parent / (layout.events_folder or "")
            instead = f": pass --root {sibling}" if layout.events_folder and sibling.is_dir() and sibling != root else (
                f": pass the {layout.events_folder} folder of the release" if layout.events_folder else "")
            raise EzsrError(f"{layout.title} root {root} holds annotation files ({notes[0].name} ...), not events"
                            + instead)
    return samples


def _names_from_file(layout: DatasetLayout, folders: list[str], path: str) -> tuple[list[str], bool]:
    """Class names from ``--class-names``; True when they are ImageNet's by synset order."""
    lines = _read_lines(path)
    pairs = [ln.split(None, 1) for ln in lines]
    if layout.name == "nimagenet":
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        tokens = [ln.split() for ln in lines]
        devkit = [t for t in tokens[:1000] if len(t) >= 2 and _SYNSET.match(t[1]) and not _SYNSET.match(t[0])]
        if tokens and len(devkit) == min(len(tokens), 1000):
            # the N-ImageNet devkit's mapping.txt: the official loader's label order
            if len(devkit) < 1000 or len({t[1] for t in devkit}) != 1000:
                raise EzsrError(f"{path}: a mapping.txt-style list (ID SYNSET ...) needs 1000 distinct synsets in its "
                                f"first 1000 lines, found {len({t[1] for t in devkit})}")
            order = sorted(t[1] for t in devkit)
            return _names_by_synset_order(folders, order, path, IMAGENET_CLASSNAMES), True
        if len(pairs) == 1000 and all(_SYNSET.match(p[0]) for p in pairs):
            order = [p[0] for p in pairs]
            return _names_by_synset_order(folders, order, path, IMAGENET_CLASSNAMES), True
    mapping = {p[0]: (p[1].strip() if len(p) > 1 else p[0]) for p in pairs}
    missing = [f for f in folders if f not in mapping]
    if missing:
        raise EzsrError(f"{path}: no name for class folders {', '.join(missing[:5])}")
    return [mapping[f] for f in folders], False


def _check_distinct(layout: DatasetLayout, root: Path, folders: list[str], names: list[str], imagenet: bool) -> None:
    """Two classes with one name score alike and collapse into one CSV row: refused,
    except the repeats of open_clip's own ImageNet list (see the module docstring)."""
    by_name: dict[str, list[str]] = collections.defaultdict(list)
    for folder, name in zip(folders, names):
        by_name[name].append(folder)
    repeated = {n: fs for n, fs in by_name.items() if len(fs) > 1}
    if imagenet and repeated:
        from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

        upstream = {n for n, c in collections.Counter(IMAGENET_CLASSNAMES).items() if c > 1}
        for n in list(repeated):
            if n in upstream:
                log.info("%s: synsets %s share open_clip's ImageNet name %r", root, ", ".join(repeated.pop(n)), n)
    if repeated:
        name, fs = next(iter(repeated.items()))
        raise EzsrError(f"{layout.title} root {root}: class names must be distinct, but {name!r} names "
                        f"{' and '.join(fs)}; give them distinct names with --class-names FILE ('FOLDER NAME' lines)")


def discover(
    dataset: str,
    root: str | os.PathLike,
    *,
    list_file: str | None = None,
    class_names_file: str | None = None,
) -> EvalSet:
    """The samples and class names of ``dataset`` under ``root`` (see the module docstring)."""
    layout = LAYOUTS.get(dataset)
    if layout is None:
        raise EzsrError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    root = Path(root)
    if not root.is_dir():
        raise EzsrError(f"{root}: dataset root not found")
    named = {ln.split(None, 1)[0] for ln in _read_lines(class_names_file)} if class_names_file else set()
    folders = _class_folders(layout, root, named)
    samples = _samples(layout, root, folders, list_file)
    if class_names_file:
        names, imagenet = _names_from_file(layout, folders, class_names_file)
    else:
        names, imagenet = layout.default_names(folders), layout.name == "nimagenet"
    _check_distinct(layout, root, folders, names, imagenet)
    return EvalSet(dataset, root, folders, names, samples, layout.geometry, layout.coords)
