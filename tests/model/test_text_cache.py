"""Label embeddings on disk: a second encode of a vocabulary reads them, damage is re-encoded."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from ezsr_live.model.text_cache import MAGIC, DiskTextCache, text_tower_identity
from ezsr_live.model.vocabulary import Vocabulary

LABELS = [f"object number {i}" for i in range(40)]
IDENTITY = "ezsr-test-tiny/fixed-weights"


class CountingEncoder:
    """The tiny CLIP's real text tower, counting the prompts it is given."""

    def __init__(self, clip) -> None:
        self.clip = clip
        self.prompts = 0

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        self.prompts += len(prompts)
        return self.clip.encode_text(prompts)


def _vocabulary(clip, disk: DiskTextCache, templates: str = "simple", labels=LABELS):
    encoder = CountingEncoder(clip)
    # a fresh in-memory cache each time: only the disk can spare the encoding
    return Vocabulary(encoder, clip.identity, labels, templates, disk=disk, disk_identity=IDENTITY), encoder


def test_a_second_encode_of_the_same_vocabulary_reads_the_disk_and_encodes_nothing(tiny_clip, tmp_path):
    disk = DiskTextCache(tmp_path)
    first, encoder1 = _vocabulary(tiny_clip, disk)
    expected = first.matrix()
    assert encoder1.prompts == len(LABELS) * len(first.templates)
    second, encoder2 = _vocabulary(tiny_clip, DiskTextCache(tmp_path))
    assert torch.equal(second.matrix(), expected)
    assert encoder2.prompts == 0 and second.disk.hits == len(LABELS)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "other label"])
def test_a_damaged_entry_is_encoded_again_never_trusted(tiny_clip, tmp_path, damage):
    disk = DiskTextCache(tmp_path)
    first, _ = _vocabulary(tiny_clip, disk)
    expected = first.matrix()
    victim = disk.path((IDENTITY, first.templates.key, LABELS[7]))
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[:-5])
    elif damage == "flip":
        victim.write_bytes(data[:-3] + bytes([data[-3] ^ 0x40]) + data[-2:])
    elif damage == "garbage":
        victim.write_bytes(b"\x00\xff" * 100)
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # a whole, valid entry, but of another key (as a hash collision would give)
        victim.write_bytes(disk.path((IDENTITY, first.templates.key, LABELS[8])).read_bytes())
    second, encoder = _vocabulary(tiny_clip, DiskTextCache(tmp_path))
    assert torch.allclose(second.matrix(), expected, atol=1e-6)
    assert encoder.prompts == len(second.templates)  # that one label, nothing else
    assert second.disk.corrupt == 1
    third, encoder3 = _vocabulary(tiny_clip, DiskTextCache(tmp_path))  # rewritten whole
    assert torch.allclose(third.matrix(), expected, atol=1e-6) and encoder3.prompts == 0
    assert victim.read_bytes().startswith(MAGIC)


def test_different_template_sets_and_models_never_share_entries(tiny_clip, tmp_path):
    disk = DiskTextCache(tmp_path)
    simple, _ = _vocabulary(tiny_clip, disk, "simple")
    simple_matrix = simple.matrix()
    photo, encoder = _vocabulary(tiny_clip, disk, "photo")
    photo_matrix = photo.matrix()
    assert encoder.prompts == len(LABELS)  # nothing from the other template set
    assert not torch.allclose(simple_matrix, photo_matrix)
    other = Vocabulary(CountingEncoder(tiny_clip), tiny_clip.identity, LABELS, "photo", disk=disk,
                       disk_identity="another-model/weights")
    other.matrix()
    assert other.disk.hits == 0


def test_random_weights_are_never_cached_and_a_weights_file_is_known_by_size_and_time(tmp_path):
    assert text_tower_identity("ViT-B-32/random") is None
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"1234")
    first = text_tower_identity("ViT-B-32/openai", weights)
    weights.write_bytes(b"12345")
    assert first != text_tower_identity("ViT-B-32/openai", weights)
    assert text_tower_identity("ViT-B-32/openai") == "ViT-B-32/openai"


def test_the_recogniser_keys_the_disk_cache_by_its_text_tower(tiny_model_name):
    from ezsr_live.model.recognizer import Recognizer, RecognizerConfig

    random = Recognizer.from_config(RecognizerConfig(model=tiny_model_name, pretrained=None, device="cpu",
                                                     labels="a,b", templates="photo"))
    assert random.vocabulary.disk is None  # random weights differ per run: not cacheable


def test_the_folder_stays_under_its_bound_dropping_the_least_recently_used(tiny_clip, tmp_path):
    disk = DiskTextCache(tmp_path)
    vocabulary, _ = _vocabulary(tiny_clip, disk, "photo")
    vocabulary.matrix()
    sizes = [p.stat().st_size for p in Path(tmp_path).rglob("*.emb")]
    small = DiskTextCache(tmp_path, max_bytes=10 * sizes[0])
    assert small.get((IDENTITY, vocabulary.templates.key, LABELS[0])) is not None  # used: kept
    small.prune()
    left = list(Path(tmp_path).rglob("*.emb"))
    assert len(left) == 10 and small.path((IDENTITY, vocabulary.templates.key, LABELS[0])) in left


def test_concurrent_writers_of_the_same_entries_leave_whole_files(tiny_clip, tmp_path):
    vectors = torch.nn.functional.normalize(torch.randn(len(LABELS), 32), dim=-1)
    items = [((IDENTITY, "photo:x", lb), vectors[i]) for i, lb in enumerate(LABELS)]
    threads = [threading.Thread(target=DiskTextCache(tmp_path).put_many, args=(items,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = DiskTextCache(tmp_path)
    found = reader.get_many(key for key, _ in items)
    assert len(found) == len(LABELS) and reader.corrupt == 0
    assert all(torch.equal(found[key], vec) for key, vec in items)
    assert not list(Path(tmp_path).rglob(".tmp-*"))


def test_progress_is_reported_batch_by_batch_up_to_the_whole_vocabulary(tiny_clip, tmp_path):
    vocabulary = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, LABELS, "simple", batch_size=7 * 4)
    seen: list[tuple[int, int]] = []
    vocabulary.add_progress_listener(lambda ready, total: seen.append((ready, total)))
    vocabulary.matrix()
    assert seen[-1] == (len(LABELS), len(LABELS))
    assert [r for r, _ in seen] == sorted(r for r, _ in seen) and len(seen) == len(LABELS) // 4
