"""Could a compositional teacher replace the bundled demo? (issue #19, item 6)

Measures what ``docs/results.md`` ("Shipping the compositional demo: not yet") reports:

1. the teacher on fresh RGB images of its own domain: 165-way top-1 and each factor
   (count, fill, shape) read off the predicted composition;
2. the teacher on the RGB images of the demo recording's 24 segments and on fresh images
   of the shapes domain, with the recording's 12 shapes as labels ("one solid star" and
   the bare "star"): the ceiling of any student distilled from it on that recording;
3. a distilled student through the product's live path (``ezsr-live --replay
   weights/demo/shapes_demo.raw --headless --speed max``), scored as the CI test of the
   shipped demo scores it (the shape at each window's middle), against its 80 % bar.

Usage (1 torch thread; about 35 s on 2 idle cores)::

    python docs/measure_compositional_demo.py --teacher T/teacher.safetensors \
        --student OUT/work/runs/paper/cosine/seed0/event_encoder.safetensors
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ezsr_live.cli.live import main as ezsr_live
from ezsr_live.recipes.demo.compositional import CompositionalConfig
from ezsr_live.recipes.demo.recording import (
    RECORDING_SEED_BASE,
    RecordingConfig,
    label_at,
    read_ground_truth,
    segment_images,
    segment_order,
)
from ezsr_live.recipes.demo.shapes import SHAPE_CLASSES, ShapeGenerator, ShapesConfig, to_tensor
from ezsr_live.recipes.demo.ablation import embed
from ezsr_live.recipes.demo.teacher import class_embeddings, load_teacher, zero_shot_eval

RECORDING = Path(__file__).resolve().parents[1] / "weights" / "demo" / "shapes_demo.raw"
FRESH_SEED = 20261203  # images no teacher or student trained on
VOCABULARIES = {"one solid X": lambda s: f"one solid {s}", "X": lambda s: s}


@torch.no_grad()
def _predict(clip, images: np.ndarray, text: torch.Tensor) -> np.ndarray:
    return (embed(clip.model.visual, to_tensor(images)) @ text.T).argmax(1).numpy()


def _pct(hits) -> str:
    return f"{100 * float(np.mean(hits)):.1f} %"


@torch.no_grad()
def teacher_in_domain(clip, n: int) -> dict[str, str]:
    cfg = CompositionalConfig()
    result = zero_shot_eval(clip.model, clip.tokenizer, cfg, n, seed=FRESH_SEED)
    confusion = result.confusion  # (truth, predicted) counts
    out = {"165-way": f"{100 * result.top1:.1f} %"}
    for k, factor in enumerate(("count", "fill", "shape")):
        values = np.array([c[k] for c in cfg.compositions])
        same = values[:, None] == values[None, :]  # the factor read off the prediction is right
        out[factor] = f"{100 * confusion[same].sum() / confusion.sum():.1f} %"
    return out


def teacher_on_shapes(clip, n: int) -> dict[str, str]:
    cfg = RecordingConfig()
    order = segment_order(cfg.classes, cfg.repeats, np.random.default_rng([RECORDING_SEED_BASE, 0]))
    segments = ShapeGenerator(cfg.shapes, RECORDING_SEED_BASE).render_samples(segment_images(cfg, order, 0))
    fresh, samples = ShapeGenerator(ShapesConfig(min_luma_contrast=cfg.min_luma_contrast), FRESH_SEED).render(
        np.arange(n))
    out = {}
    for vocab, word in VOCABULARIES.items():
        text = class_embeddings(clip.model, clip.tokenizer, [word(s) for s in SHAPE_CLASSES],
                                CompositionalConfig().zero_shot_templates)
        for what, images, truth in (("recording's segments", segments, order),
                                    ("fresh shapes images", fresh, [s.class_name for s in samples])):
            pred = [SHAPE_CLASSES[i] for i in _predict(clip, images, text)]
            out[f"{what}, labels '{vocab}'"] = _pct([p == t for p, t in zip(pred, truth)])
    return out


def student_on_recording(teacher: Path, student: Path, templates: Path) -> dict[str, str]:
    truth_segments = read_ground_truth(RECORDING.with_suffix(".json"))
    out = {}
    for vocab, word in VOCABULARIES.items():
        labels = [word(s) for s in SHAPE_CLASSES]
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results.jsonl"
            with contextlib.redirect_stdout(io.StringIO()):
                rc = ezsr_live(["--replay", str(RECORDING), "--headless", "--speed", "max", "--device", "cpu",
                                "--threads", "1", "--model", "ezsr-demo-compositional", "--pretrained", str(teacher),
                                "--event-weights", str(student), "--labels", ",".join(labels),
                                "--templates", str(templates), "--output", str(results)])
            if rc != 0:
                raise SystemExit(f"ezsr-live exited {rc}")
            rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        middles = np.array([(r["t_window_start_us"] + r["t_us"]) // 2 for r in rows])
        truth = label_at(truth_segments, middles)
        hits = [labels.index(r["topk"][0]["label"]) == SHAPE_CLASSES.index(t)
                for r, t in zip(rows, truth) if t is not None]
        out[f"{len(hits)} windows, labels '{vocab}'"] = _pct(hits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True, help="a compositional teacher (.safetensors)")
    parser.add_argument("--student", type=Path, required=True, help="an event encoder distilled from it")
    parser.add_argument("--templates", type=Path, help="its templates.txt (default: beside the teacher)")
    parser.add_argument("--images", type=int, default=1650, help="fresh images per RGB test (default 1650)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    clip = load_teacher(args.teacher)
    report = {"teacher on its own domain (RGB)": teacher_in_domain(clip, args.images),
              "teacher on the shapes demo's images (RGB)": teacher_on_shapes(clip, args.images),
              "student on shapes_demo.raw through ezsr-live (bar: 80 %)":
                  student_on_recording(args.teacher, args.student, args.templates or args.teacher.parent / "templates.txt")}
    for section, rows in report.items():
        print(section)
        for name, value in rows.items():
            print(f"  {name}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
