"""Event synthesis throughput: how fast one core turns 224x224 images into training pairs.

A *pair* is what a DataLoader worker produces for ``ezsr train``: the events synthesised
from an image (random trajectory, K = 12 rendered frames, the per-pixel Numba kernel,
noise), their 3x224x224 EZSR histogram frame, and the image through CLIP's preprocessing
for the teacher. Images are procedural 1/f ("pink") noise, whose spectrum resembles
natural photographs', so event counts are realistic (tens of thousands per image). The
process is pinned to one core with one thread everywhere. Numbers taken while other jobs
share the machine are noisy.

Usage: python benchmarks/bench_synth.py [--images N] [--size S]
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ezsr_live.events import Geometry  # noqa: E402
from ezsr_live.kernels import ezsr_model_input  # noqa: E402
from ezsr_live.synth import SynthConfig, random_trajectory  # noqa: E402
from ezsr_live.synth.api import _thresholds, events_from_log_frames, synthesize  # noqa: E402
from ezsr_live.synth.render import fit_to_sensor, render_log_frames  # noqa: E402


def pink_noise_image(rng: np.random.Generator, size: int) -> Image.Image:
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    amplitude = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / size)
    channels = []
    for _ in range(3):
        phase = np.exp(2j * np.pi * rng.random((size, size)))
        img = np.real(np.fft.ifft2(amplitude * phase))
        channels.append((img - img.min()) / (img.max() - img.min()))
    return Image.fromarray((np.stack(channels, -1) * 255).astype(np.uint8))


def clip_preprocess(size: int):
    from torchvision import transforms as T

    return T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(size), T.ToTensor(),
                      T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    size = args.size
    images = [pink_noise_image(rng, size) for _ in range(args.images)]
    geometry = Geometry(size, size)
    cfg = SynthConfig()
    preprocess = clip_preprocess(size)
    synthesize(images[0], cfg, 0)  # compile / load the Numba caches outside the timing
    ezsr_model_input(synthesize(images[0], cfg, 0).events, geometry, size=size)

    stages = {"fit": 0.0, "render": 0.0, "pixel_kernel": 0.0, "histogram_frame": 0.0, "teacher_preprocess": 0.0}
    n_events = 0
    t_all = time.perf_counter()
    for i, img in enumerate(images):
        r = np.random.default_rng(i)
        t0 = time.perf_counter()
        lum = fit_to_sensor(img, size, size)
        t1 = time.perf_counter()
        traj = random_trajectory(r, cfg.trajectory, size)
        frames = render_log_frames(lum, traj, cfg.n_frames, cfg.log_eps)
        t2 = time.perf_counter()
        c_on = _thresholds(r, cfg.threshold_on, cfg, (size, size))
        c_off = _thresholds(r, cfg.threshold_off, cfg, (size, size))
        events = events_from_log_frames(frames, traj.frame_times_us(cfg.n_frames), c_on, c_off)
        t3 = time.perf_counter()
        ezsr_model_input(events, geometry, size=size)
        t4 = time.perf_counter()
        preprocess(img)
        t5 = time.perf_counter()
        for key, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            stages[key] += dt
        n_events += len(events)
    staged = time.perf_counter() - t_all

    # the public path end to end (includes noise and the final sort), as the workers run it
    t0 = time.perf_counter()
    total_events = 0
    for i, img in enumerate(images):
        ev = synthesize(img, cfg, i).events
        ezsr_model_input(ev, geometry, size=size)
        preprocess(img)
        total_events += len(ev)
    pair_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, img in enumerate(images):
        synthesize(img, cfg, i)
    synth_s = time.perf_counter() - t0

    n = len(images)
    print(f"{n} images of {size}x{size}, K={cfg.n_frames} frames, one core "
          f"({total_events / n:,.0f} events per image on average)")
    print(f"{'stage':<22}{'ms/image':>10}{'share':>8}")
    for key, value in stages.items():
        print(f"{key:<22}{1e3 * value / n:>10.2f}{100 * value / staged:>7.1f}%")
    print(f"{'synthesis (public)':<22}{1e3 * synth_s / n:>10.2f}")
    print(f"{'full pair':<22}{1e3 * pair_s / n:>10.2f}")
    figures = {
        "synth_pairs_per_s": n / pair_s,
        "synth_images_per_s": n / synth_s,
        "synth_mev_s": total_events / synth_s / 1e6,
        "events_per_image": total_events / n,
        "pixel_kernel_mev_s": n_events / stages["pixel_kernel"] / 1e6,
        "render_ms": 1e3 * stages["render"] / n,
    }
    print(json.dumps({k: round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
