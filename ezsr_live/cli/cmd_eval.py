"""``ezsr eval --dataset D --root DIR``: zero-shot accuracy of an event encoder."""
from __future__ import annotations

import argparse

NAME = "eval"
HELP = "Zero-shot top-1/top-5 accuracy on an event dataset, with and without k-NN translation."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ezsr_live.evaluation.datasets import DATASETS
    from ezsr_live.model.cli_options import add_model_arguments

    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--root", required=True, metavar="DIR",
                        help="one split's folder of class folders, as the release unpacks it "
                             "(N-MNIST/Test, Caltech101, N_Imagenet/extracted_val, ...)")
    parser.add_argument("--list", metavar="FILE", help="only the samples listed (relative paths, one per line)")
    parser.add_argument("--class-names", metavar="FILE",
                        help="'FOLDER NAME' lines, or for N-ImageNet the 1000 synsets in ImageNet order "
                             "or the devkit's mapping.txt")
    parser.add_argument("--window", default="events", choices=("events", "whole"),
                        help="events: --window-events from a seeded random start (official); whole: every event")
    parser.add_argument("--window-events", type=int, default=15_000)
    parser.add_argument("--length-jitter", type=int, default=0,
                        help="draw the window length within +-N events (the official N-ImageNet script uses 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, metavar="N", help="a seeded random subset of N samples")
    parser.add_argument("-o", "--output", metavar="DIR", help="write per_class.csv, confusion PNGs, summary.json")
    parser.add_argument("--no-progress", action="store_true")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ezsr_live.errors import EzsrError
    from ezsr_live.evaluation import EvalConfig, class_text_matrix, discover, evaluate
    from ezsr_live.model import knn as knn_mod
    from ezsr_live.model.cli_options import config_from_args
    from ezsr_live.model.recognizer import Recognizer

    if args.labels is not None:
        # the dataset's classes are the vocabulary: a --labels list would silently score nothing
        raise EzsrError("--labels does not apply to eval: the dataset's classes are the vocabulary; "
                        "rename them with --class-names FILE ('FOLDER NAME' lines)")
    eval_set = discover(args.dataset, args.root, list_file=args.list, class_names_file=args.class_names)
    try:
        config = EvalConfig(args.window, args.window_events, args.length_jitter, args.seed, max(1, args.batch_size),
                            args.limit, not args.no_progress)
    except ValueError as exc:
        raise EzsrError(str(exc)) from None
    rcfg = config_from_args(args)
    rcfg.labels = list(dict.fromkeys(eval_set.class_names))
    rcfg.knn_pool = None  # scored both ways below
    recognizer = Recognizer.from_config(rcfg)
    vocab = recognizer.vocabulary
    text = class_text_matrix(eval_set.class_names, lambda names: vocab.matrix()[[vocab.labels.index(n) for n in names]])
    text = text.to(recognizer.device)
    translator = None
    if args.knn_pool:
        translator = knn_mod.KnnTranslator.open(args.knn_pool, recognizer.model_id, text.shape[1],
                                                k=args.knn_k, tau=args.knn_tau, alpha=args.knn_alpha)
        if recognizer.device.type == "cuda":
            translator = knn_mod.DeviceKnn.from_translator(translator, recognizer.device, recognizer.dtype)
    report = evaluate(eval_set, recognizer.embed, text, recognizer.input_size, config, knn=translator,
                      out_dir=args.output)
    print(f"{args.dataset}: {report.n_samples} samples, {len(eval_set.class_names)} classes"
          + (f", {len(report.unreadable)} unreadable" if report.unreadable else ""))
    for name, s in report.variants.items():
        print(f"  {name:>5}: top-1 {100 * s.top1_acc:6.2f} %   top-5 {100 * s.top5_acc:6.2f} %")
    for key, path in report.files.items():
        print(f"  {key}: {path}")
    return 0
