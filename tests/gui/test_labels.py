"""Label and template rules of the editor (Qt-free)."""
from __future__ import annotations

import os

import pytest

from ezsr_live.gui.labels import check_new_labels, parse_template_text, split_label_text, write_label_file
from ezsr_live.gui.smoothing import TopKSmoother
from ezsr_live.model.vocabulary import parse_labels, read_label_entries, read_label_file


def test_pasted_lists_split_on_commas_and_lines():
    assert split_label_text("cat, dog\ncoffee mug\r\n") == ["cat", "dog", "coffee mug"]
    assert split_label_text("   ") == [""]


def test_empty_and_duplicate_labels_are_refused_case_insensitively():
    check = check_new_labels(["Cat", "", "bird", "bird"], existing=["cat", "dog"])
    assert check.accepted == ["bird"]
    assert check.empty == 1 and check.duplicates == ["Cat", "bird"]
    assert "empty" in check.message and "'Cat'" in check.message


def test_templates_need_exactly_one_placeholder():
    templates, problem = parse_template_text("a photo of a {}.\n\nart of the {}.")
    assert templates is not None and templates.templates == ("a photo of a {}.", "art of the {}.")
    assert parse_template_text("no placeholder")[0] is None
    assert "exactly one" in parse_template_text("{} and {}")[1]


def test_saved_vocabulary_reads_back_and_replaces_atomically(tmp_path):
    folder = tmp_path / "vocabularies"
    folder.mkdir()
    path = folder / "labels.txt"
    path.write_text("old\n")
    write_label_file(path, [("cat", True), ("coffee mug", True)])
    assert read_label_file(path) == ["cat", "coffee mug"]
    assert [p.name for p in folder.iterdir()] == ["labels.txt"]  # no temporary file left


def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    folder = tmp_path / "vocabularies"
    folder.mkdir()
    path = folder / "labels.txt"
    path.write_text("old\n")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_label_file(path, [("cat", True)])
    assert path.read_text() == "old\n"
    assert [p.name for p in folder.iterdir()] == ["labels.txt"]


def test_switched_off_labels_are_saved_as_comments_that_only_the_editor_reads_back(tmp_path):
    path = tmp_path / "labels.txt"
    write_label_file(path, [("cat", True), ("dog", False), ("coffee mug", True)])
    assert read_label_entries(path) == [("cat", True), ("dog", False), ("coffee mug", True)]
    assert read_label_file(path) == ["cat", "coffee mug"]  # --labels FILE: the enabled ones
    assert parse_labels(str(path)) == ["cat", "coffee mug"]


def test_labels_from_files_and_lists_follow_the_typed_rule_case_insensitively(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("star\nStar\n STAR \ncircle\n")
    assert parse_labels(str(path)) == ["star", "circle"]
    assert parse_labels("star, Star,circle") == ["star", "circle"]
    assert check_new_labels(read_label_file(path), ()).accepted == ["star", "circle"]


def test_smoothing_averages_and_lets_missing_labels_fade():
    smoother = TopKSmoother(2)
    assert smoother.push([("a", 0.8), ("b", 0.2)]) == [("a", 0.8), ("b", 0.2)]
    assert smoother.push([("b", 0.6), ("c", 0.4)]) == [("a", pytest.approx(0.4)), ("b", pytest.approx(0.4))]
    smoother.clear()
    assert smoother.push([("c", 1.0)]) == [("c", 1.0)]
    with pytest.raises(ValueError):
        TopKSmoother(0)
