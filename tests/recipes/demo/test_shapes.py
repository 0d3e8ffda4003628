"""The procedural shape generator: determinism, geometry, captions, the torch dataset."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests.helpers import REPO_ROOT
from ezsr_live.recipes.demo.shapes import (
    COLOURS,
    MIN_RADIUS_FRACTION,
    SHAPE_CLASSES,
    ShapeGenerator,
    ShapesConfig,
    ShapesDataset,
    colour_luma_contrast,
)
from ezsr_live.synth import Pose, SynthConfig, Trajectory, log_luminance, synthesize

LABELS_FILE = REPO_ROOT / "weights" / "demo" / "labels.txt"


def test_same_seed_gives_identical_images_and_captions_whatever_the_batch():
    images_a, samples_a = ShapeGenerator(seed=7).render(range(12))
    images_b, samples_b = ShapeGenerator(seed=7).render(range(12))
    alone, [sample5] = ShapeGenerator(seed=7).render([5])
    np.testing.assert_array_equal(images_a, images_b)
    assert [s.caption for s in samples_a] == [s.caption for s in samples_b]
    np.testing.assert_array_equal(alone[0], images_a[5])
    assert sample5.caption == samples_a[5].caption


def test_different_seeds_give_different_images():
    a, _ = ShapeGenerator(seed=1).render(range(4))
    b, _ = ShapeGenerator(seed=2).render(range(4))
    assert not np.array_equal(a, b)


def test_images_are_uint8_rgb_of_the_configured_size():
    for size in (64, 96):
        images, _ = ShapeGenerator(ShapesConfig(image_size=size), seed=0).render(range(3))
        assert images.shape == (3, size, size, 3) and images.dtype == np.uint8


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_every_class_renders_a_mask_inside_the_requested_size_range(name):
    cfg = ShapesConfig(classes=(name,), radius_range=(0.2, 0.4))
    gen = ShapeGenerator(cfg, seed=3)
    s = cfg.image_size
    for index in range(6):
        sample = gen.sample(index)
        assert sample.class_name == name
        assert 0.2 * s <= sample.radius <= 0.4 * s
        mask = gen.coverage(sample)
        assert mask.shape == (s, s) and 0.0 <= mask.min() and mask.max() <= 1.0
        ys, xs = np.nonzero(mask > 0.5)
        # the shape is visible, fits inside its radius, and spans a good part of it
        assert mask.sum() > 0.25 * sample.radius**2
        dist = np.hypot(xs + 0.5 - sample.centre[0], ys + 0.5 - sample.centre[1])
        assert dist.max() <= sample.radius + 1.0
        assert dist.max() >= 0.6 * sample.radius
        # and stays inside the image
        assert mask[0].max() < 0.5 and mask[-1].max() < 0.5 and mask[:, 0].max() < 0.5 and mask[:, -1].max() < 0.5


def test_the_shape_colour_shows_in_the_image():
    gen = ShapeGenerator(ShapesConfig(pixel_noise=0.0, max_distractors=0), seed=4)
    images, samples = gen.render(range(8))
    for img, sample in zip(images, samples):
        inside = gen.coverage(sample) > 0.99
        shade_free = img[inside].astype(float).mean(axis=0)
        assert np.linalg.norm(shade_free - sample.rgb) < 40


def test_luminance_contrast_changes_only_the_colour_and_holds_where_a_colour_allows():
    plain, strict = ShapeGenerator(ShapesConfig(), seed=9), ShapeGenerator(ShapesConfig(min_luma_contrast=0.3), seed=9)
    changed = 0
    for i in range(300):
        a, b = plain.sample(i), strict.sample(i)
        assert (a.class_name, a.centre, a.radius, a.angle, a.background, a.size_word) == \
            (b.class_name, b.centre, b.radius, b.angle, b.background, b.size_word)
        np.testing.assert_array_equal(a.bg_colours, b.bg_colours)
        changed += a.colour_name != b.colour_name
        contrast = {name: colour_luma_contrast(np.asarray(c, float), b.bg_colours) for name, c in COLOURS.items()}
        # the named colour meets the criterion, or none does and the most contrasted is drawn
        assert contrast[b.colour_name] >= 0.3 or contrast[b.colour_name] == max(contrast.values())
    assert changed > 50  # RGB distance alone often picks a colour as bright as the background


def test_a_shape_as_bright_as_its_background_gives_an_event_camera_no_edges():
    """Why the luminance criterion exists: hue differences make no events."""
    cfg = ShapesConfig(backgrounds=("plain",), max_distractors=0, pixel_noise=0.0)
    lo = ShapeGenerator(cfg, seed=3)
    hidden = next(s for s in map(lo.sample, range(500)) if s.luma_contrast < 0.05)
    shown = dataclasses.replace(hidden, rgb=np.where(log_luminance(hidden.bg_colours[0]) > -1.0, 0.0, 255.0)
                                * np.ones(3))
    assert shown.luma_contrast > 1.0
    motion = Trajectory(Pose(), Pose(tx=3.0, ty=-2.0), 50_000)
    quiet = SynthConfig(shot_noise_hz=0.0, hot_pixel_fraction=0.0)
    counts = [len(synthesize(lo.render_samples([smp])[0], quiet, 0, trajectory=motion).events)
              for smp in (hidden, shown)]
    assert counts[1] > 100 and counts[0] < 0.05 * counts[1], counts


def test_negative_contrasts_are_refused():
    with pytest.raises(ValueError, match="min_luma_contrast"):
        ShapesConfig(min_luma_contrast=-0.1)


def test_radii_below_the_documented_minimum_are_refused():
    with pytest.raises(ValueError, match="radius_range"):
        ShapesConfig(radius_range=(MIN_RADIUS_FRACTION / 2, 0.3))
    with pytest.raises(ValueError):
        ShapesConfig(classes=("circle", "dodecahedron"))


def test_captions_name_the_class_and_only_the_true_colour():
    gen = ShapeGenerator(seed=5)
    captions = set()
    for i in range(300):
        sample = gen.sample(i)
        words = sample.caption.replace(",", " ").split()
        captions.add(sample.caption)
        assert sample.class_name in words
        assert [w for w in words if w in COLOURS] in ([], [sample.colour_name])
        for wrong in ("a orange", "a arrow", "an red", "a uniform", "an small"):
            assert f" {wrong} " not in f" {sample.caption} "
    assert len(captions) > 100  # varied templates, not one sentence per class


def test_label_file_lists_the_demo_classes_in_order():
    assert LABELS_FILE.read_text(encoding="utf-8").splitlines() == list(SHAPE_CLASSES)


def test_dataset_yields_normalised_image_caption_class_triples():
    ds = ShapesDataset(10, seed=0)
    image, caption, label = ds[3]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32
    assert isinstance(caption, str) and caption
    assert isinstance(label, int) and 0 <= label < len(SHAPE_CLASSES)
    assert image.min() < 0 < image.max()  # CLIP mean/std applied
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    images, captions, labels = batch
    assert images.shape == (4, 3, 64, 64) and len(captions) == 4 and labels.dtype == torch.int64
    torch.testing.assert_close(images[3], image)
    with pytest.raises(IndexError):
        ds[10]


def test_dataset_offset_selects_later_images_of_the_same_seed():
    whole = ShapesDataset(8, seed=2, normalize=False)
    tail = ShapesDataset(4, seed=2, offset=4, normalize=False)
    torch.testing.assert_close(tail[1][0], whole[5][0])
    assert 0.0 <= float(tail[1][0].min()) and float(tail[1][0].max()) <= 1.0
