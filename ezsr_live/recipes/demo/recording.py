"""The demo recording: generated shapes appearing and moving one after another.

Each *segment* shows one generated image (one shape class on a textured background)
seen by a camera making several consecutive small motions; the motions are chained
(each starts at the pose where the previous one ended, poses stay within a few pixels
of the centre), so the shape keeps moving for the whole segment. Segments follow each
other without gaps, in a random order of the classes (every class ``repeats`` times,
never the same class twice in a row) fixed by the seed. Every shape differs from its
background in luminance, not only in hue (:attr:`RecordingConfig.min_luma_contrast`):
what an event camera cannot see has no place in a ground truth.

The ground truth is a list of ``{"t_start_us", "t_end_us", "label"}`` in the
recording's own timestamps (half-open spans, the first segment starts at 0).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ezsr_live.recipes.demo.shapes import SHAPE_CLASSES, ShapeGenerator, ShapesConfig, ShapeSample
from ezsr_live.events import EVENT_DTYPE, EventPacket, Geometry
from ezsr_live.synth import Pose, SynthConfig, Trajectory, synthesize

#: seed offset of the recording's images, away from training (small) and evaluation seeds
RECORDING_SEED_BASE = 2_000_003


@dataclass(frozen=True)
class RecordingConfig:
    """What the demo recording shows. Times in milliseconds, shifts as a fraction of the side."""

    classes: tuple[str, ...] = SHAPE_CLASSES
    repeats: int = 2  # every class appears this many times
    segment_ms: tuple[float, float] = (400.0, 600.0)
    motion_ms: tuple[float, float] = (40.0, 60.0)
    #: the camera pose stays within this shift (fraction of the side) of the centre, so a
    #: motion moves the image by at most twice that: about the training motions' extent
    max_shift_frac: float = 0.04
    max_rotation_deg: float = 3.0
    max_zoom: float = 0.05
    image_size: int = 64
    #: every shape differs from each background colour by at least this much log luminance
    #: (the event threshold is 0.2): a shape as bright as its background gives no events, and
    #: a label for it would score the encoder on a shape the sensor cannot see
    min_luma_contrast: float = 0.3
    synth: SynthConfig = field(default_factory=SynthConfig)

    def __post_init__(self) -> None:
        if self.repeats < 1 or not self.classes:
            raise ValueError("a recording needs at least one class shown at least once")
        if not 0 < self.motion_ms[0] <= self.motion_ms[1] <= self.segment_ms[0] <= self.segment_ms[1]:
            raise ValueError("need 0 < motion_ms low <= high <= segment_ms low <= high")
        if self.min_luma_contrast < 0:
            raise ValueError("min_luma_contrast must be non-negative")

    @property
    def shapes(self) -> ShapesConfig:
        """The generator settings of the segments' images (one class each)."""
        return ShapesConfig(image_size=self.image_size, min_luma_contrast=self.min_luma_contrast)

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.image_size, self.image_size)


@dataclass(frozen=True)
class Segment:
    t_start_us: int
    t_end_us: int
    label: str

    def to_json(self) -> dict[str, int | str]:
        return {"t_start_us": self.t_start_us, "t_end_us": self.t_end_us, "label": self.label}


def segment_order(classes: Sequence[str], repeats: int, rng: np.random.Generator) -> list[str]:
    """Every class ``repeats`` times, shuffled, with no class twice in a row (when possible)."""
    order: list[str] = []
    for _ in range(repeats):
        perm = [classes[i] for i in rng.permutation(len(classes))]
        if order and len(perm) > 1 and perm[0] == order[-1]:
            perm[0], perm[-1] = perm[-1], perm[0]
        order.extend(perm)
    return order


def _random_pose(rng: np.random.Generator, cfg: RecordingConfig) -> Pose:
    shift = cfg.max_shift_frac * cfg.image_size
    return Pose(
        tx=float(rng.uniform(-shift, shift)),
        ty=float(rng.uniform(-shift, shift)),
        rotation_deg=float(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg)),
        scale=float(math.exp(rng.uniform(math.log(1 - cfg.max_zoom), math.log(1 + cfg.max_zoom)))),
    )


#: how many images of a class a segment may skip to find one whose shape clears
#: ``min_luma_contrast`` (the generator falls back to the most contrasted colour when no
#: colour clears it against a two-colour background; about 1 image in 20 at 0.3)
MAX_IMAGE_TRIES = 64


def segment_images(cfg: RecordingConfig, order: Sequence[str], seed: int = 0) -> list[ShapeSample]:
    """The image of each segment of ``order``: segment ``k`` shows image ``k`` of its
    class's generator, or the next (``k + n``, ``k + 2n``, ...) whose shape clears
    ``cfg.min_luma_contrast``."""
    generators = {c: ShapeGenerator(dataclasses.replace(cfg.shapes, classes=(c,)), RECORDING_SEED_BASE + seed)
                  for c in cfg.classes}
    samples: list[ShapeSample] = []
    for k, label in enumerate(order):
        tries = (generators[label].sample(k + j * len(order)) for j in range(MAX_IMAGE_TRIES))
        sample = next((smp for smp in tries if smp.luma_contrast >= cfg.min_luma_contrast), None)
        if sample is None:
            raise ValueError(f"no {label} image among {MAX_IMAGE_TRIES} clears min_luma_contrast "
                             f"{cfg.min_luma_contrast:g}: lower it")
        samples.append(sample)
    return samples


def synthesize_recording(cfg: RecordingConfig, seed: int = 0) -> tuple[EventPacket, list[Segment]]:
    """All events of the recording (time-sorted) and its ground-truth segments."""
    rng = np.random.default_rng([RECORDING_SEED_BASE, seed])
    order = segment_order(cfg.classes, cfg.repeats, rng)
    renderer = ShapeGenerator(cfg.shapes, RECORDING_SEED_BASE + seed)
    packets: list[EventPacket] = []
    segments: list[Segment] = []
    t = 0
    for label, sample in zip(order, segment_images(cfg, order, seed)):
        images = renderer.render_samples([sample])
        seg_end = t + int(round(rng.uniform(*cfg.segment_ms) * 1000))
        start, pose = t, Pose()
        while t < seg_end:
            duration = min(seg_end - t, int(round(rng.uniform(*cfg.motion_ms) * 1000)))
            nxt = _random_pose(rng, cfg)
            result = synthesize(images[0], cfg.synth, rng, geometry=cfg.geometry,
                                trajectory=Trajectory(pose, nxt, max(1, duration)), t_offset_us=t)
            packets.append(result.events)
            pose, t = nxt, t + duration
        segments.append(Segment(start, seg_end, label))
    events = np.concatenate(packets) if packets else np.empty(0, EVENT_DTYPE)
    # motions are sorted and disjoint in time except for noise at a shared boundary
    events = events[np.argsort(events["t"], kind="stable")]
    return events, segments


def write_recording(path: str | os.PathLike, cfg: RecordingConfig, seed: int = 0) -> tuple[Path, Path, int]:
    """Write the recording (format by extension, e.g. ``.raw`` = EVT 3.0) and its ground
    truth ``<stem>.json``; returns both paths and the event count."""
    from ezsr_live.drivers import open_writer

    path = Path(path)
    events, segments = synthesize_recording(cfg, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_writer(path, cfg.geometry) as writer:
        writer.write(events)
    gt_path = path.with_suffix(".json")
    gt_path.write_text(json.dumps([s.to_json() for s in segments], indent=1) + "\n", encoding="utf-8")
    return path, gt_path, len(events)


def read_ground_truth(path: str | os.PathLike) -> list[Segment]:
    """The segments of a ground-truth sidecar."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return [Segment(int(d["t_start_us"]), int(d["t_end_us"]), str(d["label"])) for d in doc]


def label_at(segments: Sequence[Segment], t_us: np.ndarray) -> list[str | None]:
    """The ground-truth label at each time (None outside every segment)."""
    starts = np.array([s.t_start_us for s in segments], dtype=np.int64)
    idx = np.searchsorted(starts, np.asarray(t_us, dtype=np.int64), side="right") - 1
    out: list[str | None] = []
    for i, t in zip(idx.tolist(), np.asarray(t_us).tolist()):
        out.append(segments[i].label if i >= 0 and t < segments[i].t_end_us else None)
    return out
