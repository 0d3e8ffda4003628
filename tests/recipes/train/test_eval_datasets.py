"""Event dataset layouts, class names, sensors and evaluation windows.

The trees are built exactly as the official releases unpack (folder names and nesting,
file names and extensions), with the real sample recordings copied in as the samples."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

from ezsr_live.drivers import open_reader
from ezsr_live.errors import EzsrError
from ezsr_live.recipes.evaluation import EvalConfig, Scores, discover, select_window
from ezsr_live.recipes.evaluation.datasets import CIFAR10_FOLDERS, _imagenet_synsets
from ezsr_live.recipes.evaluation.runner import sample_frame
from ezsr_live.events import Geometry
from ezsr_live.kernels import ezsr_model_input
from ezsr_live.model.builtin_labels import CALTECH101
from tests.dataset_trees import _copy, _dvs128_events, _write_spikingjelly_npz


# --------------------------------------------------------------------------- right roots


def test_official_nmnist_test_split_has_ten_digit_classes_on_a_34x34_sensor(nmnist_release):
    s = discover("nmnist", nmnist_release / "Test")
    assert s.folders == list("0123456789")
    assert s.class_names == ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    assert [x.label for x in s.samples] == list(range(10))
    assert s.geometry == Geometry(34, 34) and s.coords == "resize"


def test_official_ncaltech101_has_its_100_categories_with_builtin_names(ncaltech_release):
    s = discover("ncaltech101", ncaltech_release / "Caltech101")
    assert "BACKGROUND_Google" not in s.folders and len(s.folders) == 100
    assert sorted(s.class_names) == sorted(CALTECH101)  # the vocabulary `--labels caltech101` gives
    assert s.geometry == Geometry(240, 180)
    assert all(x.path.name == "image_0001.bin" for x in s.samples)


def test_faces_and_faces_easy_get_distinct_names(ncaltech_release, samples_dir):
    # original Caltech-101 has both; N-Caltech101 dropped Faces, a self-converted tree may not
    root = ncaltech_release / "Caltech101"
    _copy(root / "Faces" / "image_0001.bin", samples_dir / "nmnist_sample.bin")
    s = discover("ncaltech101", root)
    names = dict(zip(s.folders, s.class_names))
    assert names["Faces"] == "off-center face" and names["Faces_easy"] == "face"
    assert len(set(s.class_names)) == len(s.class_names) == 101


def test_duplicate_class_names_are_refused(nmnist_release, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{d} digit {d}\n" for d in "0123456789").replace("digit 7", "digit 1"))
    with pytest.raises(EzsrError, match=r"class names must be distinct, but 'digit 1' names 1 and 7"):
        discover("nmnist", nmnist_release / "Test", class_names_file=str(names))


def test_official_ncars_and_cifar10dvs_splits(ncars_release, cifar10dvs_release):
    s = discover("ncars", ncars_release / "test")
    assert s.folders == ["background", "cars"] and s.class_names == ["background", "car"]
    assert s.geometry == Geometry(120, 100)
    s = discover("cifar10dvs", cifar10dvs_release)
    assert s.class_names == list(CIFAR10_FOLDERS) and s.geometry == Geometry(128, 128)
    assert np.isfinite(sample_frame(s.samples[3], 3, s, EvalConfig(), 32)).all()


def test_cifar10dvs_as_spikingjelly_npz_reads_the_same_events(samples_dir, tmp_path, cifar10dvs_release):
    events = _dvs128_events(samples_dir)
    root = tmp_path / "CIFAR10DVS"
    for name in CIFAR10_FOLDERS:
        _write_spikingjelly_npz(root / "events_np" / name / f"cifar10_{name}_0.npz", events)
    with pytest.raises(EzsrError, match=rf"holds the dataset folder events_np: pass --root {root / 'events_np'}$"):
        discover("cifar10dvs", root)
    npz = discover("cifar10dvs", root / "events_np")
    aedat = discover("cifar10dvs", cifar10dvs_release)
    assert npz.folders == aedat.folders
    with open_reader(npz.samples[0].path) as reader:
        assert reader.info.header["layout"] == "spikingjelly"
        assert reader.read_all().tobytes() == events.tobytes()
    np.testing.assert_array_equal(sample_frame(npz.samples[0], 0, npz, EvalConfig(), 64),
                                  sample_frame(aedat.samples[0], 0, aedat, EvalConfig(), 64))


# --------------------------------------------------------------------------- wrong roots


def test_ncaltech101_top_folder_is_refused_with_the_events_folder_to_pass(ncaltech_release):
    # the old code scored a 2-class problem here: "caltech101" vs "caltech101 annotations"
    with pytest.raises(EzsrError) as info:
        discover("ncaltech101", ncaltech_release)
    assert str(info.value) == (
        f"N-Caltech101 root {ncaltech_release} holds the dataset folder Caltech101 (and the annotations "
        f"Caltech101_annotations, which hold no events): pass --root {ncaltech_release / 'Caltech101'}")


def test_ncaltech101_annotations_are_not_events(ncaltech_release):
    with pytest.raises(EzsrError, match=r"holds annotation files \(annotation_0001\.bin \.\.\.\), not events: "
                                        rf"pass --root {ncaltech_release / 'Caltech101'}$"):
        discover("ncaltech101", ncaltech_release / "Caltech101_annotations")


def test_nmnist_top_folder_is_refused_with_the_test_split_to_pass(nmnist_release):
    # the old code scored "Test" vs "Train"
    with pytest.raises(EzsrError) as info:
        discover("nmnist", nmnist_release)
    assert str(info.value) == (f"N-MNIST root {nmnist_release} holds the splits Test, Train: "
                               f"pass --root {nmnist_release / 'Test'}")


def test_a_class_folder_given_as_root_points_to_its_parent(nmnist_release):
    with pytest.raises(EzsrError, match=r"holds 1 \.bin file \(00005\.bin \.\.\.\) but no class folders: it looks "
                                        rf"like the class folder 3; pass its parent --root {nmnist_release / 'Test'}$"):
        discover("nmnist", nmnist_release / "Test" / "3")


def test_ncars_and_nimagenet_top_folders_point_to_their_test_splits(ncars_release, nimagenet_release):
    with pytest.raises(EzsrError, match=rf"N-Cars root {ncars_release} holds the splits test, train: "
                                        rf"pass --root {ncars_release / 'test'}$"):
        discover("ncars", ncars_release)
    with pytest.raises(EzsrError, match=rf"holds the splits extracted_train, extracted_val: "
                                        rf"pass --root {nimagenet_release / 'extracted_val'}$"):
        discover("nimagenet", nimagenet_release)


def test_folders_that_are_not_classes_are_refused(nmnist_release, ncaltech_release, tmp_path):
    (nmnist_release / "Test" / "tmp").mkdir()
    with pytest.raises(EzsrError, match=r"N-MNIST root .*Test: tmp is not a N-MNIST class folder \(expected the 10 "
                                        r"class folders 0, 1, 2, 3, \.\.\.\)"):
        discover("nmnist", nmnist_release / "Test")
    with pytest.raises(EzsrError, match=r"no N-MNIST class folders \(found BACKGROUND_Google, Faces_easy, .* and 95 "
                                        r"more; expected the 10 class folders"):
        discover("nmnist", ncaltech_release / "Caltech101")
    archives = tmp_path / "Prophesee_Dataset_n_cars"
    for name in ("n-cars_test.zip", "n-cars_train.zip"):
        _copy(archives / name, ncaltech_release / "Caltech101" / "ant" / "image_0001.bin")
    with pytest.raises(EzsrError, match=r"holds the archives n-cars_test\.zip, n-cars_train\.zip: extract them"):
        discover("ncars", archives)


def test_files_of_another_format_are_no_samples(nmnist_release, samples_dir, caplog):
    _copy(nmnist_release / "Test" / "4" / "stray.dat", samples_dir / "ncars_sample.dat")
    with caplog.at_level(logging.WARNING):
        s = discover("nmnist", nmnist_release / "Test")
    assert len(s.samples) == 10 and "ignored 1 files that are not .bin/.npz" in caplog.text
    for digit in "0123456789":
        (nmnist_release / "Test" / digit / f"{int(digit) + 2:05d}.bin").unlink()
    with pytest.raises(EzsrError, match=r"no \.bin/\.npz files in the class folders \(found 1 other files such as "
                                        r"stray\.dat\)"):
        discover("nmnist", nmnist_release / "Test")


# --------------------------------------------------------------------------- sensor


def test_frames_use_the_dataset_sensor_not_the_bounding_box_of_the_file(ncars_release, samples_dir, tmp_path):
    s = discover("ncars", ncars_release / "test")
    with open_reader(samples_dir / "ncars_sample.dat") as reader:
        events = reader.read_all()
        assert reader.geometry == Geometry(78, 42)  # what the file alone suggests
    assert events["x"].max() < 120 and events["y"].max() < 100  # reference.json: x_max 77, y_max 41
    frame = sample_frame(s.samples[1], 1, s, EvalConfig(window="whole"), 64)
    np.testing.assert_array_equal(frame, ezsr_model_input(events, Geometry(120, 100), size=64))
    assert not np.array_equal(frame, ezsr_model_input(events, Geometry(78, 42), size=64))

    # an N-MNIST digit that stays within 20x20 of the 34x34 sensor: same records, real file format
    records = np.fromfile(samples_dir / "nmnist_sample.bin", np.uint8).reshape(-1, 5)
    narrow = records[(records[:, 0] < 20) & (records[:, 1] < 20)]
    root = tmp_path / "N-MNIST" / "Test"
    (root / "1").mkdir(parents=True)
    (root / "1" / "00003.bin").write_bytes(narrow.tobytes())
    s = discover("nmnist", root)
    with open_reader(s.samples[0].path) as reader:
        assert reader.geometry == Geometry(20, 20)
        events = reader.read_all()
    frame = sample_frame(s.samples[0], 0, s, EvalConfig(window="whole"), 32)
    np.testing.assert_array_equal(frame, ezsr_model_input(events, Geometry(34, 34), size=32))
    assert not np.array_equal(frame, ezsr_model_input(events, Geometry(20, 20), size=32))


# --------------------------------------------------------------------------- N-ImageNet names


def test_mini_nimagenet_needs_no_synset_list(nimagenet_release):
    assert _imagenet_synsets() is not None  # timm's list, installed with open_clip
    s = discover("nimagenet", nimagenet_release / "extracted_val")
    assert s.folders == ["n01440764", "n02119789", "n15075141"]
    assert s.class_names == [IMAGENET_CLASSNAMES[0], IMAGENET_CLASSNAMES[278], IMAGENET_CLASSNAMES[999]]
    assert s.class_names == ["tench", "kit fox", "toilet paper"]
    assert s.geometry == Geometry(640, 480) and s.coords == "direct"


def test_nimagenet_devkit_mapping_txt_and_synset_lists_give_the_same_names(nimagenet_release, tmp_path):
    synsets = _imagenet_synsets()
    # mapping.txt as the official loader reads it: "ID SYNSET WORDS" lines in the devkit's
    # (not sorted) order, the first 1000 the classes, non-leaf synsets after them
    shuffled = [synsets[i] for i in np.random.default_rng(1).permutation(1000)]
    mapping = tmp_path / "mapping.txt"
    mapping.write_text("".join(f"{i + 1} {s} words of {s}\n" for i, s in enumerate(shuffled))
                       + "1001 n00001740 entity\n1002 n00001930 physical entity\n")
    root = nimagenet_release / "extracted_val"
    expected = discover("nimagenet", root).class_names
    assert discover("nimagenet", root, class_names_file=str(mapping)).class_names == expected
    loc = tmp_path / "LOC_synset_mapping.txt"
    loc.write_text("".join(f"{s} name of {s}\n" for s in synsets))
    assert discover("nimagenet", root, class_names_file=str(loc)).class_names == expected
    mapping.write_text("".join(f"{i + 1} {s} words\n" for i, s in enumerate(shuffled[:400])))
    with pytest.raises(EzsrError, match=r"mapping\.txt-style list .* needs 1000 distinct synsets"):
        discover("nimagenet", root, class_names_file=str(mapping))


def test_nimagenet_refuses_synsets_outside_imagenet_1k_and_keeps_upstream_repeats(nimagenet_release, samples_dir):
    root = nimagenet_release / "extracted_val"
    sample = next(root.rglob("*.npz"))
    for synset in ("n03773504", "n04008634"):  # missile; projectile, missile: both "missile" in open_clip
        _copy(root / synset / "a.npz", sample)
    s = discover("nimagenet", root)
    assert s.class_names.count("missile") == 2
    _copy(root / "n99999999" / "a.npz", sample)
    with pytest.raises(EzsrError, match=r"n99999999 .* not ImageNet-1k classes"):
        discover("nimagenet", root)


def test_list_file_selects_samples_and_rejects_unknown_paths(nimagenet_release, nmnist_release, tmp_path):
    root = nimagenet_release / "extracted_val"
    s = discover("nimagenet", root, list_file=str(nimagenet_release / "val_list.txt"))
    assert len(s.samples) == 3 and s.samples[2].path.parent.name == "n15075141" and s.samples[2].label == 2
    listing = tmp_path / "list.txt"
    listing.write_text("# test\n7/00009.bin\n")
    s = discover("nmnist", nmnist_release / "Test", list_file=str(listing))
    assert [(p.path.name, p.label) for p in s.samples] == [("00009.bin", 7)]
    listing.write_text("7/missing.bin\n")
    with pytest.raises(EzsrError, match="not a N-MNIST sample"):
        discover("nmnist", nmnist_release / "Test", list_file=str(listing))
    with pytest.raises(EzsrError, match="unknown dataset"):
        discover("mnist", root)


# --------------------------------------------------------------------------- windows, scores


def test_windows_are_15000_events_from_a_seeded_start_or_the_whole_sample(samples_dir):
    with open_reader(samples_dir / "evt2_gen3_640x480.raw") as reader:
        events = reader.read_all()
    assert len(events) > 15_000
    cfg = EvalConfig()
    a = select_window(events, cfg, np.random.default_rng([0, 5]))
    b = select_window(events, cfg, np.random.default_rng([0, 5]))
    c = select_window(events, cfg, np.random.default_rng([0, 6]))
    assert len(a) == 15_000 and a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
    assert len(select_window(events, EvalConfig(window="whole"), np.random.default_rng(0))) == len(events)
    short = events[:100]
    assert len(select_window(short, cfg, np.random.default_rng(0))) == 100


def test_scores_count_top1_top5_and_confusion():
    s = Scores(6)
    logits = np.array([[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]], dtype=float)
    s.add(logits, np.array([0, 0]))
    assert (s.top1, s.top5, s.count) == (1, 1, 2)
    assert s.confusion[0, 0] == 1 and s.confusion[0, 5] == 1
    assert s.per_class()[0] == 0.5 and np.isnan(s.per_class()[1])
