"""Event dataset layouts, class names and evaluation windows (on the real sample files)."""
from __future__ import annotations

import numpy as np
import pytest
from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

from ezsr_live.drivers import open_reader
from ezsr_live.errors import EzsrError
from ezsr_live.evaluation import EvalConfig, Scores, discover, select_window
from ezsr_live.evaluation.runner import sample_frame
from ezsr_live.events import Geometry


def _link(root, folder, name, target):
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / name).symlink_to(target)


def test_nmnist_and_ncars_layouts_read_real_samples_with_readable_class_names(samples_dir, tmp_path):
    nmnist = tmp_path / "nmnist"
    for digit in ("0", "7"):
        _link(nmnist, digit, "00001.bin", samples_dir / "nmnist_sample.bin")
    s = discover("nmnist", nmnist)
    assert s.class_names == ["zero", "seven"] and [x.label for x in s.samples] == [0, 1]
    ncars = tmp_path / "ncars"
    _link(ncars, "background", "a.dat", samples_dir / "ncars_sample.dat")
    _link(ncars, "cars", "b.dat", samples_dir / "ncars_sample.dat")
    s = discover("ncars", ncars)
    assert s.class_names == ["background", "car"] and s.coords == "resize" and s.geometry is None
    frame = sample_frame(s.samples[1], 1, s, EvalConfig(), 32)
    assert frame.shape == (3, 32, 32) and np.isfinite(frame).all()


def test_ncaltech101_skips_background_and_uses_readable_names(samples_dir, tmp_path):
    root = tmp_path / "caltech"
    for folder in ("BACKGROUND_Google", "Faces_easy", "airplanes", "water_lilly"):
        _link(root, folder, "image_0001.bin", samples_dir / "nmnist_sample.bin")
    s = discover("ncaltech101", root)
    assert s.folders == ["Faces_easy", "airplanes", "water_lilly"]
    assert s.class_names == ["face", "airplane", "water lilly"]


def test_nimagenet_needs_all_synsets_or_a_synset_list(samples_dir, tmp_path):
    root = tmp_path / "extracted_val"
    _link(root, "n01440764", "a.npz", samples_dir / "nmnist_sample.bin")  # name only matters here
    (root / "n01443537").mkdir()
    with pytest.raises(EzsrError, match="--class-names"):
        discover("nimagenet", root)
    synsets = tmp_path / "synsets.txt"
    synsets.write_text("\n".join(["n01440764", "n01443537"] + [f"n99{i:06d}" for i in range(998)]) + "\n")
    s = discover("nimagenet", root, class_names_file=str(synsets))
    assert s.class_names == list(IMAGENET_CLASSNAMES[:2])
    assert s.geometry == Geometry(640, 480) and s.coords == "direct"


def test_list_file_selects_samples_and_rejects_unknown_paths(samples_dir, tmp_path):
    root = tmp_path / "cifar"
    for name in ("a.bin", "b.bin"):
        _link(root, "cat", name, samples_dir / "nmnist_sample.bin")
    listing = tmp_path / "list.txt"
    listing.write_text("# val\ncat/b.bin\n")
    s = discover("cifar10dvs", root, list_file=str(listing))
    assert [p.path.name for p in s.samples] == ["b.bin"]
    listing.write_text("dog/x.bin\n")
    with pytest.raises(EzsrError, match="not a sample"):
        discover("cifar10dvs", root, list_file=str(listing))
    with pytest.raises(EzsrError, match="unknown dataset"):
        discover("mnist", root)


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
