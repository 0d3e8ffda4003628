"""The compositional shapes domain (count x fill x shape) and its teacher's command."""
from __future__ import annotations

import json
import re
import numpy as np
import pytest

from ezsr_live.cli.toolbox import main as ezsr
from ezsr_live.recipes.demo.compositional import (
    COMPOSITIONAL_SHAPES,
    COUNT_WORDS,
    FILL_WORDS,
    CompositionalConfig,
    composition_name,
    plural,
)
from ezsr_live.recipes.demo.shapes import BACKGROUND_WORDS, COLOURS

DEFAULT = CompositionalConfig()


def _components(mask: np.ndarray, min_pixels: int = 3) -> int:
    """8-connected components of at least ``min_pixels`` of a boolean mask: each pixel
    takes the largest label in its neighbourhood until nothing changes (masks are 64x64).
    The size floor ignores the one- or two-pixel specks that anti-aliasing leaves where a
    small crescent's horn is thinner than a pixel."""
    labels = np.where(mask, np.arange(1, mask.size + 1).reshape(mask.shape), 0)
    while True:
        padded = np.pad(labels, 1)
        grown = np.max([padded[1 + dy:padded.shape[0] - 1 + dy, 1 + dx:padded.shape[1] - 1 + dx]
                        for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0) * mask
        if np.array_equal(grown, labels):
            _, sizes = np.unique(labels[mask], return_counts=True)
            return int(np.sum(sizes >= min_pixels))
        labels = grown


def test_the_domain_has_165_named_compositions_in_label_order():
    names = DEFAULT.class_names
    assert len(names) == len(set(names)) == 3 * 5 * len(COMPOSITIONAL_SHAPES) == 165
    assert "two striped stars" in names and "one outlined heart" in names and "three dotted crosses" in names
    gen = DEFAULT.generator(0)
    for i in range(50):
        smp = gen.sample(i)
        assert smp.class_name == names[smp.class_index]
        assert (smp.count, smp.fill, smp.shape) == DEFAULT.compositions[smp.class_index]


@pytest.mark.parametrize("count", (1, 2, 3))
def test_every_composition_renders_its_count_of_separate_shapes_with_its_fill(count):
    for fill in FILL_WORDS:
        for shape in COMPOSITIONAL_SHAPES:
            gen = CompositionalConfig(classes=(shape,), fills=(fill,), counts=(count,)).generator(seed=4)
            smp = gen.sample(0)
            painted, _shade = gen.paint(smp)
            alpha, interior, _ = gen._copies(smp)
            where = f"{smp.class_name}"
            assert _components(alpha > 0.5) == count, where  # the copies never touch
            # the outline band is always painted: each copy stays one connected shape
            assert _components((alpha > 0.5) & (interior < 0.5) & (painted > 0.5)) == count, where
            inside = interior > 0.99
            if inside.sum() < 30:
                continue  # a small crescent's interior is too thin to read a pattern in
            share = float(painted[inside].mean())
            low, high = {"solid": (0.95, 1.0), "outline": (0.0, 0.05), "striped": (0.25, 0.75),
                         "dotted": (0.05, 0.45), "checkered": (0.25, 0.75)}[fill]
            assert low <= share <= high, (where, share)


def test_stripes_vary_across_the_stripe_only_and_checks_along_it_too():
    spread = {}
    for fill in ("striped", "checkered"):
        gen = CompositionalConfig(classes=("square",), fills=(fill,), counts=(1,)).generator(seed=1)
        smp = gen.sample(0)
        painted, _ = gen.paint(smp)
        _alpha, interior, _ = gen._copies(smp)
        a, _b = gen._pattern_coords(smp)
        inside = interior > 0.99
        bins = np.round(4 * a[inside]).astype(int)  # quarter-pixel bins across the stripes
        values = painted[inside]
        spread[fill] = np.mean([values[bins == k].std() for k in np.unique(bins) if (bins == k).sum() > 3])
    assert spread["striped"] < 0.05 < spread["checkered"]


def test_captions_name_count_fill_shape_and_colour_and_often_the_background():
    gen = DEFAULT.generator(2)
    with_background = 0
    n = 300
    for i in range(n):
        smp = gen.sample(i)
        text = " " + smp.caption.replace(",", " ").replace(":", " ").replace("  ", " ") + " "
        fills = FILL_WORDS[smp.fill]
        said_one = smp.count == 1 and re.search(rf" an? ({'|'.join((*fills, smp.colour_name))}) ", text)
        assert said_one or any(f" {w} " in text for w in COUNT_WORDS[smp.count] if w != "a"), smp.caption
        assert any(f" {w} " in text for w in fills), smp.caption
        assert f" {smp.shape if smp.count == 1 else plural(smp.shape)} " in text, smp.caption
        assert smp.colour_name in COLOURS and f" {smp.colour_name} " in text, smp.caption
        if " background" in text:
            with_background += 1
            assert any(f" {w} background" in text for w in BACKGROUND_WORDS[smp.background]), smp.caption
    assert 0.3 * n <= with_background <= 0.7 * n


def test_same_seed_gives_identical_images_and_captions_whatever_the_batch():
    gen = DEFAULT.generator(9)
    images, samples = gen.render(range(8))
    again, samples_again = DEFAULT.generator(9).render(range(8))
    alone, [fifth] = DEFAULT.generator(9).render([5])
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(alone[0], images[5])
    assert [s.caption for s in samples] == [s.caption for s in samples_again] and fifth.caption == samples[5].caption
    other, _ = DEFAULT.generator(10).render(range(8))
    assert not np.array_equal(images, other)
    assert images.shape == (8, 64, 64, 3) and images.dtype == np.uint8


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="fills"):
        CompositionalConfig(fills=("wavy",))
    with pytest.raises(ValueError, match="counts"):
        CompositionalConfig(counts=(4,))
    with pytest.raises(ValueError, match="radius_by_count"):
        CompositionalConfig(radius_by_count=((0.1, 0.4), (0.17, 0.22), (0.16, 0.18)))


def test_ezsr_demo_teacher_trains_a_compositional_teacher_that_ezsr_geometry_reads(compositional_teacher, capsys):
    out = compositional_teacher
    meta = json.loads((out / "teacher.json").read_text(encoding="utf-8"))
    assert meta["training"]["fixed_logit_scale"] == 100.0
    assert meta["training"]["text_projection_gain"] == 2.0 and meta["training"]["text_projection_decay"] is False
    assert meta["model_name"] == "ezsr-demo-compositional" and meta["labels"] == list(DEFAULT.class_names)
    assert meta["training"]["domain"] == "compositional"
    assert (out / "labels.txt").read_text(encoding="utf-8").splitlines() == list(DEFAULT.class_names)
    assert (out / "templates.txt").read_text(encoding="utf-8").splitlines()[0] == "{}"
    capsys.readouterr()
    assert ezsr(["geometry", str(out / "pool"), "--model", "ezsr-demo-compositional", "--pretrained",
                 str(out / "teacher.safetensors"), "--templates", str(out / "templates.txt"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert doc["dim"] == 128 and doc["classes"] == 165 and doc["images"] == 40


def test_ezsr_demo_teacher_refuses_an_output_it_cannot_create_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert ezsr(["demo", "teacher", "--domain", "compositional", "-o", str(blocker / "out"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ezsr: ") and str(blocker / "out") in err[0]


@pytest.mark.parametrize(("option", "value", "message"), [
    *[("--logit-scale", v, "--logit-scale: must be 'learnt' or a number in [1, 100]") for v in ("0.5", "101", "nan",
                                                                                             "warm")],
    *[("--text-projection-gain", v, "--text-projection-gain: must be a number in (0, 100]") for v in ("0", "-2", "101",
                                                                                                   "nan")],
])
def test_ezsr_demo_teacher_refuses_a_training_setting_outside_its_range(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        ezsr(["demo", "teacher", "-o", str(tmp_path / "out"), option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()


def test_held_out_sets_keep_every_factor_of_a_held_out_composition_in_training():
    held = DEFAULT.unseen_combinations()
    rest = DEFAULT.without(held)
    assert len(held) == len(DEFAULT.classes) and len(rest.class_names) == 165 - len(held)
    assert not set(held) & set(rest.class_names)
    trained = rest.compositions
    for count, fill, shape in (c for c in DEFAULT.compositions if composition_name(*c) in held):
        assert sum(c[0] == count for c in trained) >= 40 and sum(c[1] == fill for c in trained) >= 25
        assert sum(c[2] == shape for c in trained) == 14
    assert len({(c[0], c[1]) for c in DEFAULT.compositions if composition_name(*c) in held}) == len(held)
    hearts = DEFAULT.of_shapes(["heart"])
    assert len(hearts) == 15 and all("heart" in name for name in hearts)
    assert {s.class_name for s in rest.generator(3).render(range(200))[1]} <= set(rest.class_names)
    with pytest.raises(ValueError, match="no such compositions"):
        DEFAULT.without(["two striped rings"])
    with pytest.raises(ValueError, match="exclude"):
        CompositionalConfig(exclude=DEFAULT.class_names)
