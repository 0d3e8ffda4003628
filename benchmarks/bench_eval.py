"""Evaluation throughput: samples/s of `ezsr eval` with 1 vs 2 processes (torchrun, gloo)
and 0 vs 2 DataLoader workers, on the same fake N-MNIST Test split, rounds interleaved.

The dataset: N samples per digit, each a different 5-byte-aligned slice of the real ATIS
recording (../shared/samples/nmnist_sample.bin); the model: the tests' tiny open_clip
architecture, random weights saved once as a checkpoint. Whole processes are timed, so
start-up (imports, model build) is part of each figure, as a user sees it.
Usage: python benchmarks/bench_eval.py [--per-class 40] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import SAMPLES, scratch_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "ezsr_live" / "model" / "configs" / "ezsr-test-tiny.json"


def fake_nmnist(root: Path, per_class: int) -> Path:
    data = (SAMPLES / "nmnist_sample.bin").read_bytes()
    n = len(data) // 5
    split = root / "N-MNIST" / "Test"
    for digit in range(10):
        (split / str(digit)).mkdir(parents=True)
        for j in range(per_class):
            start = ((digit * per_class + j) * 37) % (n // 2)
            (split / str(digit) / f"{j:05d}.bin").write_bytes(data[5 * start: 5 * (start + n // 2)])
    return split


def tiny_checkpoint(root: Path) -> Path:
    import torch

    from ezsr_live.model.clip_loader import load_clip, register_model_config

    register_model_config(TINY)
    torch.manual_seed(0)
    path = root / "tiny.pt"
    torch.save(load_clip("ezsr-test-tiny", None).model.state_dict(), path)
    return path


def run(split: Path, ckpt: Path, out: Path, procs: int, workers: int) -> tuple[float, float]:
    """(whole-process wall s, the evaluation loop's samples/s from its summary.json)"""
    args = ["eval", "--dataset", "nmnist", "--root", str(split), "-o", str(out), "--model", "ezsr-test-tiny",
            "--model-config", str(TINY), "--pretrained", str(ckpt), "--device", "cpu", "--templates", "photo",
            "--window-events", "2000", "--no-progress", "--workers", str(workers), "--threads", "1"]
    launcher = [sys.executable, "-m", "ezsr_live.cli.toolbox"] if procs == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
         "-m", "ezsr_live.cli.toolbox"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(launcher + args, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, json.loads((out / "summary.json").read_text())["samples_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    opts = ap.parse_args()
    root = scratch_dir()
    split = fake_nmnist(root, opts.per_class)
    ckpt = tiny_checkpoint(root)
    n = 10 * opts.per_class
    configs = [(1, 0), (1, 2), (2, 0), (2, 2)]
    walls: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    loops: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
    for r in range(opts.rounds):
        for procs, workers in configs:  # interleaved: machine drift hits every configuration alike
            wall, loop = run(split, ckpt, root / f"out-{procs}-{workers}-{r}", procs, workers)
            walls[(procs, workers)].append(wall)
            loops[(procs, workers)].append(loop)
    whole = {c: n / statistics.median(w) for c, w in walls.items()}
    loop = {c: statistics.median(v) for c, v in loops.items()}
    print(f"{n} samples, {opts.rounds} interleaved rounds, medians; 'loop' excludes start-up (imports, model)")
    print(f"{'processes':>9} {'workers':>7} {'loop/s':>8} {'ratio':>6} {'whole/s':>8} {'ratio':>6}   wall s (min-max)")
    for c in configs:
        w = walls[c]
        print(f"{c[0]:>9} {c[1]:>7} {loop[c]:8.1f} {loop[c] / loop[(1, 0)]:6.2f} {whole[c]:8.1f} "
              f"{whole[c] / whole[(1, 0)]:6.2f}   {min(w):.2f}-{max(w):.2f}")
    print(json.dumps({
        "samples": n, "cpu_cores": os.cpu_count(),
        **{f"eval_p{p}_w{w}_loop_samples_per_s": round(v, 2) for (p, w), v in loop.items()},
        **{f"eval_p{p}_w{w}_loop_ratio_vs_p1_w0": round(v / loop[(1, 0)], 3) for (p, w), v in loop.items()
           if (p, w) != (1, 0)},
        **{f"eval_p{p}_w{w}_whole_process_ratio_vs_p1_w0": round(v / whole[(1, 0)], 3) for (p, w), v in whole.items()
           if (p, w) != (1, 0)},
    }))


if __name__ == "__main__":
    main()
