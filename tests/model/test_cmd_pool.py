"""``ezsr pool build|info`` on a small folder tree, and resuming an interrupted build."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ezsr_live.cli.toolbox import main
from ezsr_live.model import knn
from ezsr_live.model.pool_builder import build_pool

from tests.helpers import TINY_MODEL as TINY, TINY_MODEL_CONFIG


@pytest.fixture()
def image_tree(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for label, count in (("cat", 5), ("dog", 4)):
        (root / label).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(root / "loose.jpg")
    (root / "dog" / "broken.jpg").write_bytes(b"not an image")
    (root / "notes.txt").write_text("ignored")
    return root


def _model_args() -> list[str]:
    return ["--model", TINY, "--model-config", str(TINY_MODEL_CONFIG), "--pretrained", "",
            "--device", "cpu", "--workers", "0", "--no-progress"]


def test_build_then_info_check(image_tree, tmp_path, capsys):
    out = tmp_path / "pool"
    assert main(["pool", "build", str(image_tree), "-o", str(out), *_model_args()]) == 0
    pool = knn.open_pool(out, f"{TINY}/random", 32)
    assert len(pool) == 10  # 9 in folders + 1 loose; the broken file is skipped
    assert pool.meta.label_names == ["cat", "dog"] and pool.meta.extra["skipped_images"] == 1
    assert sorted(pool.label_of(i) or "-" for i in range(10)) == ["-"] + ["cat"] * 5 + ["dog"] * 4
    assert not (out / "parts").exists()
    capsys.readouterr()
    assert main(["pool", "info", str(out), "--check", "--queries", "5", "-k", "4"]) == 0
    text = capsys.readouterr().out
    assert f"{TINY}/random" in text and "recall@4 vs exact  1.0000" in text


def test_existing_pool_is_not_overwritten_silently(image_tree, tmp_path, capsys):
    out = tmp_path / "pool"
    assert main(["pool", "build", str(image_tree), "-o", str(out), *_model_args()]) == 0
    assert main(["pool", "build", str(image_tree), "-o", str(out), *_model_args()]) == 2
    assert "already exists" in capsys.readouterr().err


def test_info_on_a_folder_that_is_no_pool_fails_cleanly(tmp_path, capsys):
    assert main(["pool", "info", str(tmp_path)]) == 2
    assert "not a pool" in capsys.readouterr().err


def test_interrupted_build_resumes_without_reembedding_finished_shards(image_tree, tmp_path, tiny_clip,
                                                                       monkeypatch):
    out = tmp_path / "pool"
    real = tiny_clip.model.encode_image
    calls: list[int] = []

    def failing_on_third_shard(images):
        calls.append(len(images))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(images)

    monkeypatch.setattr(tiny_clip.model, "encode_image", failing_on_third_shard)
    with pytest.raises(KeyboardInterrupt):
        build_pool(image_tree, out, tiny_clip, shard_size=4, batch_size=4, progress=False)
    assert sorted(p.name for p in (out / "parts").glob("part-*.npz")) == ["part-000000.npz", "part-000001.npz"]

    calls.clear()
    monkeypatch.setattr(tiny_clip.model, "encode_image", lambda images: (calls.append(len(images)), real(images))[1])
    pool = build_pool(image_tree, out, tiny_clip, shard_size=4, batch_size=4, progress=False)
    assert sum(calls) == 11 - 8 - 1  # only the last shard (minus its broken file) is embedded again
    assert len(pool) == 10
