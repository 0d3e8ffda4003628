"""Labels, prompt templates and the cached, incremental text embeddings."""
from __future__ import annotations

import pytest
import torch

from ezsr_live.errors import FormatError, ModelError
from ezsr_live.model.templates import OPENAI_IMAGENET, SIMPLE_IMAGENET, get_templates, read_template_file
from ezsr_live.model.vocabulary import TextEmbeddingCache, Vocabulary, parse_labels


class CountingEncoder:
    """Wraps the tiny model's text tower and records every batch of prompts it is given."""

    def __init__(self, clip):
        self.clip = clip
        self.batches: list[list[str]] = []

    def __call__(self, prompts: list[str]) -> torch.Tensor:
        self.batches.append(list(prompts))
        return self.clip.encode_text(prompts)

    @property
    def prompts(self) -> list[str]:
        return [p for b in self.batches for p in b]


def test_default_templates_are_clips_80_imagenet_prompts():
    assert get_templates() is OPENAI_IMAGENET
    assert len(OPENAI_IMAGENET) == 80 and len(SIMPLE_IMAGENET) == 7
    assert all(t.count("{}") == 1 for t in OPENAI_IMAGENET.templates)
    assert "a photo of a {}." in OPENAI_IMAGENET.templates


def test_template_file_skips_comments_and_rejects_lines_without_placeholder(tmp_path):
    good = tmp_path / "t.txt"
    good.write_text("# mine\n\nan event image of a {}.\n  a {} seen by a DVS  \n")
    assert read_template_file(good).templates == ("an event image of a {}.", "a {} seen by a DVS")
    bad = tmp_path / "bad.txt"
    bad.write_text("a {}.\nno placeholder here\n")
    with pytest.raises(FormatError) as err:
        read_template_file(bad)
    assert err.value.offset == len("a {}.\n") and "bad.txt" in str(err.value)


def test_labels_come_from_builtin_sets_files_or_comma_lists(tmp_path):
    assert len(parse_labels("imagenet")) == 1000
    assert parse_labels("cifar10")[:3] == ["airplane", "automobile", "bird"]
    assert len(parse_labels("caltech101")) == 100
    assert parse_labels(" cat, dog ,cat,, car") == ["cat", "dog", "car"]
    f = tmp_path / "labels.txt"
    f.write_text("# classes\nfire truck\n\nzebra\n")
    assert parse_labels(str(f)) == ["fire truck", "zebra"]
    with pytest.raises(ModelError):
        parse_labels(" , ")


def test_label_embedding_is_normalised_mean_of_normalised_template_embeddings(tiny_clip):
    vocab = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, ["cat", "dog"], "simple")
    matrix = vocab.matrix()
    for row, label in zip(matrix, ["cat", "dog"]):
        per_template = torch.nn.functional.normalize(tiny_clip.encode_text(SIMPLE_IMAGENET.prompts(label)), dim=-1)
        expected = torch.nn.functional.normalize(per_template.mean(0), dim=0)
        torch.testing.assert_close(row, expected, rtol=1e-5, atol=1e-6)
    assert matrix.shape == (2, tiny_clip.embed_dim)


def test_editing_reencodes_only_what_changed(tiny_clip):
    enc = CountingEncoder(tiny_clip)
    vocab = Vocabulary(enc, tiny_clip.identity, "cat,dog,car", "simple")
    first = vocab.matrix()
    assert len(enc.prompts) == 3 * 7

    vocab.add("zebra")
    vocab.matrix()
    assert enc.prompts[21:] == SIMPLE_IMAGENET.prompts("zebra")

    n = len(enc.prompts)
    vocab.remove("dog")
    after_remove = vocab.matrix()
    assert len(enc.prompts) == n  # removal encodes nothing
    torch.testing.assert_close(after_remove[:2], first[[0, 2]])

    vocab.rename("car", "sports car")
    vocab.matrix()
    assert enc.prompts[n:] == SIMPLE_IMAGENET.prompts("sports car")
    assert vocab.labels == ("cat", "sports car", "zebra")

    n = len(enc.prompts)
    vocab.set_templates("photo")
    vocab.matrix()
    assert enc.prompts[n:] == ["a photo of a cat.", "a photo of a sports car.", "a photo of a zebra."]

    n, hits = len(enc.prompts), vocab.cache.hits
    vocab.set_templates("simple")  # back to a template set seen before: all cache hits
    vocab.matrix()
    assert len(enc.prompts) == n and vocab.cache.hits == hits + 3


def test_cache_is_shared_across_vocabularies_of_the_same_model_only(tiny_clip):
    cache = TextEmbeddingCache()
    enc = CountingEncoder(tiny_clip)
    Vocabulary(enc, "model-a", "cat", "photo", cache=cache).matrix()
    Vocabulary(enc, "model-a", "cat", "photo", cache=cache).matrix()
    assert len(enc.prompts) == 1
    Vocabulary(enc, "model-b", "cat", "photo", cache=cache).matrix()
    assert len(enc.prompts) == 2


def test_large_vocabularies_encode_in_batches_and_in_slices(tiny_clip):
    enc = CountingEncoder(tiny_clip)
    labels = [f"thing {i}" for i in range(50)]
    vocab = Vocabulary(enc, tiny_clip.identity, labels, "simple", batch_size=64)
    assert vocab.encode_pending(max_labels=20) == 20  # a worker can encode a slice at a time
    assert len(vocab.pending()) == 30
    vocab.matrix()
    assert max(len(b) for b in enc.batches) <= 64
    assert len(enc.prompts) == 50 * 7


def test_version_changes_on_every_edit(tiny_clip):
    vocab = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, "cat", "photo")
    versions = [vocab.version]
    for edit in (lambda: vocab.add("dog"), lambda: vocab.rename("dog", "puppy"),
                 lambda: vocab.remove("puppy"), lambda: vocab.set_templates("simple")):
        edit()
        versions.append(vocab.version)
    assert len(set(versions)) == len(versions)
    with pytest.raises(ModelError):
        vocab.remove("unicorn")


def test_labels_that_differ_only_in_case_are_one_label_in_every_edit(tiny_clip):
    vocab = Vocabulary(tiny_clip.encode_text, tiny_clip.identity, ["star", "Star", "circle"], "simple")
    assert vocab.labels == ("star", "circle")
    vocab.add("STAR", "square", "Square")
    assert vocab.labels == ("star", "circle", "square")
    with pytest.raises(ModelError):
        vocab.rename("circle", "Square")
    vocab.rename("star", "Star")  # a new spelling of the same label is fine
    assert vocab.labels == ("Star", "circle", "square")
