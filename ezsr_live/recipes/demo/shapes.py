"""Procedural image-caption pairs of 12 shape classes: the demo model's training domain.

Every image shows one shape of :data:`SHAPE_CLASSES` in a random colour, size, position
and rotation over a textured background (plain, stripes, checks, noise or a gradient),
with thin distractor strokes and dots behind it, and a caption drawn from varied
templates that mention the class and, often, its colour, size and background
("a large red star on a striped background").

Rendering is vectorised numpy: each class has a signed distance function (SDF) in the
shape's own unit frame (the shape fits the unit disc); a batch of the same class is
evaluated at once on an ``(n, H, W)`` grid, and anti-aliased coverage is
``clip(0.5 - sdf_px, 0, 1)`` with the SDF in pixels. Per-image parameters come from a
generator seeded with ``(seed, index)``, so image ``index`` of a seed is the same
whatever batch it is rendered in.

Shape size is a radius given as a fraction of the image side. Radii below
:data:`MIN_RADIUS_FRACTION` are refused: a feasibility run found that shapes drawn at
about 10 px radius in 64 px images made circle/hexagon/pentagon and
diamond/triangle/heart look alike to a small model.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ezsr_live.synth.render import log_luminance

#: the demo's classes, in label order (``weights/demo/labels.txt`` lists exactly these)
SHAPE_CLASSES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "hexagon", "cross",
    "heart", "arrow", "ring", "crescent", "diamond", "pentagon",
)

#: named colours (sRGB 0..255); a shape's colour is one of these with a little jitter
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30), "green": (40, 170, 60), "blue": (40, 70, 220),
    "yellow": (240, 220, 40), "orange": (245, 140, 20), "purple": (140, 50, 190),
    "pink": (245, 120, 190), "cyan": (40, 210, 220), "white": (245, 245, 245),
    "black": (15, 15, 15), "brown": (130, 80, 35), "grey": (128, 128, 128),
}

BACKGROUNDS: tuple[str, ...] = ("plain", "stripes", "checks", "noise", "gradient")
#: how captions call each background
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "uniform", "flat"),
    "stripes": ("striped",),
    "checks": ("checkered", "chequered"),
    "noise": ("noisy", "speckled"),
    "gradient": ("gradient", "shaded"),
}

SIZE_WORDS: tuple[str, ...] = ("small", "medium", "large")

#: smallest radius allowed, as a fraction of the image side (about 10 px at 64 px)
MIN_RADIUS_FRACTION = 0.16
#: largest radius that still keeps the whole shape inside the image
MAX_RADIUS_FRACTION = 0.45

#: caption templates; ``{a}`` is the article that fits the word after it
CAPTION_TEMPLATES: tuple[str, ...] = (
    "{a} {size} {colour} {shape} on {bg_a} {bg} background",
    "{a} {colour} {shape} on {bg_a} {bg} background",
    "{a} {size} {shape} on {bg_a} {bg} background",
    "{a} {shape} on {bg_a} {bg} background",
    "{a} {size} {colour} {shape}",
    "{a} {colour} {shape}",
    "{a} {size} {shape}",
    "{a} {shape}",
    "a photo of {a} {colour} {shape}",
    "a drawing of {a} {size} {shape}",
    "{a} {shape} shape in {colour}",
    "there is {a} {colour} {shape} in the picture",
    "{shape}, {colour}, {size}",
    "{a} {colour} {shape} with some clutter around it",
)


#: zero-shot prompts: class only (no colour, size or background words); ``{a}`` is the article
ZERO_SHOT_TEMPLATES: tuple[str, ...] = ("{a} {c}", "{a} {c} shape", "a drawing of {a} {c}", "a photo of {a} {c}")


@dataclass(frozen=True)
class ShapesConfig:
    """What the generator draws. Radii are fractions of the image side."""

    image_size: int = 64
    radius_range: tuple[float, float] = (0.22, 0.42)
    classes: tuple[str, ...] = SHAPE_CLASSES
    backgrounds: tuple[str, ...] = BACKGROUNDS
    max_distractors: int = 4
    #: std of additive per-pixel noise on every image (0..255 units)
    pixel_noise: float = 4.0
    #: least RGB distance between the shape's colour and the background's mean colour
    min_contrast: float = 90.0
    #: least log-luminance difference (the event synthesiser's unit, whose threshold is
    #: 0.2) between the shape's colour and each background colour. An event camera sees
    #: only luminance: a shape as bright as its background gives no edge events however
    #: different its hue. 0 (the teacher's images) keeps the RGB criterion alone; where no
    #: colour qualifies, the one of most luminance contrast is drawn. The criterion applies
    #: to the named colour: its small jitter can move a dark colour's contrast a little.
    min_luma_contrast: float = 0.0

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        lo, hi = self.radius_range
        if not MIN_RADIUS_FRACTION <= lo <= hi <= MAX_RADIUS_FRACTION:
            raise ValueError(
                f"radius_range {self.radius_range} must lie within "
                f"[{MIN_RADIUS_FRACTION}, {MAX_RADIUS_FRACTION}] (fractions of the image side)")
        unknown = set(self.classes) - set(SHAPE_CLASSES)
        if unknown or not self.classes:
            raise ValueError(f"unknown or no shape classes: {sorted(unknown)}")
        unknown_bg = set(self.backgrounds) - set(BACKGROUNDS)
        if unknown_bg or not self.backgrounds:
            raise ValueError(f"unknown or no backgrounds: {sorted(unknown_bg)}")
        if min(self.max_distractors, self.pixel_noise, self.min_contrast, self.min_luma_contrast) < 0:
            raise ValueError("max_distractors, pixel_noise, min_contrast and min_luma_contrast "
                             "must be non-negative")


    @property
    def class_names(self) -> tuple[str, ...]:
        """The label of each class index, in order."""
        return self.classes

    @property
    def zero_shot_templates(self) -> tuple[str, ...]:
        return ZERO_SHOT_TEMPLATES

    def generator(self, seed: int = 0) -> "ShapeGenerator":
        """The generator of this configuration's images."""
        return ShapeGenerator(self, seed)

    def of_shapes(self, shapes: Sequence[str]) -> tuple[str, ...]:
        """The classes that draw one of ``shapes``, in label order."""
        return tuple(c for c in self.class_names if c in set(shapes))

    def without(self, names: Sequence[str]) -> "ShapesConfig":
        """This configuration less the classes ``names`` (a held-out protocol's training
        images); unknown names are refused."""
        unknown = sorted(set(names) - set(self.class_names))
        if unknown:
            raise ValueError(f"no such classes to hold out: {unknown}")
        return dataclasses.replace(self, classes=tuple(c for c in self.classes if c not in set(names)))


@dataclass
class ShapeSample:
    """The parameters of one image (all geometry in pixels)."""

    index: int
    class_name: str
    class_index: int  # index into the config's ``classes``
    colour_name: str
    rgb: np.ndarray  # (3,) float
    size_word: str
    radius: float
    centre: tuple[float, float]  # (x, y)
    angle: float  # radians
    background: str
    bg_colours: np.ndarray  # (2, 3) float
    bg_period: float
    bg_angle: float
    caption: str
    distractors: np.ndarray = field(repr=False)  # (k, 8): x0 y0 x1 y1 half_width r g b

    @property
    def luma_contrast(self) -> float:
        """Least log-luminance difference between the shape's colour and a background
        colour: below the event threshold (0.2), parts of its outline give no events."""
        return float(colour_luma_contrast(self.rgb, self.bg_colours))


def colour_luma_contrast(rgb: np.ndarray, bg_colours: np.ndarray) -> np.ndarray:
    """Least absolute log-luminance difference between each colour of ``rgb`` (..., 3)
    and the rows of ``bg_colours`` (k, 3), all sRGB 0..255; shape ``rgb.shape[:-1]``."""
    return np.abs(log_luminance(rgb)[..., None] - log_luminance(bg_colours)).min(axis=-1)


# --------------------------------------------------------------------------- SDFs
def _polygon_sdf(u: np.ndarray, v: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Signed distance to a simple polygon (negative inside), any convexity.

    ``verts`` is ``(m, 2)``; distance is the least distance to an edge, sign by the
    even-odd crossing rule."""
    d2 = np.full(u.shape, np.inf, dtype=u.dtype)
    inside = np.zeros(u.shape, dtype=bool)
    m = len(verts)
    for i in range(m):
        # Python floats keep the grid's float32 (NumPy scalars would promote it)
        ax, ay = (float(c) for c in verts[i])
        bx, by = (float(c) for c in verts[(i + 1) % m])
        ex, ey = bx - ax, by - ay
        wx, wy = u - ax, v - ay
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0, 1.0)
        dx, dy = wx - ex * t, wy - ey * t
        np.minimum(d2, dx * dx + dy * dy, out=d2)
        crosses = (ay > v) != (by > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (v - ay) * ex / ey if ey != 0 else np.full(u.shape, np.inf)
        inside ^= crosses & (u < x_at)
    d = np.sqrt(d2)
    return np.where(inside, -d, d)


def _regular(n: int, radius: float = 1.0, phase: float = np.pi / 2) -> np.ndarray:
    a = phase + 2 * np.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)


def _star_vertices(points: int = 5, outer: float = 1.0, inner: float = 0.42) -> np.ndarray:
    a = np.pi / 2 + np.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _heart_vertices(n: int = 48) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    pts = np.stack([x, y], axis=1)
    pts[:, 1] -= (pts[:, 1].max() + pts[:, 1].min()) / 2
    return pts / np.hypot(pts[:, 0], pts[:, 1]).max()  # fits the unit disc


_CROSS = np.array([(-0.3, 0.95), (0.3, 0.95), (0.3, 0.3), (0.95, 0.3), (0.95, -0.3), (0.3, -0.3),
                   (0.3, -0.95), (-0.3, -0.95), (-0.3, -0.3), (-0.95, -0.3), (-0.95, 0.3), (-0.3, 0.3)])
_ARROW = np.array([(-0.95, 0.22), (0.2, 0.22), (0.2, 0.6), (0.95, 0.0), (0.2, -0.6), (0.2, -0.22),
                   (-0.95, -0.22)])
_SQUARE = _regular(4, 1.0, np.pi / 4) * 0.95
_DIAMOND = np.array([(0.0, 1.0), (0.58, 0.0), (0.0, -1.0), (-0.58, 0.0)])
_TRIANGLE = _regular(3, 1.0) + np.array([0.0, -0.12])
_STAR = _star_vertices()
_HEXAGON = _regular(6, 1.0, 0.0)
_PENTAGON = _regular(5, 1.0)
_HEART = _heart_vertices()


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.hypot(u, v) - 1.0


def _ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.abs(np.hypot(u, v) - 0.75) - 0.25


def _crescent(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    outer = np.hypot(u, v) - 1.0
    bite = np.hypot(u - 0.45, v) - 0.8
    return np.maximum(outer, -bite)


#: unit-frame SDF of every class (y up, the shape fits the unit disc)
SHAPE_SDFS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "circle": _circle,
    "square": lambda u, v: _polygon_sdf(u, v, _SQUARE),
    "triangle": lambda u, v: _polygon_sdf(u, v, _TRIANGLE),
    "star": lambda u, v: _polygon_sdf(u, v, _STAR),
    "hexagon": lambda u, v: _polygon_sdf(u, v, _HEXAGON),
    "cross": lambda u, v: _polygon_sdf(u, v, _CROSS),
    "heart": lambda u, v: _polygon_sdf(u, v, _HEART),
    "arrow": lambda u, v: _polygon_sdf(u, v, _ARROW),
    "ring": _ring,
    "crescent": _crescent,
    "diamond": lambda u, v: _polygon_sdf(u, v, _DIAMOND),
    "pentagon": lambda u, v: _polygon_sdf(u, v, _PENTAGON),
}

#: classes whose look changes under rotation only a little; they get any angle, the others
#: a tilt within +-40 degrees so "arrow", "heart", "triangle" keep a canonical-ish pose
_FREE_ROTATION = frozenset({"circle", "ring", "cross", "star", "hexagon", "pentagon", "square", "crescent"})


_CHUNK_PIXELS = 32 * 64 * 64


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


# --------------------------------------------------------------------------- generator
class ShapeGenerator:
    """Deterministic image-caption generator: ``render(indices)`` for a batch."""

    def __init__(self, config: ShapesConfig | None = None, seed: int = 0):
        self.config = config or ShapesConfig()
        self.seed = int(seed)
        s = self.config.image_size
        # pixel centres
        self._ys, self._xs = np.mgrid[0:s, 0:s].astype(np.float32) + np.float32(0.5)

    # ---- parameters
    def sample(self, index: int) -> ShapeSample:
        """The parameters (and caption) of image ``index``; cheap, no pixels."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, int(index)])
        s = cfg.image_size
        class_index = int(rng.integers(len(cfg.classes)))
        class_name = cfg.classes[class_index]
        lo, hi = cfg.radius_range
        r_frac = float(rng.uniform(lo, hi))
        radius = r_frac * s
        third = (hi - lo) / 3
        size_word = SIZE_WORDS[min(2, int((r_frac - lo) / third)) if third > 0 else 1]
        margin = min(radius + 1.5, s / 2)  # the anti-aliased edge stays off the border pixels
        cx = float(rng.uniform(margin, s - margin))
        cy = float(rng.uniform(margin, s - margin))
        if class_name in _FREE_ROTATION:
            angle = float(rng.uniform(-np.pi, np.pi))
        else:
            angle = float(rng.uniform(-0.7, 0.7))
        background, bg_colours, colour_name, rgb = self._draw_backdrop_and_colour(rng)
        bg_period = float(rng.uniform(0.08, 0.22) * s)
        bg_angle = float(rng.uniform(0, np.pi))
        distractors = self._draw_distractor_params(rng)
        template = CAPTION_TEMPLATES[int(rng.integers(len(CAPTION_TEMPLATES)))]
        bg_word_choices = BACKGROUND_WORDS[background]
        bg_word = bg_word_choices[int(rng.integers(len(bg_word_choices)))]
        caption = _fill(template, class_name, colour_name, size_word, bg_word)
        return ShapeSample(index, class_name, class_index, colour_name, rgb, size_word, radius, (cx, cy),
                           angle, background, bg_colours, bg_period, bg_angle, caption, distractors)

    def _draw_backdrop_and_colour(self, rng: np.random.Generator) -> tuple[str, np.ndarray, str, np.ndarray]:
        """Background kind, its two colours, and the shape's colour name and jittered RGB."""
        cfg = self.config
        background = cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))]
        names = list(COLOURS)
        # two background colours: muted, so that saturated shape colours stand out
        bg_colours = rng.uniform(20, 235, (2, 3))
        grey = bg_colours.mean(axis=1, keepdims=True)
        bg_colours = grey + 0.45 * (bg_colours - grey)
        if background == "plain":
            bg_colours[1] = bg_colours[0]
        bg_mean = bg_colours.mean(axis=0)
        order = rng.permutation(len(names))
        # the first colour (in a random order) with enough contrast; the choice draws
        # nothing from ``rng``, so the luminance criterion changes colours, never the rest
        palette = np.array([COLOURS[names[k]] for k in order], dtype=float)
        luma = colour_luma_contrast(palette, bg_colours)
        fits = np.flatnonzero((np.linalg.norm(palette - bg_mean, axis=1) >= cfg.min_contrast)
                              & (luma >= cfg.min_luma_contrast))
        if len(fits):
            colour_name = names[order[fits[0]]]
        elif cfg.min_luma_contrast > 0:
            colour_name = names[order[int(np.argmax(luma))]]
        else:
            colour_name = names[order[0]]
        rgb = np.clip(np.asarray(COLOURS[colour_name], float) + rng.normal(0, 10, 3), 0, 255)
        return background, bg_colours, colour_name, rgb

    def _draw_distractor_params(self, rng: np.random.Generator) -> np.ndarray:
        """``(k, 8)`` thin strokes and tiny dots, far below the smallest shape."""
        s = self.config.image_size
        k = int(rng.integers(self.config.max_distractors + 1))
        ends = rng.uniform(0, s, (k, 4))
        half_width = rng.uniform(0.4, 1.2, (k, 1)) * s / 64
        dots = rng.random(k) < 0.4
        ends[dots, 2:] = ends[dots, :2]
        half_width[dots] *= 2.0
        colours = rng.uniform(0, 255, (k, 3))
        return np.concatenate([ends, half_width, colours], axis=1)

    # ---- pixels
    def render(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, list[ShapeSample]]:
        """Images ``(n, S, S, 3)`` uint8 and their samples, for the given indices."""
        samples = [self.sample(int(i)) for i in indices]
        if not samples:
            return np.zeros((0, self.config.image_size, self.config.image_size, 3), np.uint8), samples
        # chunks keep the (n, k, S, S) temporaries small enough to stay in cache
        chunk = max(1, _CHUNK_PIXELS // self.config.image_size**2)
        images = np.concatenate([self.render_samples(samples[i:i + chunk])
                                 for i in range(0, len(samples), chunk)])
        return images, samples

    def render_samples(self, samples: Sequence[ShapeSample]) -> np.ndarray:
        """Pixels for already drawn samples, vectorised per background kind and class."""
        n, s = len(samples), self.config.image_size
        canvas = np.empty((n, s, s, 3), dtype=np.float32)
        kinds = np.array([smp.background for smp in samples])
        for kind in set(kinds.tolist()):
            idx = np.flatnonzero(kinds == kind)
            canvas[idx] = self._background(kind, [samples[i] for i in idx])
        self._draw_distractors(canvas, samples)
        self._composite_shapes(canvas, samples)
        if self.config.pixel_noise > 0:
            for i, smp in enumerate(samples):
                rng = np.random.default_rng([self.seed, smp.index, 1])
                canvas[i] += rng.standard_normal((s, s, 3), dtype=np.float32) * np.float32(self.config.pixel_noise)
        return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)

    def _background(self, kind: str, samples: list[ShapeSample]) -> np.ndarray:
        s = self.config.image_size
        c0 = np.stack([smp.bg_colours[0] for smp in samples]).astype(np.float32)[:, None, None, :]
        c1 = np.stack([smp.bg_colours[1] for smp in samples]).astype(np.float32)[:, None, None, :]
        if kind == "plain":
            return np.broadcast_to(c0, (len(samples), s, s, 3)).copy()
        ang = np.array([smp.bg_angle for smp in samples], dtype=np.float32)[:, None, None]
        period = np.array([smp.bg_period for smp in samples], dtype=np.float32)[:, None, None]
        x, y = self._xs[None], self._ys[None]
        a = x * np.cos(ang) + y * np.sin(ang)
        if kind == "stripes":
            # soft-edged square wave: the edge spans about one pixel
            t = np.clip(0.5 + np.sin(2 * np.pi * a / period) * period / (2 * np.pi), 0, 1)
        elif kind == "checks":
            b = -x * np.sin(ang) + y * np.cos(ang)
            q = np.sin(np.pi * a / period) * np.sin(np.pi * b / period)
            t = np.clip(0.5 + q * period / np.pi, 0, 1)
        elif kind == "gradient":
            t = (a - a.min(axis=(1, 2), keepdims=True)) / np.ptp(a, axis=(1, 2), keepdims=True)
        elif kind == "noise":
            t = np.stack([self._value_noise(smp) for smp in samples]).astype(np.float32)
        else:  # pragma: no cover - config validation rejects unknown kinds
            raise ValueError(kind)
        t = t[..., None]
        return c0 * (1.0 - t) + c1 * t

    def _value_noise(self, smp: ShapeSample) -> np.ndarray:
        """Smooth noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
        s = self.config.image_size
        cells = max(2, int(round(s / smp.bg_period)))
        rng = np.random.default_rng([self.seed, smp.index, 2])
        grid = rng.random((cells + 1, cells + 1))
        g = np.linspace(0, cells, s, endpoint=False) + 0.5 * cells / s
        i0 = np.minimum(g.astype(int), cells - 1)
        f = g - i0
        rows = grid[i0] * (1 - f)[:, None] + grid[i0 + 1] * f[:, None]
        return rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]

    def _draw_distractors(self, canvas: np.ndarray, samples: Sequence[ShapeSample]) -> None:
        k = max((len(smp.distractors) for smp in samples), default=0)
        if k == 0:
            return
        seg = np.zeros((len(samples), k, 8), dtype=np.float32)
        seg[..., 4] = -2.0  # an absent distractor: negative width, never covers a pixel
        for i, smp in enumerate(samples):
            seg[i, : len(smp.distractors)] = smp.distractors
        ax, ay, bx, by, hw = (seg[:, :, c, None, None] for c in range(5))
        x, y = self._xs[None, None], self._ys[None, None]
        ex, ey = bx - ax, by - ay
        wx, wy = x - ax, y - ay
        t = np.clip((wx * ex + wy * ey) / np.maximum(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
        alpha = np.clip(0.5 + hw - np.hypot(wx - ex * t, wy - ey * t), 0.0, 1.0)  # (n, k, S, S)
        # strokes are thin and rarely cross: one layer, each pixel taking its strongest stroke,
        # composites once instead of k times
        top = alpha.argmax(axis=1)
        a = np.take_along_axis(alpha, top[:, None], axis=1)[:, 0, ..., None]
        colour = np.take_along_axis(seg[:, :, 5:8], top.reshape(len(samples), -1, 1), axis=1)
        canvas += a * (colour.reshape(canvas.shape) - canvas)

    def _composite_shapes(self, canvas: np.ndarray, samples: Sequence[ShapeSample]) -> None:
        """Paint each sample's shape over ``canvas`` in place, vectorised per class."""
        names = np.array([smp.class_name for smp in samples])
        for name in set(names.tolist()):
            idx = np.flatnonzero(names == name)
            alpha, shade = self._shape_coverage(name, [samples[i] for i in idx])
            rgb = np.stack([samples[i].rgb for i in idx]).astype(np.float32)[:, None, None, :] * shade[..., None]
            a = alpha[..., None]
            canvas[idx] = canvas[idx] * (1.0 - a) + rgb * a

    def _shape_field(self, shape: str, cx: np.ndarray, cy: np.ndarray, r: np.ndarray,
                     ang: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed distance in pixels and the shape-frame coordinates ``u, v``, each
        ``(n, S, S)``, for ``n`` placements (each argument ``(n, 1, 1)``)."""
        dx, dy = self._xs[None] - cx, cy - self._ys[None]  # y up in the shape's frame
        c, s_ = np.cos(ang), np.sin(ang)
        u = (dx * c + dy * s_) / r
        v = (-dx * s_ + dy * c) / r
        return SHAPE_SDFS[shape](u, v) * r, u, v

    def _shape_coverage(self, name: str, samples: list[ShapeSample]) -> tuple[np.ndarray, np.ndarray]:
        """Anti-aliased coverage ``(n, S, S)`` in [0, 1] and a gentle shading factor."""
        cx = np.array([smp.centre[0] for smp in samples], dtype=np.float32)[:, None, None]
        cy = np.array([smp.centre[1] for smp in samples], dtype=np.float32)[:, None, None]
        r = np.array([smp.radius for smp in samples], dtype=np.float32)[:, None, None]
        ang = np.array([smp.angle for smp in samples], dtype=np.float32)[:, None, None]
        sdf_px, _u, v = self._shape_field(name, cx, cy, r, ang)
        alpha = np.clip(0.5 - sdf_px, 0.0, 1.0)
        shade = 1.0 + 0.12 * np.clip(v, -1.0, 1.0)  # light from above
        return alpha, shade

    def coverage(self, sample: ShapeSample) -> np.ndarray:
        """The anti-aliased mask ``(S, S)`` of one sample's shape alone."""
        return self._shape_coverage(sample.class_name, [sample])[0][0]


def _fill(template: str, shape: str, colour: str, size: str, bg: str) -> str:
    """Fill a caption template; ``{a}`` agrees with the word that follows it."""
    head = template.split("{a}", 1)[1].lstrip() if "{a}" in template else ""
    words = {"shape": shape, "colour": colour, "size": size, "bg": bg}
    first = head.split("}", 1)[0].lstrip("{") if head.startswith("{") else head
    a = article(words.get(first, first))
    return template.format(a=a, shape=shape, colour=colour, size=size, bg=bg, bg_a=article(bg))


# --------------------------------------------------------------------------- torch side
def to_tensor(images: np.ndarray, normalize: bool = True) -> torch.Tensor:
    """uint8 ``(n, S, S, 3)`` -> float32 ``(n, 3, S, S)``; ``normalize`` applies CLIP's
    mean/std, as open_clip's preprocessing does at inference."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    if normalize:
        mean = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x


class ShapesDataset(Dataset):
    """``(image, caption, class_index)`` triples; item ``i`` is image ``offset + i`` of ``seed``.

    ``image`` is a float32 ``(3, S, S)`` tensor (CLIP-normalised unless ``normalize`` is
    False). ``__getitems__`` renders a whole DataLoader batch in one vectorised call."""

    def __init__(self, length: int, seed: int = 0, config: ShapesConfig | None = None,
                 offset: int = 0, normalize: bool = True):
        if length < 0 or offset < 0:
            raise ValueError("length and offset must be non-negative")
        self.generator = ShapeGenerator(config, seed)
        self.length = int(length)
        self.offset = int(offset)
        self.normalize = normalize

    @property
    def classes(self) -> tuple[str, ...]:
        return self.generator.config.classes

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str, int]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, str, int]]:
        for i in indices:
            if not 0 <= int(i) < self.length:
                raise IndexError(f"index {i} out of range for {self.length} items")
        images, samples = self.generator.render([self.offset + int(i) for i in indices])
        x = to_tensor(images, self.normalize)
        return [(x[k], smp.caption, smp.class_index) for k, smp in enumerate(samples)]
