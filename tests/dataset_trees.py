"""Fake event-dataset trees, laid out exactly as the official releases unpack (folder
names and nesting, file names and extensions), with the real sample recordings copied in
as the samples. The fixtures are registered for every test by tests/conftest.py."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ezsr_live.drivers import open_reader
from ezsr_live.recipes.evaluation.datasets import CIFAR10_FOLDERS, NCALTECH101_FOLDERS


def _copy(target: Path, source: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


# --------------------------------------------------------------------------- official trees


@pytest.fixture
def nmnist_release(samples_dir, tmp_path) -> Path:
    """N-MNIST as Train.zip and Test.zip unpack: N-MNIST/{Train,Test}/{0..9}/NNNNN.bin."""
    top = tmp_path / "N-MNIST"
    for split in ("Train", "Test"):
        for digit in "0123456789":
            _copy(top / split / digit / f"{int(digit) + 2:05d}.bin", samples_dir / "nmnist_sample.bin")
    return top


@pytest.fixture
def ncaltech_release(samples_dir, tmp_path) -> Path:
    """N-Caltech101 as Caltech101.zip and Caltech101_annotations.zip unpack side by side:
    Caltech101/CATEGORY/image_NNNN.bin (100 categories and BACKGROUND_Google) and
    Caltech101_annotations/CATEGORY/annotation_NNNN.bin (no background)."""
    top = tmp_path / "N-Caltech101"
    for category in NCALTECH101_FOLDERS + ("BACKGROUND_Google",):
        _copy(top / "Caltech101" / category / "image_0001.bin", samples_dir / "nmnist_sample.bin")
        if category != "BACKGROUND_Google":
            _copy(top / "Caltech101_annotations" / category / "annotation_0001.bin", samples_dir / "nmnist_sample.bin")
    return top


@pytest.fixture
def ncars_release(samples_dir, tmp_path) -> Path:
    """N-Cars as n-cars_train.zip and n-cars_test.zip unpack: {train,test}/{cars,background}/obj_NNNNNN_td.dat."""
    top = tmp_path / "N-Cars"
    for i, split in enumerate(("train", "test")):
        for j, kind in enumerate(("cars", "background")):
            _copy(top / split / kind / f"obj_{10 * i + j:06d}_td.dat", samples_dir / "ncars_sample.dat")
    return top


def _dvs128_events(samples_dir: Path) -> np.ndarray:
    """Real DVXplorer events inside a 128x128 corner: what a DVS128 could have seen."""
    with open_reader(samples_dir / "dvxplorer_320x240.aedat4") as reader:
        events = reader.read_all()
    events = events[(events["x"] < 128) & (events["y"] < 128)][:20_000]
    events["t"] -= events["t"][0]  # CIFAR10-DVS's jAER stamps are 32-bit µs
    return events


def _write_cifar10dvs_aedat(path: Path, events: np.ndarray) -> Path:
    """AEDAT 2.0 as jAER wrote CIFAR10-DVS: header lines, then big-endian (address,
    timestamp) pairs with DVS128 addresses (x = 127 - (a >> 8 & 0x7F) etc., as
    drivers/aedat2.py and SpikingJelly's loader decode them)."""
    header = b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n"
    addresses = ((127 - events["x"].astype(np.uint32)) << 8) | ((127 - events["y"].astype(np.uint32)) << 1) | (
        1 - events["p"].astype(np.uint32))
    body = np.empty(2 * len(events), ">u4")
    body[0::2], body[1::2] = addresses, events["t"].astype(np.uint32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body.tobytes())
    return path


def _write_spikingjelly_npz(path: Path, events: np.ndarray) -> Path:
    """What SpikingJelly's CIFAR10DVS writes to events_np/CLASS/*.npz: np.savez_compressed
    of t (big-endian uint32, straight from the .aedat words), x, y (uint32) and p (int64)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, t=events["t"].astype(">u4"), x=events["x"].astype(np.uint32),
                        y=events["y"].astype(np.uint32), p=events["p"].astype(np.int64))
    return path


@pytest.fixture
def cifar10dvs_release(samples_dir, tmp_path) -> Path:
    """CIFAR10-DVS as airplane.zip ... truck.zip unpack: CLASS/cifar10_CLASS_N.aedat."""
    top = tmp_path / "CIFAR10-DVS"
    events = _dvs128_events(samples_dir)
    for name in CIFAR10_FOLDERS:
        _write_cifar10dvs_aedat(top / name / f"cifar10_{name}_0.aedat", events)
    return top


def _write_n_imagenet_npz(path: Path, events: np.ndarray) -> Path:
    """An N-ImageNet sample: np.savez_compressed(event_data=...) with fields x, y, t, p."""
    rec = np.empty(len(events), dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "?")])
    for f in "xyt":
        rec[f] = events[f]
    rec["p"] = events["p"] == 1
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, event_data=rec)
    return path


@pytest.fixture
def nimagenet_release(samples_dir, tmp_path) -> Path:
    """N_Imagenet/{extracted_train,extracted_val}/SYNSET/*.npz plus its list files, for
    a few synsets (a mini N-ImageNet)."""
    top = tmp_path / "N_Imagenet"
    with open_reader(samples_dir / "evt2_gen3_640x480.raw") as reader:
        events = reader.read_all()[:20_000]
    for i, synset in enumerate(("n01440764", "n02119789", "n15075141")):
        _write_n_imagenet_npz(top / "extracted_train" / synset / f"{synset}_{10026 + i}.npz", events)
        _write_n_imagenet_npz(top / "extracted_val" / synset / f"ILSVRC2012_val_{293 + i:08d}.npz", events)
    (top / "val_list.txt").write_text("".join(
        f"/home/jhkim/Datasets/N_Imagenet/extracted_val/{p.parent.name}/{p.name}\n"
        for p in sorted((top / "extracted_val").rglob("*.npz"))))
    return top
