"""Training data: image discovery, deterministic on-the-fly pairs, bad files, CLI errors."""
from __future__ import annotations

import shutil

import pytest
import torch

from ezsr_live.cli.toolbox import main
from ezsr_live.errors import EzsrError
from ezsr_live.model.clip_loader import load_clip
from ezsr_live.recipes.train.data import ResumableDistributedSampler, SynthPairDataset, find_images

from .conftest import TINY_CONFIG


def test_pairs_are_deterministic_per_epoch_and_index_and_survive_a_corrupt_image(
        image_tree, tiny_model_name, tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(image_tree, tree)
    (tree / "cat" / "00.png").write_bytes(b"not a png")
    clip = load_clip(tiny_model_name, None, "cpu")
    ds = SynthPairDataset(find_images(tree), clip.preprocess, 32, seed=7)
    frame, image = ds[3]
    assert frame.shape == (3, 32, 32) and image.shape == (3, 32, 32)
    torch.testing.assert_close(ds[3][0], frame)
    assert not torch.equal(ds[len(ds) + 3][0], frame), "another epoch draws another motion"
    bad = [p.name for p in ds.paths].index("00.png", 8)  # the cat folder's first file
    assert torch.isfinite(ds[bad][0]).all()


def test_sampler_shards_by_rank_and_resumes_part_way_through_an_epoch(image_tree):
    ds = list(range(24))
    shards = [ResumableDistributedSampler(ds, num_replicas=2, rank=r, seed=0) for r in (0, 1)]
    for s in shards:
        s.set_epoch(2)
    keys = [list(s) for s in shards]
    assert not set(keys[0]) & set(keys[1]) and len(keys[0]) == 12
    assert all(48 <= k < 72 for k in keys[0] + keys[1]), "keys carry the epoch"
    shards[0].set_start(5)
    assert list(shards[0]) == keys[0][5:] and len(shards[0]) == 7


def test_train_command_refuses_too_few_images_and_missing_folders(image_tree, tmp_path, capsys):
    common = ["--model", "ezsr-test-tiny", "--pretrained", "", "--model-config", str(TINY_CONFIG),
              "--device", "cpu", "--workers", "0", "--no-progress", "-o", str(tmp_path / "run")]
    assert main(["train", str(image_tree), "--batch-size", "64", *common]) == 2
    assert "too few" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nowhere"), *common]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(EzsrError):
        find_images(tmp_path)
