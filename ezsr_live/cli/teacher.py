"""The CLIP image tower a command embeds images with (``ezsr pool build``, ``ezsr train``):
``--model``/``--pretrained``, or ``--weights NAME`` from the model registry, as
``ezsr eval`` and ``ezsr geometry`` take it."""
from __future__ import annotations

import argparse


def add_teacher_arguments(group: argparse.ArgumentParser | argparse._ArgumentGroup, default_model: str,
                          default_pretrained: str | None) -> None:
    group.add_argument("--model", default=None, help=f"open_clip architecture (default {default_model}, or the "
                                                     "--weights entry's)")
    group.add_argument("--pretrained", default=None,
                       help=f"open_clip tag or checkpoint file, '' for random weights (default {default_pretrained}, "
                            "or the --weights entry's)")
    group.add_argument("--weights", metavar="NAME",
                       help="take --model and --pretrained from this weights/registry.json entry (its CLIP, the "
                            "text tower's; a shipped checkpoint is sha256-checked)")
    group.set_defaults(_teacher_defaults=(default_model, default_pretrained))


def teacher_from_args(args: argparse.Namespace) -> tuple[str, str | None]:
    """(open_clip architecture, pretrained tag or file or None) that the options name."""
    from ezsr_live.errors import EzsrError

    default_model, default_pretrained = args._teacher_defaults
    if args.weights:
        from ezsr_live.model.registry import lookup, verify_pretrained

        if args.model is not None or args.pretrained is not None:
            raise EzsrError("--weights NAME sets --model and --pretrained: give one or the other")
        spec = lookup(args.weights)
        return spec.base_model, verify_pretrained(spec)
    model = args.model if args.model is not None else default_model
    pretrained = args.pretrained if args.pretrained is not None else default_pretrained
    return model, pretrained or None
