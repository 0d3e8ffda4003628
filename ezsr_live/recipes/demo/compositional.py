"""A compositional shapes domain: count x fill x shape classes, for a CLIP-like teacher.

Every image shows ``count`` copies (1-3) of one shape of :data:`COMPOSITIONAL_SHAPES`,
all in one colour and one fill (:data:`FILLS`: solid, outlined, striped, dotted,
checkered), apart from each other, over a background of :mod:`shapes`' kinds. The class
is the composition ("two striped stars": 11 shapes x 5 fills x 3 counts = 165 classes);
captions always name the count, fill, shape and colour and often the background ("two
striped red stars on a speckled background"), so the text tower learns directions
(colour, background) that a class prompt leaves out and that an event camera cannot see.

Everything but the layout and the fills is :class:`~ezsr_live.recipes.demo.shapes.ShapeGenerator`'s:
the same SDFs, backgrounds, colour choice, noise and per-``(seed, index)`` determinism.
The ring is left out: its outline is two concentric circles, so its count would be
ambiguous. Patterned fills keep an outline band so that each copy stays one connected
shape. Backgrounds default to the kinds whose caption words do not name a fill.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ezsr_live.recipes.demo.shapes import (
    BACKGROUND_WORDS,
    SHAPE_CLASSES,
    ShapeGenerator,
    ShapeSample,
    ShapesConfig,
    _FREE_ROTATION,
    article,
)

COMPOSITIONAL_SHAPES: tuple[str, ...] = tuple(c for c in SHAPE_CLASSES if c != "ring")

#: how captions say each count; the first is the class name's
COUNT_WORDS: dict[int, tuple[str, ...]] = {1: ("one", "a single", "a"), 2: ("two", "a pair of"), 3: ("three",)}

#: how captions say each fill; the first is the class name's
FILL_WORDS: dict[str, tuple[str, ...]] = {
    "solid": ("solid", "filled"),
    "outline": ("outlined", "hollow"),
    "striped": ("striped",),
    "dotted": ("dotted", "spotted"),
    "checkered": ("checkered", "chequered"),
}

#: zero-shot prompts: the composition alone (no colour or background words)
COMPOSITIONAL_ZERO_SHOT_TEMPLATES: tuple[str, ...] = ("{c}", "a photo of {c}", "a drawing of {c}")

#: caption templates: every one names count, fill, shape and colour; ``{bg}`` is optional
CAPTION_TEMPLATES: tuple[str, ...] = (
    "{count} {fill} {colour} {shapes} on {bg_a} {bg} background",
    "{count} {fill} {colour} {shapes}",
    "{count} {colour} {fill} {shapes}",
    "a photo of {count} {fill} {colour} {shapes}",
    "a drawing of {count} {fill} {colour} {shapes} on {bg_a} {bg} background",
    "{count} {fill} {shapes} in {colour}",
    "{count} {fill} {shapes} in {colour} on {bg_a} {bg} background",
    "{shapes}: {count}, {fill}, {colour}",
    "{count} {colour} {shapes}, {fill}, on {bg_a} {bg} background",
)


def plural(shape: str) -> str:
    return shape + ("es" if shape.endswith(("s", "x", "sh", "ch")) else "s")


def composition_name(count: int, fill: str, shape: str) -> str:
    """The class name, e.g. ``"two striped stars"``, ``"one outlined heart"``."""
    return f"{COUNT_WORDS[count][0]} {FILL_WORDS[fill][0]} {shape if count == 1 else plural(shape)}"


# --------------------------------------------------------------------------- fills
def _outline_only(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    return np.zeros_like(a)


def _solid(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    return np.ones_like(a)


def _stripes(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    # soft-edged square wave of half duty: the edge spans about one pixel
    return np.clip(0.5 + np.sin(2 * np.pi * a / period) * period / (2 * np.pi), 0.0, 1.0)


def _dots(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    da, db = a - period * np.round(a / period), b - period * np.round(b / period)
    return np.clip(0.5 + 0.3 * period - np.hypot(da, db), 0.0, 1.0)


def _checks(a: np.ndarray, b: np.ndarray, period: float) -> np.ndarray:
    q = np.sin(np.pi * a / period) * np.sin(np.pi * b / period)
    return np.clip(0.5 + q * period / np.pi, 0.0, 1.0)


#: interior paint of each fill over pattern coordinates ``a, b`` (pixels, rotated by the
#: pattern's angle); the outline band is painted whatever the fill
FILLS: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "solid": _solid, "outline": _outline_only, "striped": _stripes, "dotted": _dots, "checkered": _checks,
}


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class CompositionalConfig(ShapesConfig):
    """What the compositional generator draws; ``classes`` are the shapes composed."""

    classes: tuple[str, ...] = COMPOSITIONAL_SHAPES
    backgrounds: tuple[str, ...] = ("plain", "gradient", "noise")
    max_distractors: int = 0
    fills: tuple[str, ...] = tuple(FILLS)
    counts: tuple[int, ...] = (1, 2, 3)
    #: the envelope of every count's radius range
    radius_range: tuple[float, float] = (0.16, 0.40)
    #: radius range of each count (1, 2, 3): several copies must fit apart in the image
    radius_by_count: tuple[tuple[float, float], ...] = ((0.26, 0.40), (0.17, 0.22), (0.16, 0.18))
    #: least gap between copies' enclosing circles, pixels
    gap_px: float = 3.0
    #: width of the outline band, as a fraction of the radius (at least 1.5 px)
    outline_fraction: float = 0.12
    #: fill pattern period, pixels
    pattern_period_px: tuple[float, float] = (3.6, 5.0)
    #: compositions never drawn (a held-out protocol's training images), by class name
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.fills or set(self.fills) - set(FILLS):
            raise ValueError(f"unknown or no fills: {sorted(set(self.fills) - set(FILLS))}")
        if not self.counts or set(self.counts) - set(COUNT_WORDS) or len(self.radius_by_count) < max(self.counts):
            raise ValueError(f"counts must be among {sorted(COUNT_WORDS)}, each with a radius range")
        lo, hi = self.radius_range
        for c_lo, c_hi in self.radius_by_count:
            if not lo <= c_lo <= c_hi <= hi:
                raise ValueError(f"radius_by_count {self.radius_by_count} must lie within {self.radius_range}")
        if self.gap_px < 0 or self.outline_fraction <= 0 or not 0 < self.pattern_period_px[0] <= self.pattern_period_px[1]:
            raise ValueError("gap_px must be non-negative, outline_fraction and pattern_period_px positive")
        every = {composition_name(*c) for c in itertools.product(self.counts, self.fills, self.classes)}
        if set(self.exclude) - every or set(self.exclude) >= every:
            raise ValueError(f"exclude must name some, not all, of the compositions; unknown: "
                             f"{sorted(set(self.exclude) - every)}")

    @property
    def compositions(self) -> tuple[tuple[int, str, str], ...]:
        """``(count, fill, shape)`` of every class drawn, in label order."""
        excluded = set(self.exclude)
        return tuple(c for c in itertools.product(self.counts, self.fills, self.classes)
                     if composition_name(*c) not in excluded)

    def without(self, names: Sequence[str]) -> "CompositionalConfig":
        """This configuration less the compositions ``names``."""
        unknown = sorted(set(names) - set(self.class_names))
        if unknown:
            raise ValueError(f"no such compositions to hold out: {unknown}")
        return dataclasses.replace(self, exclude=self.exclude + tuple(names))

    def of_shapes(self, shapes: Sequence[str]) -> tuple[str, ...]:
        """Every composition of ``shapes``, in label order."""
        return tuple(composition_name(*c) for c in self.compositions if c[2] in set(shapes))

    def unseen_combinations(self) -> tuple[str, ...]:
        """One composition per shape whose count, fill and shape each stay in many other
        compositions: shape ``j`` with the ``j``-th count and fill, cycling (11 shapes give
        11 distinct (count, fill) pairs of the 15). Held out, they test whether a student
        composes factors it saw apart into a combination it never saw."""
        return tuple(composition_name(self.counts[j % len(self.counts)], self.fills[j % len(self.fills)], shape)
                     for j, shape in enumerate(self.classes))

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(composition_name(*c) for c in self.compositions)

    @property
    def zero_shot_templates(self) -> tuple[str, ...]:
        return COMPOSITIONAL_ZERO_SHOT_TEMPLATES

    def generator(self, seed: int = 0) -> "CompositionalGenerator":
        return CompositionalGenerator(self, seed)


@dataclass
class CompositionSample(ShapeSample):
    """One image's parameters; ``centre`` and ``angle`` are the first copy's."""

    shape: str = ""
    fill: str = "solid"
    count: int = 1
    centres: np.ndarray = None  # type: ignore[assignment]  # (count, 2) x, y
    angles: np.ndarray = None  # type: ignore[assignment]  # (count,)
    pattern_period: float = 4.0
    pattern_angle: float = 0.0


def _layout(count: int) -> np.ndarray:
    """Unit offsets of ``count`` copies whose pairwise distance is at least 1."""
    if count == 1:
        return np.zeros((1, 2))
    angles = np.pi / 2 + 2 * np.pi * np.arange(count) / count
    return np.stack([np.cos(angles), np.sin(angles)], axis=1) / (2 * np.sin(np.pi / count))


# --------------------------------------------------------------------------- generator
class CompositionalGenerator(ShapeGenerator):
    """Deterministic image-caption generator of count x fill x shape compositions."""

    config: CompositionalConfig

    def __init__(self, config: CompositionalConfig | None = None, seed: int = 0):
        super().__init__(config or CompositionalConfig(), seed)

    def sample(self, index: int) -> CompositionSample:
        cfg = self.config
        rng = np.random.default_rng([self.seed, int(index)])
        s = cfg.image_size
        compositions = cfg.compositions
        class_index = int(rng.integers(len(compositions)))
        count, fill, shape = compositions[class_index]
        lo, hi = cfg.radius_by_count[count - 1]
        radius = float(rng.uniform(lo, hi)) * s
        margin = min(radius + 1.5, s / 2)
        spin = float(rng.uniform(-np.pi, np.pi))
        rot = np.array([[np.cos(spin), -np.sin(spin)], [np.sin(spin), np.cos(spin)]])
        unit = _layout(count) @ rot.T
        # copies' centres at least 2r + gap apart, spread a little more where they fit
        spread = 2 * radius + cfg.gap_px
        extent = np.ptp(unit, axis=0) if count > 1 else np.zeros(2)
        room = (s - 2 * margin) / max(float(extent.max()), 1e-9) if count > 1 else spread
        spread = max(spread, min(room, spread * float(rng.uniform(1.0, 1.3))))
        offsets = unit * spread
        lo_c = margin - offsets.min(axis=0)
        hi_c = s - margin - offsets.max(axis=0)
        mid = rng.uniform(0, 1, 2) * np.maximum(hi_c - lo_c, 0) + np.minimum(lo_c, (lo_c + hi_c) / 2)
        centres = mid + offsets
        if shape in _FREE_ROTATION:
            angles = rng.uniform(-np.pi, np.pi, count)
        else:
            angles = rng.uniform(-0.7, 0.7, count)
        background, bg_colours, colour_name, rgb = self._draw_backdrop_and_colour(rng)
        bg_period = float(rng.uniform(0.08, 0.22) * s)
        bg_angle = float(rng.uniform(0, np.pi))
        distractors = self._draw_distractor_params(rng)
        pattern_period = float(rng.uniform(*cfg.pattern_period_px))
        pattern_angle = float(rng.uniform(0, np.pi))
        template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
        count_word = COUNT_WORDS[count][int(rng.integers(len(COUNT_WORDS[count])))]
        fill_word = FILL_WORDS[fill][int(rng.integers(len(FILL_WORDS[fill])))]
        bg_words = BACKGROUND_WORDS[background]
        bg_word = bg_words[int(rng.integers(len(bg_words)))]
        caption = _caption(template, count_word, fill_word, colour_name, shape if count == 1 else plural(shape),
                           bg_word)
        return CompositionSample(
            index, composition_name(count, fill, shape), class_index, colour_name, rgb, "", radius,
            (float(centres[0, 0]), float(centres[0, 1])), float(angles[0]), background, bg_colours, bg_period,
            bg_angle, caption, distractors, shape=shape, fill=fill, count=count, centres=centres, angles=angles,
            pattern_period=pattern_period, pattern_angle=pattern_angle)

    def _composite_shapes(self, canvas: np.ndarray, samples: Sequence[ShapeSample]) -> None:
        for i, smp in enumerate(samples):
            alpha, shade = self.paint(smp)  # type: ignore[arg-type]
            a = alpha[..., None]
            canvas[i] = canvas[i] * (1.0 - a) + (smp.rgb.astype(np.float32) * shade[..., None]) * a

    def paint(self, sample: CompositionSample) -> tuple[np.ndarray, np.ndarray]:
        """Painted coverage ``(S, S)`` of the sample's copies (fill included) and shading."""
        alpha, interior, shade = self._copies(sample)
        a, b = self._pattern_coords(sample)
        pattern = FILLS[sample.fill](a, b, sample.pattern_period).astype(np.float32)
        # the interior paints the pattern, the band along the edge is always painted
        return alpha * (1.0 - interior + interior * pattern), shade

    def coverage(self, sample: ShapeSample) -> np.ndarray:
        """The mask ``(S, S)`` of the sample's copies as solid shapes (fill ignored)."""
        return self._copies(sample)[0]  # type: ignore[arg-type]

    def _copies(self, sample: CompositionSample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Union coverage, interior (beyond the outline band) and shading, each ``(S, S)``."""
        n = sample.count
        col = (lambda v: np.asarray(v, np.float32).reshape(n, 1, 1))
        r = col(np.full(n, sample.radius))
        sdf_px, _u, v = self._shape_field(sample.shape, col(sample.centres[:, 0]), col(sample.centres[:, 1]), r,
                                          col(sample.angles))
        band = max(1.5, self.config.outline_fraction * sample.radius)
        alpha = np.clip(0.5 - sdf_px, 0.0, 1.0).max(axis=0)
        interior = np.clip(-0.5 - sdf_px - band, 0.0, 1.0).max(axis=0)
        nearest = np.argmin(sdf_px, axis=0)[None]  # the copy each pixel belongs to
        shade = np.take_along_axis(1.0 + 0.12 * np.clip(v, -1.0, 1.0), nearest, axis=0)[0]
        return alpha, interior, shade

    def _pattern_coords(self, sample: CompositionSample) -> tuple[np.ndarray, np.ndarray]:
        c, s_ = np.cos(sample.pattern_angle), np.sin(sample.pattern_angle)
        return self._xs * c + self._ys * s_, -self._xs * s_ + self._ys * c


def _caption(template: str, count: str, fill: str, colour: str, shapes: str, bg: str) -> str:
    text = template.format(count=count, fill=fill, colour=colour, shapes=shapes, bg=bg, bg_a=article(bg))
    # every "a" agrees with the word after it ("an outlined star", "an orange ...")
    words = text.split(" ")
    for i in range(len(words) - 1):
        if words[i] == "a":
            words[i] = article(words[i + 1])
    return " ".join(words)
