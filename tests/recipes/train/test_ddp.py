"""`ezsr train` under torchrun: two gloo processes on the CPU train exactly what one
process with the combined batch trains (DistributedSampler shards + DDP gradient mean)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from ezsr_live.recipes.train import LossConfig, TrainConfig, train

from .conftest import TINY_CONFIG

COMMON = ["--model", "ezsr-test-tiny", "--pretrained", "", "--model-config", str(TINY_CONFIG), "--device", "cpu",
          "--steps", "3", "--lr", "3e-4", "--warmup-steps", "1", "--workers", "0", "--log-every", "1",
          "--checkpoint-every", "2", "--no-progress"]


def test_two_process_gloo_run_matches_one_process_with_the_combined_batch(image_tree, tiny_model_name, tmp_path):
    from ezsr_live.cli.toolbox import main

    ddp_out = tmp_path / "ddp"
    held_out = tmp_path / "val"  # validated on both ranks' shares, gathered on rank 0
    assert main(["synth", str(image_tree), "-o", str(held_out), "--seed", "5", "--no-progress"]) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ezsr_live.cli.toolbox", "train", str(image_tree), "-o", str(ddp_out), "--batch-size", "4", *COMMON,
           "--val-events", str(held_out), "--val-every", "2", "--tensorboard", "off"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained to step 3") == 1, "only rank 0 reports"

    with (ddp_out / "train_log.csv").open() as fh:
        ddp_rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in ddp_rows] == [1, 2, 3], "rank 0 alone writes the log"
    assert sorted(p.name for p in (ddp_out / "checkpoints").iterdir()) == ["latest", "step_00000002", "step_00000003"]

    single = train(TrainConfig(data=str(image_tree), out=str(tmp_path / "single"), model=tiny_model_name,
                               pretrained=None, model_config=str(TINY_CONFIG), steps=3, batch_size=8, lr=3e-4,
                               warmup_steps=1, workers=0, log_every=1, checkpoint_every=2, progress=False,
                               loss=LossConfig(), val_events=str(held_out), val_every=2, tensorboard="off"))
    for ddp_row, row in zip(ddp_rows, single.history):
        assert abs(float(ddp_row["modulation"]) - row["modulation"]) < 1e-5
    # the sharded validation scores all 24 held-out samples, as one process does
    assert [(int(r["step"]), float(r["val_top1"])) for r in ddp_rows if r["val_top1"]] == [
        (row["step"], row["val_top1"]) for row in single.history if "val_top1" in row]
    assert [row["step"] for row in single.history if "val_top1" in row] == [2, 3]
    a = load_file(str(ddp_out / "event_encoder.safetensors"))
    b = load_file(str(tmp_path / "single" / "event_encoder.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-4)
