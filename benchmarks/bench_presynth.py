"""Pre-synthesised training events against on-the-fly synthesis, in one run.

Part 1, what one DataLoader worker (one core) delivers to ``ezsr train``: training pairs
per second (the event frame plus the teacher's preprocessed image) when the events are
synthesised on the fly, against reading them from one file per image written by
``ezsr synth IMAGE_DIR -o EVENTS`` in each writable format; interleaved rounds, the
median of each. Part 2, the ``ezsr synth IMAGE_DIR`` command's wall time with 0 and N worker
processes (interleaved, start-up included). Images are 1/f noise (realistic event counts, as bench_synth.py).
Numbers taken while other jobs share the machine are noisy; the ratios are the point.

Usage: python benchmarks/bench_presynth.py [--images N] [--size S] [--rounds R] [--workers N] [--folder-images N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_synth import clip_preprocess, pink_noise_image  # noqa: E402
from ezsr_live.events import Geometry  # noqa: E402
from ezsr_live.recipes.train.data import EventFilePairDataset, SynthPairDataset  # noqa: E402
from ezsr_live.recipes.train.event_folder import event_files_for, synthesize_folder  # noqa: E402
from ezsr_live.synth import SynthConfig  # noqa: E402

FORMATS = (".evt2.raw", ".raw", ".npz", ".h5")


def _pairs_per_s(dataset, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        dataset[i]
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder-images", type=int, default=96, help="images of the ezsr synth timing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    size = args.size
    with tempfile.TemporaryDirectory(prefix="bench-presynth-") as tmp:
        root = Path(tmp) / "images" / "noise"
        root.mkdir(parents=True)
        for i in range(args.images):
            pink_noise_image(rng, size).save(root / f"{i:04d}.png")
        images_root = root.parent
        config, geometry = SynthConfig(), Geometry(size, size)
        folders, sizes = {}, {}
        for ext in FORMATS:
            out = Path(tmp) / f"events{ext.replace('.', '_')}"
            synthesize_folder(images_root, out, config, geometry=geometry, extension=ext, progress=False)
            folders[ext] = out
            sizes[ext] = sum(p.stat().st_size for p in out.rglob(f"*{ext}")) / args.images
        images = sorted(images_root.rglob("*.png"))
        preprocess = clip_preprocess(size)
        contenders = {"on the fly": SynthPairDataset(images, preprocess, size, config, geometry)}
        for ext, folder in folders.items():
            contenders[ext] = EventFilePairDataset(images, event_files_for(images, images_root, folder), preprocess, size)
        for ds in contenders.values():
            ds[0]  # Numba caches, file system caches
        rates: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(args.rounds):
            for name, ds in contenders.items():
                rates[name].append(_pairs_per_s(ds, args.images))
        median = {k: statistics.median(v) for k, v in rates.items()}
        base = median["on the fly"]
        print(f"{args.images} images of {size}x{size}, one core, median of {args.rounds} interleaved rounds")
        print(f"{'events from':<14}{'pairs/s':>10}{'vs on the fly':>15}{'kB/image':>10}")
        for name, value in median.items():
            kb = f"{sizes[name] / 1e3:.0f}" if name in sizes else "-"
            print(f"{name:<14}{value:>10.1f}{value / base:>14.2f}x{kb:>10}")

        # the command itself, as a user runs it (its own interpreter either way)
        big = Path(tmp) / "many" / "noise"
        big.mkdir(parents=True)
        for i in range(args.folder_images):
            shutil.copy(images[i % len(images)], big / f"{i:05d}.png")
        walls: dict[int, list[float]] = {0: [], args.workers: []}
        for r in range(args.rounds):
            for workers in walls:
                cmd = [sys.executable, "-m", "ezsr_live.cli.toolbox", "synth", str(big.parent), "-o",
                       str(Path(tmp) / f"synth_{workers}_{r}"), "--geometry", f"{size}x{size}", "--workers",
                       str(workers), "--no-progress"]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls[workers].append(time.perf_counter() - t0)
        wall = {k: statistics.median(v) for k, v in walls.items()}
        print(f"ezsr synth of {args.folder_images} images: {wall[0]:.2f} s in-process, {wall[args.workers]:.2f} s "
              f"with {args.workers} workers ({wall[0] / wall[args.workers]:.2f}x, start-up included)")
    figures = {"pairs_per_s_on_the_fly": base}
    for ext in FORMATS:
        key = ext.strip(".").replace(".", "_")
        figures[f"pairs_per_s_{key}"] = median[ext]
        figures[f"speedup_{key}"] = median[ext] / base
        figures[f"bytes_per_image_{key}"] = sizes[ext]
    figures["folder_synth_s_0_workers"] = wall[0]
    figures[f"folder_synth_s_{args.workers}_workers"] = wall[args.workers]
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
