"""Demo shape generator and demo CLIP throughput on one thread.

Rows: images/s rendered by :class:`ezsr_live.recipes.demo.shapes.ShapeGenerator` at 64 px and
224 px (batch 1 and batch 128), and training images/s of the ``ezsr-demo`` CLIP (one
contrastive AdamW step per batch, data rendered in the same thread, as the teacher
training of ``ezsr demo train`` does with ``TeacherConfig(workers=0)``).

Usage: python benchmarks/bench_demo_shapes.py [--seconds 3]
Numbers on a shared CPU are noisy: other processes compete for the same cores.
"""
from __future__ import annotations

import argparse
import json
import time

import torch


def _rate(fn, batch: int, seconds: float) -> float:
    fn(0)  # warm-up (imports, allocator)
    done, start, k = 0, time.perf_counter(), 1
    while time.perf_counter() - start < seconds:
        fn(k)
        done += batch
        k += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    torch.set_num_threads(1)

    from open_clip.loss import ClipLoss

    from ezsr_live.recipes.demo.shapes import ShapeGenerator, ShapesConfig
    from ezsr_live.recipes.demo.teacher import TeacherConfig, TeacherBatches, build_model

    rows = []
    for size in (64, 224):
        gen = ShapeGenerator(ShapesConfig(image_size=size), seed=0)
        for batch in (1, 128):
            rate = _rate(lambda k, b=batch, g=gen: g.render(range(k * b, (k + 1) * b)), batch, args.seconds)
            rows.append((f"render {size}px", batch, rate))

    model, tokenizer = build_model()
    cfg = TeacherConfig()
    batches = TeacherBatches(ShapeGenerator(cfg.shapes, 0), cfg.batch_size, tokenizer, 10**6)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = ClipLoss()

    def train_step(k: int) -> None:
        images, tokens, _ = batches[k]
        loss = loss_fn(*model(images, tokens))
        opt.zero_grad()
        loss.backward()
        opt.step()

    train_rate = _rate(train_step, cfg.batch_size, args.seconds * 3)
    rows.append(("train ezsr-demo 64px", cfg.batch_size, train_rate))

    print(f"{'what':<22}{'batch':>7}{'images/s':>12}")
    for what, batch, rate in rows:
        print(f"{what:<22}{batch:>7}{rate:>12.0f}")
    headline = {
        "render_64px_images_per_s": round(rows[1][2]),
        "render_224px_images_per_s": round(rows[3][2]),
        "train_demo_clip_images_per_s": round(train_rate),
        "threads": 1,
    }
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
