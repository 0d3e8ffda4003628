"""``ezsr train IMAGE_DIR -o RUN``: distil a CLIP image tower onto synthesised events.

Single process, or under ``torchrun`` for several GPUs / nodes (see the README)."""
from __future__ import annotations

import argparse

from ezsr_live.cli import options as types
from ezsr_live.model.defaults import DEVICE_CHOICES
from ezsr_live.cli.aliases import add_deprecated_alias
from ezsr_live.cli.options import add_geometry_option, parse_geometry
from ezsr_live.cli.teacher import add_teacher_arguments, teacher_from_args

NAME = "train"
HELP = "Distil an event encoder from a CLIP image tower on events synthesised from images."
#: a cold Numba cache compiles the synthesis and representation kernels: 7-13 s with
#: --workers 0, 11-19 s with 2 or 8 forked workers compiling side by side, measured on 2 cores
COMPILE_S = (7, 20)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ezsr_live.cli.cmd_synth import add_synth_arguments
    from ezsr_live.recipes.evaluation.datasets import DATASETS
    from ezsr_live.recipes.train.config import LossConfig, TrainConfig

    d, lossd = TrainConfig(data="", out=""), LossConfig()
    parser.add_argument("data", metavar="IMAGE_DIR", help="images: an ImageNet-style tree or a flat folder")
    parser.add_argument("-o", "--output", required=True, metavar="RUN", help="run folder (logs, checkpoints, weights)")
    parser.add_argument("--events", metavar="DIR",
                        help="read the events of each image from this folder ('ezsr synth IMAGE_DIR -o DIR') "
                             "instead of synthesising them on the fly")
    m = parser.add_argument_group("model")
    add_teacher_arguments(m, d.model, d.pretrained)
    m.add_argument("--model-config", metavar="JSON", help="extra open_clip architecture config")
    m.add_argument("--device", default=d.device, choices=DEVICE_CHOICES)
    m.add_argument("--freeze", metavar="PREFIX", action="append", default=[],
                   help="keep the tower's parameters whose names start with PREFIX at the teacher's values "
                        "(repeatable; e.g. --freeze layer3 --freeze layer4 --freeze attnpool for a ResNet "
                        "tower, --freeze transformer.resblocks.6 for a ViT's later blocks)")
    o = parser.add_argument_group("optimisation")
    o.add_argument("--steps", type=types.count, default=d.steps, help=f"optimiser steps (default {d.steps})")
    o.add_argument("--batch-size", type=types.batch_size, default=d.batch_size, help=f"per process (default {d.batch_size})")
    o.add_argument("--accum", type=types.accum, default=d.accum, help="gradient accumulation micro-batches (default 1)")
    o.add_argument("--lr", type=types.learning_rate, default=d.lr, help=f"peak learning rate (default {d.lr:g})")
    o.add_argument("--weight-decay", type=types.non_negative, default=d.weight_decay)
    o.add_argument("--warmup-steps", type=types.non_negative_count, default=d.warmup_steps)
    o.add_argument("--min-lr-ratio", type=types.fraction, default=d.min_lr_ratio, help="cosine floor, as a fraction of --lr")
    o.add_argument("--clip-grad", type=types.clip_grad, default=d.clip_grad, help="gradient norm clip (<= 0: off)")
    o.add_argument("--amp", default=d.amp, choices=("auto", "off", "bf16", "fp16"),
                   help="mixed precision on CUDA (auto: bf16 where supported, else fp16)")
    o.add_argument("--seed", type=types.seed, default=d.seed)
    lo = parser.add_argument_group("loss")
    lo.add_argument("--loss", default=lossd.kind, choices=("modulation", "infonce"),
                    help="scalar-wise modulation loss (default) or InfoNCE alone (the paper's baseline)")
    lo.add_argument("--metric", default=lossd.metric, choices=("l2", "l1", "smooth_l1"))
    lo.add_argument("--no-normalize", action="store_true", help="regress raw, not L2-normalised, embeddings")
    lo.add_argument("--reduction", default=lossd.reduction, choices=("sum", "mean"), help="over dimensions")
    lo.add_argument("--infonce-weight", type=types.non_negative, default=lossd.infonce_weight,
                    help="lambda of an added InfoNCE term (default 0)")
    lo.add_argument("--learn-modulation", action="store_true",
                    help="learn a per-dimension affine (gamma, beta) of the event embedding; folded into the "
                         "saved tower, so inference applies it with no extra code")
    lo.add_argument("--learn-temperature", action="store_true",
                    help="learn InfoNCE's logit scale, starting from the teacher's (default: the teacher's, "
                         "fixed); needs --loss infonce or --infonce-weight > 0")
    r = parser.add_argument_group("run")
    r.add_argument("--workers", type=types.workers, default=d.workers, help="DataLoader synthesis processes per rank")
    r.add_argument("--threads", type=types.threads, default=None,
                   help="CPU intra-op threads per rank (default: the cores left after the synthesis workers, "
                        "at least 1)")
    add_geometry_option(r, help="synthetic sensor size WxH (default: the model's input size)")
    add_deprecated_alias(r, "--sensor", "--geometry", dest="geometry", convert=parse_geometry)
    r.add_argument("--checkpoint-every", type=types.count, default=d.checkpoint_every)
    r.add_argument("--log-every", type=types.count, default=d.log_every)
    r.add_argument("--resume", nargs="?", const="auto", metavar="CHECKPOINT",
                   help="continue from a checkpoint folder, or (no value) from RUN's latest")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--tensorboard", default=d.tensorboard, choices=("auto", "on", "off"),
                   help="TensorBoard event files in RUN/tensorboard: auto (default) when torch.utils.tensorboard "
                        "imports (pip install tensorboard), on: required, off")
    v = parser.add_argument_group("validation")
    v.add_argument("--val-events", metavar="DIR",
                   help="held-out class folders of event files (e.g. 'ezsr synth' of held-out images), scored "
                        "zero-shot by their folder names every --val-every steps")
    v.add_argument("--val-dataset", choices=DATASETS,
                   help="--val-events is this dataset's split folder, in its official layout (as ezsr eval --root)")
    v.add_argument("--val-every", type=types.non_negative_count, default=None, metavar="N",
                   help="validate every N steps (default: every --checkpoint-every steps when --val-events is given)")
    v.add_argument("--val-window-events", type=types.window_events, default=d.val_window_events, metavar="N",
                   help=f"events per validation window (default {d.val_window_events:,}, ezsr eval's)")
    v.add_argument("--val-templates", default=d.val_templates, help="prompt templates of the class names")
    add_synth_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ezsr_live.cli.cmd_synth import synth_config_from_args
    from ezsr_live.errors import EzsrError
    from ezsr_live.recipes.train import LossConfig, TrainConfig, train

    if min(args.steps, args.batch_size, args.accum, args.checkpoint_every, args.log_every) < 1:
        raise EzsrError("--steps, --batch-size, --accum, --checkpoint-every and --log-every must be >= 1")
    try:
        loss = LossConfig(args.loss, args.metric, not args.no_normalize, args.reduction, args.infonce_weight,
                          args.learn_modulation, args.learn_temperature)
    except ValueError as exc:
        raise EzsrError(str(exc)) from None
    if args.events and args.geometry is not None:
        raise EzsrError("--geometry sets the sensor of on-the-fly synthesis; the --events files have their own")
    val_every = args.val_every if args.val_every is not None else (args.checkpoint_every if args.val_events else 0)
    if (val_every and not args.val_events) or (args.val_dataset and not args.val_events):
        raise EzsrError("--val-every N and --val-dataset need --val-events DIR")
    model, pretrained = teacher_from_args(args)
    cfg = TrainConfig(
        data=args.data, out=args.output, model=model, pretrained=pretrained,
        model_config=args.model_config, steps=args.steps, batch_size=args.batch_size, accum=args.accum,
        lr=args.lr, weight_decay=args.weight_decay, warmup_steps=args.warmup_steps, min_lr_ratio=args.min_lr_ratio,
        clip_grad=args.clip_grad, amp=args.amp, device=args.device, workers=args.workers, seed=args.seed,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, resume=args.resume,
        sensor=str(args.geometry) if args.geometry else None, events=args.events, val_events=args.val_events,
        val_dataset=args.val_dataset, val_every=val_every, val_window_events=args.val_window_events,
        val_templates=args.val_templates, tensorboard=args.tensorboard,
        loss=loss, synth=synth_config_from_args(args), progress=not args.no_progress, freeze=tuple(args.freeze),
        threads=args.threads)
    result = train(cfg)
    if result.encoder_path is not None:
        start = f"resumed at step {result.start_step}, " if result.start_step else ""
        print(f"{args.output}: {start}trained to step {result.final_step}; event weights {result.encoder_path}")
    return 0
