"""``ezsr_live.datasets``: one torch Dataset per supported dataset, with the layout checks
of ``ezsr eval`` and tonic-style ``(events, label)`` items, on trees laid out as the
official releases unpack (the real sample recordings copied in)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ezsr_live.datasets import (CIFAR10DVS, DATASET_CLASSES, NMNIST, EventFolder, NCaltech101, NCars, NImageNet,
                                open_dataset)
from ezsr_live.drivers import open_reader
from ezsr_live.errors import EzsrError
from ezsr_live.events import EVENT_DTYPE, Geometry
from ezsr_live.recipes.evaluation import DATASETS
from ezsr_live.recipes.evaluation.datasets import NCALTECH101_FOLDERS


def test_every_evaluated_dataset_has_a_dataset_class():
    assert set(DATASETS) <= set(DATASET_CLASSES)


def test_nmnist_items_are_the_files_events_in_its_34x34_sensor(nmnist_release, samples_dir, reference):
    data = NMNIST(nmnist_release / "Test")
    assert len(data) == 10 and data.classes[:2] == ["zero", "one"] and data.sensor_size == (34, 34, 2)
    events, label = data[3]
    assert events.dtype == EVENT_DTYPE and label == 3 and data.targets == list(range(10))
    ref = reference["nmnist_sample.bin"]
    assert (len(events), int(events["t"][0]), int(events["x"].max())) == (ref["n_events"], ref["t_first"], ref["x_max"])
    # structured arrays of different lengths: no default collation, as with tonic
    loader = torch.utils.data.DataLoader(data, batch_size=None, shuffle=False, collate_fn=lambda item: item)
    assert [int(lbl) for _, lbl in loader] == list(range(10))


def test_each_official_layout_opens_with_its_names_and_sensor(ncaltech_release, ncars_release, cifar10dvs_release,
                                                              nimagenet_release):
    caltech = NCaltech101(ncaltech_release / "Caltech101")
    assert len(caltech.classes) == len(NCALTECH101_FOLDERS) and caltech.sensor_size == (240, 180, 2)
    assert caltech.classes[caltech.folders.index("Faces_easy")] == "face"
    cars = NCars(ncars_release / "test")
    assert cars.classes == ["background", "car"] and cars.sensor_size == (120, 100, 2)
    assert CIFAR10DVS(cifar10dvs_release).sensor_size == (128, 128, 2)
    imagenet = NImageNet(nimagenet_release / "extracted_val")
    assert imagenet.sensor_size == (640, 480, 2) and len(imagenet) > 0
    events, _ = open_dataset("ncars", ncars_release / "test")[0]
    assert events["x"].max() < 120 and events["y"].max() < 100  # framed in the fixed sensor


def test_a_root_one_level_off_is_refused_as_ezsr_eval_refuses_it(nmnist_release, ncaltech_release):
    with pytest.raises(EzsrError, match=r"pass --root .*Test"):
        NMNIST(nmnist_release)
    with pytest.raises(EzsrError, match="annotation"):
        NCaltech101(ncaltech_release / "Caltech101_annotations")
    with pytest.raises(EzsrError, match="unknown dataset"):
        open_dataset("mnist", nmnist_release)


def test_transforms_apply_to_events_and_labels(nmnist_release):
    data = NMNIST(nmnist_release / "Test", transform=lambda ev: len(ev), target_transform=lambda y: y * 10)
    n, label = data[2]
    assert isinstance(n, int) and n > 0 and label == 20


def test_event_folder_reads_synthesised_class_folders(image_tree, tmp_path):
    from ezsr_live.cli.toolbox import main

    out = tmp_path / "ev"
    assert main(["synth", str(image_tree), "-o", str(out), "--no-progress", "--geometry", "64x48"]) == 0
    data = EventFolder(out)
    assert data.classes == ["airplane", "cat", "ship"] and len(data) == 24 and data.sensor_size == (64, 48, 2)
    events, label = data[9]
    with open_reader(data.eval_set.samples[9].path) as reader:
        np.testing.assert_array_equal(events, reader.read_all())
        assert reader.geometry == Geometry(64, 48)
    assert label == 1
