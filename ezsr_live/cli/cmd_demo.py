"""``ezsr demo train -o WORK [--install]``: rebuild the bundled demo from scratch.

One command for everything ``weights/demo/`` ships: the demo CLIP (teacher) trained on
generated shapes, the ablation's event students and the shipped event encoder, the k-NN
pools, the demo recording with its ground truth, and the ablation table. Fixed seeds:
the same command gives the same files. ``--install`` then copies the shipped files into
the weights folder and writes their sha256s into its registry.
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from ezsr_live.fileio import atomic_path, atomic_write_text, sha256_file
from ezsr_live.cli import options as types
from ezsr_live.model.defaults import DEVICE_CHOICES

NAME = "demo"
HELP = ("rebuild the bundled demo model, recording and ablation from scratch (see docs/results.md), or train "
        "a demo teacher alone")
#: a cold Numba cache compiles synthesis, representation, decoders and encoders: 19-20 s
#: (``--quick``; the full build runs the same kernels), measured on 2 cores
COMPILE_S = 20

#: name under which the registry holds the demo
REGISTRY_ENTRY = "ezsr-demo"
DEMO_FOLDER = "demo"
TEACHER_FILE = "ezsr-demo-teacher.safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train the demo teacher and students, build pools, recording and ablation",
                       description="Train the demo CLIP on generated shapes, distil its event students, build "
                                   "the k-NN pools, synthesise the demo recording and run the ablation, with "
                                   "fixed seeds. One to two and a half hours on 2 CPU cores (docs/results.md has the "
                                   "times), minutes for the students on a GPU.")
    t.add_argument("-o", "--output", required=True, metavar="WORK",
                   help="work folder: WORK/teacher (the teacher run), WORK/build (students, pools, recording, "
                        "results.md)")
    t.add_argument("--teacher", metavar="SAFETENSORS",
                   help="use this trained teacher (with its .json sidecar) instead of training one")
    t.add_argument("--install", action="store_true",
                   help="copy the shipped files into the weights folder and pin their sha256s in its registry")
    t.add_argument("--seed", type=types.seed, default=0)
    t.add_argument("--teacher-steps", type=types.count, default=2500, help="teacher optimiser steps (default 2500)")
    t.add_argument("--steps", type=types.count, help="optimiser steps per ablation student (default 1200)")
    t.add_argument("--shipped-steps", type=types.count, help="optimiser steps of the shipped student (default 2400)")
    t.add_argument("--threads", type=types.threads, default=2, help="torch threads of the teacher (default 2)")
    t.add_argument("--quick", action="store_true", help="tiny counts: a smoke test of every stage (numbers mean "
                                                        "nothing; --install then needs EZSR_WEIGHTS_DIR elsewhere)")
    _add_teacher_action(sub)
    _add_study_action(sub)


def _add_study_action(sub: Any) -> None:
    from ezsr_live.recipes.demo.study_plan import PROTOCOLS, STUDENTS, StudyConfig

    d = StudyConfig(teacher="", out="")
    t = sub.add_parser("study", help="compare the distillation losses over seeds and protocols",
                       description="Distil every student (" + ", ".join(STUDENTS) + ") from a demo teacher "
                                   "(the shipped one, or one of 'ezsr demo teacher', on the domain its sidecar "
                                   "names) once per seed and protocol (" + ", ".join(PROTOCOLS) + "; each "
                                   "domain's own), score each without "
                                   "and with k-NN translation (alpha 0 and 0.5), and write OUT/study.json and "
                                   "OUT/study.md (mean and standard deviation over seeds). Resumable: a rerun "
                                   "keeps the finished runs. About an hour with the defaults on 2 CPU cores.")
    t.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (OUT/work keeps the runs)")
    t.add_argument("--teacher", metavar="SAFETENSORS", help="teacher weights (default: the shipped demo teacher)")
    t.add_argument("--seeds", type=types.batch_size, default=len(d.seeds), help=f"seeds 0..N-1 (default {len(d.seeds)})")
    t.add_argument("--students", type=_names(STUDENTS), default=d.students, metavar="A,B",
                   help="students to train (default: all)")
    t.add_argument("--protocols", type=_names(PROTOCOLS), default=(), metavar="A,B",
                   help="protocols (default: every one of the teacher's domain)")
    t.add_argument("--steps", type=types.count, default=d.steps, help=f"optimiser steps per run (default {d.steps})")
    t.add_argument("--batch-size", type=types.count, default=d.batch_size, help=f"default {d.batch_size}")
    t.add_argument("--lr", type=types.learning_rate, default=d.lr, help=f"default {d.lr:g}")
    t.add_argument("--train-images", type=types.count, help="images per (protocol, seed) (default: steps x batch)")
    t.add_argument("--test-images", type=types.count, default=d.test_images, help=f"default {d.test_images}")
    t.add_argument("--pool-images", type=types.count, default=d.pool_images, help=f"default {d.pool_images}")
    t.add_argument("--jobs", type=types.workers, default=d.jobs,
                   help=f"training processes at once, one torch thread each (default {d.jobs})")
    t.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where the students train (default auto: CUDA where present); scoring runs on the CPU")


def _names(known: Any) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{', '.join(unknown) or text!r}: choose from {', '.join(known)}")
        return names
    return parse


def _run_study(args: argparse.Namespace) -> int:
    from ezsr_live.errors import EzsrError
    from ezsr_live.model.clip_loader import resolve_device
    from ezsr_live.model.registry import weights_dir
    from ezsr_live.recipes.demo.study import StudyConfig, run_study

    teacher = Path(args.teacher) if args.teacher else weights_dir() / DEMO_FOLDER / TEACHER_FILE
    if not teacher.is_file() or not teacher.with_suffix(".json").is_file():
        raise EzsrError(f"{teacher}: no such teacher (a .safetensors with its .json sidecar)")
    domain = _teacher_domain(teacher)
    device = resolve_device(args.device)  # an absent GPU is one line, before anything is written
    out = Path(args.output)
    try:  # before training: an unwritable folder must not cost a run
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EzsrError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    cfg = StudyConfig(teacher=str(teacher), out=str(out), seeds=tuple(range(args.seeds)), students=args.students,
                      protocols=args.protocols, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                      warmup_steps=min(20, args.steps // 4), train_images=args.train_images,
                      test_images=args.test_images, pool_images=args.pool_images, jobs=args.jobs,
                      teacher_name=teacher.name, domain=domain, device=str(device))
    doc = run_study(cfg, command="ezsr " + " ".join(shlex.quote(a) for a in args._argv))
    print(f"study: {out / 'study.md'} ({len(doc['runs'])} runs; training {doc['train_seconds']:.0f} s)")
    return 0


def _teacher_domain(teacher: Path) -> str:
    """The domain a teacher was trained on, from its sidecar (teachers from before
    domains existed trained on the shapes)."""
    from ezsr_live.errors import EzsrError
    from ezsr_live.fileio import parse_json
    from ezsr_live.recipes.demo.domains import DOMAINS

    sidecar = teacher.with_suffix(".json")
    try:
        meta = parse_json(sidecar.read_bytes())
    except OSError as exc:
        raise EzsrError(f"{sidecar}: cannot read the teacher's sidecar ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise EzsrError(f"{sidecar}: not a teacher sidecar ({exc})") from None
    training = meta.get("training") if isinstance(meta, dict) else None
    domain = training.get("domain", "shapes") if isinstance(training, dict) else "shapes"
    if domain not in DOMAINS:
        raise EzsrError(f"{sidecar}: training.domain {domain!r} is not one of {', '.join(DOMAINS)}")
    return domain


def _add_teacher_action(sub: Any) -> None:
    from ezsr_live.recipes.demo.domains import DOMAINS

    t = sub.add_parser("teacher", help="train a demo teacher alone, on one of the generated domains",
                       description="Train a small CLIP from scratch on generated image-caption pairs of one "
                                   "domain: " + "; ".join(f"{k}: {d.description}" for k, d in DOMAINS.items())
                                   + ". Writes OUT/teacher.safetensors (+ .json), OUT/run.json, OUT/labels.txt, "
                                     "OUT/templates.txt and, with --pool-images, a labelled pool OUT/pool of the "
                                     "teacher's embeddings of fresh images (for 'ezsr geometry').")
    t.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder")
    t.add_argument("--domain", choices=sorted(DOMAINS), default="shapes", help="generated domain (default shapes)")
    t.add_argument("--steps", type=types.count, default=2500, help="optimiser steps (default 2500)")
    t.add_argument("--batch-size", type=types.count, default=128, help="image-caption pairs per step (default 128)")
    t.add_argument("--eval-images", type=types.count, default=2000,
                   help="fresh images of the final zero-shot evaluation (default 2000)")
    t.add_argument("--pool-images", type=types.non_negative_count, default=0,
                   help="fresh images embedded into the labelled pool OUT/pool (default 0: no pool)")
    t.add_argument("--threads", type=types.threads, default=2, help="torch threads (default 2)")
    t.add_argument("--workers", type=types.non_negative_count, default=1,
                   help="processes rendering batches ahead (default 1)")
    t.add_argument("--seed", type=types.seed, default=0)
    t.add_argument("--logit-scale", type=_logit_scale, default=None, metavar="learnt|S",
                   help="contrastive temperature: 'learnt' (default: open_clip's, from 1/0.07 up to CLIP's cap of "
                        "100) or a fixed scale S in [1, 100]")
    t.add_argument("--text-projection-gain", type=types.gain, default=1.0, metavar="G",
                   help="multiply the text tower's initial output projection by G (default 1). The contrastive "
                        "loss never trains its part outside the image embeddings' span, so G sets how much of "
                        "the text directions lie where images never vary")
    t.add_argument("--no-text-projection-decay", dest="text_projection_decay", action="store_false",
                   help="do not weight-decay the text projection (keeps that untrained part at its initial size)")


def _logit_scale(text: str) -> float | None:
    if text.strip().lower() == "learnt":
        return None
    try:
        return types.logit_scale(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("must be ", "must be 'learnt' or ", 1)) from None


def _run_teacher(args: argparse.Namespace) -> int:
    from ezsr_live.model.clip_loader import model_identity
    from ezsr_live.recipes.demo.domains import DOMAINS
    from ezsr_live.recipes.demo.teacher import (TeacherConfig, load_teacher, train_and_save, write_image_pool,
                                                write_vocabulary)

    from ezsr_live.errors import EzsrError

    domain = DOMAINS[args.domain]
    out = Path(args.output)
    try:  # before training: an unwritable folder must not cost a run
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EzsrError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    cfg = TeacherConfig(model_name=domain.model_name, shapes=domain.config(), steps=args.steps,
                        batch_size=max(2, args.batch_size), eval_images=args.eval_images,
                        eval_every=max(1, min(250, args.steps)), warmup_steps=min(100, args.steps // 4),
                        threads=args.threads, workers=args.workers, seed=args.seed,
                        fixed_logit_scale=args.logit_scale, text_projection_gain=args.text_projection_gain,
                        text_projection_decay=args.text_projection_decay)
    weights, summary = train_and_save(cfg, out)
    labels, templates = write_vocabulary(cfg.shapes, out)
    print(f"teacher: {weights} (zero-shot top-1 {summary['final_top1']:.3f} over {len(cfg.shapes.class_names)} "
          f"classes on {args.eval_images} generated images; labels {labels}, templates {templates})")
    if args.pool_images:
        clip = load_teacher(weights)
        pool = write_image_pool(clip.model, cfg.shapes, out / "pool", model_identity(domain.model_name, str(weights)),
                                args.pool_images)
        print(f"pool: {pool} ({args.pool_images} images); geometry: ezsr geometry {pool} --model "
              f"{domain.model_name} --pretrained {weights} --templates {templates}")
    return 0


def _train_teacher(args: argparse.Namespace, out: Path) -> Path:
    from ezsr_live.recipes.demo.teacher import TeacherConfig, train_and_save

    if args.quick:
        cfg = TeacherConfig(steps=2, batch_size=8, warmup_steps=1, eval_every=2, eval_images=12, seed=args.seed,
                            threads=1)
    else:
        cfg = TeacherConfig(steps=args.teacher_steps, eval_images=2000, threads=args.threads, workers=1,
                            seed=args.seed)
    weights, summary = train_and_save(cfg, out)
    print(f"teacher: {weights} (zero-shot top-1 {summary['final_top1']:.3f} on generated images)")
    return weights


def _build(args: argparse.Namespace, teacher: Path, out: Path) -> dict[str, Any]:
    from ezsr_live.recipes.demo import build

    overrides = {k: v for k, v in {"steps": args.steps, "shipped_steps": args.shipped_steps}.items() if v is not None}
    make = build.BuildConfig.quick if args.quick else build.BuildConfig
    cfg = make(teacher=str(teacher), out=str(out), seed=args.seed, teacher_name=TEACHER_FILE, **overrides)
    doc = build.build(cfg, command="ezsr " + " ".join(shlex.quote(a) for a in args._argv))
    print(f"build: {out} (ablation in {out / 'results.md'})")
    return doc


def _replace(src: Path, dest: Path) -> None:
    """Copy a file or folder over ``dest`` by way of a sibling temporary, so a failure
    never leaves half a file where the registry expects a whole one."""
    with atomic_path(dest) as tmp:
        if src.is_dir():
            shutil.copytree(src, tmp)
        else:
            shutil.copy2(src, tmp)


def install(teacher: Path, build_dir: Path, weights: Path | None = None) -> dict[str, str]:
    """Copy the teacher and the build's shipped files into ``weights/demo`` and pin their
    sha256s in ``weights/registry.json``; returns the pinned hashes by file name."""
    from ezsr_live.recipes.demo import build
    from ezsr_live.errors import EzsrError

    from ezsr_live.model.registry import weights_dir

    weights = Path(weights) if weights is not None else weights_dir()
    registry = weights / "registry.json"
    try:
        doc = json.loads(registry.read_text(encoding="utf-8"))
        entry = next(m for m in doc["models"] if m.get("name") == REGISTRY_ENTRY)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise EzsrError(f"{registry}: no readable registry with an {REGISTRY_ENTRY!r} entry ({exc})") from None
    shipped = build_dir / build.SHIPPED_FILE
    sources = (shipped, shipped.with_suffix(".json"), build_dir / build.RECORDING_NAME,
               (build_dir / build.RECORDING_NAME).with_suffix(".json"), build_dir / build.POOL_NAME)
    # everything is checked before anything is replaced: a half install would leave files
    # that the registry's pinned sha256s refuse
    for src in sources:
        if not src.exists():
            raise EzsrError(f"{src}: missing from the build; run `ezsr demo train` without --install first")
    demo = weights / DEMO_FOLDER
    demo.mkdir(parents=True, exist_ok=True)
    sidecar = json.loads(teacher.with_suffix(".json").read_text(encoding="utf-8"))
    sidecar["weights"] = TEACHER_FILE
    _replace(teacher, demo / TEACHER_FILE)
    (demo / TEACHER_FILE).with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    for src in sources:
        _replace(src, demo / src.name)
    entry["pretrained"] = f"{DEMO_FOLDER}/{TEACHER_FILE}"
    entry["pretrained_sha256"] = sha256_file(demo / TEACHER_FILE)
    entry["event_weights"] = f"{DEMO_FOLDER}/{build.SHIPPED_FILE}"
    entry["sha256"] = sha256_file(demo / build.SHIPPED_FILE)
    entry["knn_pool"] = f"{DEMO_FOLDER}/{build.POOL_NAME}"
    atomic_write_text(registry, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return {TEACHER_FILE: entry["pretrained_sha256"], build.SHIPPED_FILE: entry["sha256"]}


def run(args: argparse.Namespace) -> int:
    import logging

    from ezsr_live.errors import EzsrError
    from ezsr_live.model.registry import DEFAULT_WEIGHTS_DIR, weights_dir

    logging.getLogger("ezsr_live").setLevel(logging.INFO)
    if args.demo_command == "teacher":
        return _run_teacher(args)
    if args.demo_command == "study":
        return _run_study(args)
    if args.quick and args.install and weights_dir().resolve() == DEFAULT_WEIGHTS_DIR.resolve():
        raise EzsrError(f"--quick builds are smoke tests: refusing to install one over the shipped demo in "
                        f"{weights_dir()} (set EZSR_WEIGHTS_DIR to install it elsewhere)")
    work = Path(args.output)
    if args.teacher:
        teacher = Path(args.teacher)
        if not teacher.is_file() or not teacher.with_suffix(".json").is_file():
            raise EzsrError(f"{teacher}: no such teacher (a .safetensors with its .json sidecar)")
    else:
        teacher = _train_teacher(args, work / "teacher")
    _build(args, teacher, work / "build")
    if args.install:
        for name, digest in install(teacher, work / "build").items():
            print(f"installed {name} sha256 {digest}")
    return 0
