"""``torch.utils.data.Dataset`` classes of the event datasets ``ezsr eval`` reads, with
tonic-style ``(events, label)`` items, so that a user can train a head of their own::

    from ezsr_live.datasets import NCaltech101
    data = NCaltech101("N-Caltech101/Caltech101")      # checked as ezsr eval checks --root
    events, label = data[0]                               # EVENT_DTYPE (t, x, y, p), int
    data.classes[label], data.sensor_size                 # "accordion", (240, 180, 2)

Each class validates the root exactly as ``ezsr eval --dataset NAME --root DIR`` does
(class folders, split folders, file extensions, annotation trees; one line saying what
was found and the path to pass instead) and reads every sample in the dataset's fixed
sensor: events outside it are dropped, never the frame re-fitted to a file's bounding
box. :class:`EventFolder` takes any folder of class folders of event files (such as
``ezsr synth IMAGE_DIR -o DIR``). ``transform`` / ``target_transform`` are applied to
the events and the label, as in torchvision and tonic.
"""
from __future__ import annotations

import os
from typing import Any, Callable, ClassVar

from torch.utils.data import Dataset

from ezsr_live.events import EventPacket
from ezsr_live.recipes.evaluation.datasets import EvalSet, discover
from ezsr_live.recipes.evaluation.folder import discover_event_folder

__all__ = ["CIFAR10DVS", "DATASET_CLASSES", "EventDataset", "EventFolder", "NCaltech101", "NCars", "NImageNet",
           "NMNIST", "open_dataset"]


class EventDataset(Dataset):
    """One split of an event dataset: ``(events, label)`` items in the official layout."""

    #: the ``ezsr eval --dataset`` name whose layout this class reads
    name: ClassVar[str] = ""

    def __init__(self, root: str | os.PathLike, *, transform: Callable[[EventPacket], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None, list_file: str | None = None,
                 class_names: str | None = None):
        self.eval_set = self._discover(root, list_file, class_names)
        self.transform = transform
        self.target_transform = target_transform

    def _discover(self, root: str | os.PathLike, list_file: str | None, class_names: str | None) -> EvalSet:
        return discover(self.name, root, list_file=list_file, class_names_file=class_names)

    @property
    def classes(self) -> list[str]:
        """Class names in label order (the zero-shot text ``ezsr eval`` uses)."""
        return list(self.eval_set.class_names)

    @property
    def folders(self) -> list[str]:
        """Class folder names in label order."""
        return list(self.eval_set.folders)

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """(width, height, polarities), as tonic gives it."""
        g = self.eval_set.geometry
        return g.width, g.height, 2

    @property
    def targets(self) -> list[int]:
        return [s.label for s in self.eval_set.samples]

    def __len__(self) -> int:
        return len(self.eval_set.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """The events of sample ``index`` (FormatError naming the file if it is damaged) and its label."""
        from ezsr_live.drivers.registry import open_reader

        sample = self.eval_set.samples[index]
        with open_reader(sample.path, geometry=self.eval_set.geometry) as reader:
            events = reader.read_all()
        label: Any = sample.label
        return (self.transform(events) if self.transform else events,
                self.target_transform(label) if self.target_transform else label)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({str(self.eval_set.root)!r}: {len(self)} samples, "
                f"{len(self.classes)} classes, sensor {self.eval_set.geometry})")


class NImageNet(EventDataset):
    """N-ImageNet: ``N_Imagenet/extracted_val`` (or ``extracted_train``), 640x480."""

    name = "nimagenet"


class NCaltech101(EventDataset):
    """N-Caltech101: the ``Caltech101`` folder of the release, 240x180."""

    name = "ncaltech101"


class CIFAR10DVS(EventDataset):
    """CIFAR10-DVS: the folder of the ten class folders, 128x128."""

    name = "cifar10dvs"


class NMNIST(EventDataset):
    """N-MNIST: ``N-MNIST/Test`` or ``N-MNIST/Train``, 34x34."""

    name = "nmnist"


class NCars(EventDataset):
    """N-Cars: ``test`` or ``train`` of the release, 120x100."""

    name = "ncars"


class EventFolder(EventDataset):
    """Any folder of class folders of event files in one sensor size (folder names are
    the classes); ``list_file`` and ``class_names`` do not apply."""

    name = "events"

    def _discover(self, root: str | os.PathLike, list_file: str | None, class_names: str | None) -> EvalSet:
        if list_file or class_names:
            raise ValueError("EventFolder takes no list_file or class_names")
        return discover_event_folder(root)


#: ``ezsr eval --dataset`` name -> its Dataset class
DATASET_CLASSES: dict[str, type[EventDataset]] = {
    cls.name: cls for cls in (NImageNet, NCaltech101, CIFAR10DVS, NMNIST, NCars, EventFolder)
}


def open_dataset(name: str, root: str | os.PathLike, **kwargs: Any) -> EventDataset:
    """The Dataset of ``name`` (an ``ezsr eval --dataset`` value, or ``events``) at ``root``."""
    from ezsr_live.errors import EzsrError

    cls = DATASET_CLASSES.get(name)
    if cls is None:
        raise EzsrError(f"unknown dataset {name!r}; choose one of {', '.join(DATASET_CLASSES)}")
    return cls(root, **kwargs)
