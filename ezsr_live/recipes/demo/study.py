"""EZSR's loss comparison in miniature, over seeds and protocols (``ezsr demo study``).

Every student of :data:`STUDENTS` is distilled from the demo teacher's image tower with
the project's own trainer (:func:`ezsr_live.recipes.train.train`), once per seed and per
protocol of :data:`PROTOCOLS`:

* ``paper`` (the paper's protocol): distilled on images of every class, tested on fresh
  event windows of them. No event is labelled, no class withheld, as EZSR distils on
  ImageNet images and tests on N-ImageNet's same 1,000 classes;
* ``held-out-shapes``: distilled without the images of :data:`HELD_OUT` (on the
  compositional domain, of every composition of them), scored N-way over every class on
  the seen and the held-out windows, restricted to the held-out classes, and as the
  generalised zero-shot harmonic mean of the two N-way accuracies;
* ``held-out-compositions`` (compositional domain): distilled without one composition
  per shape whose count, fill and shape all stay in other compositions, scored alike.

The teacher's domain (:data:`~ezsr_live.recipes.demo.domains.DOMAINS`, from its
sidecar) gives the classes, prompts, images and the recording, where it has one.

The students of one (protocol, seed) read the same pre-synthesised events (``ezsr
synth``'s folder format), so they differ by their loss alone, and each seed changes the
images, their events and the batch order. Test windows, the recording and the k-NN pools
are fixed: one set for every run. Besides top-1 each run reports its mean cosine to the
teacher's embedding of the same image, the norm of its mean embedding (how much the
embeddings crowd together) and how many windows it assigns to each class, since a
student that predicts the held-out classes often scores well on them by bias alone.

Runs are resumable: a rerun keeps every finished run and trains the rest.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ezsr_live.errors import EzsrError
from ezsr_live.recipes.demo.build import (HELD_OUT, POOL_NAME, SEEN_POOL_NAME, TEST_SEED_BASE, build_pool,
                                          render_training_images, seen_pool)
from ezsr_live.recipes.demo.domains import DOMAINS
from ezsr_live.recipes.demo.shapes import ShapesConfig
from ezsr_live.recipes.demo.study_plan import KNN_ALPHAS, PROTOCOLS, STUDENTS, StudyConfig

__all__ = ["KNN_ALPHAS", "PROTOCOLS", "STUDENTS", "StudyConfig", "held_out_of", "run_study"]

log = logging.getLogger(__name__)

#: what each holding-out protocol withholds, from a domain's configuration
_HOLD_OUT: dict[str, Callable[[Any], tuple[str, ...]]] = {
    "held-out-shapes": lambda config: config.of_shapes(HELD_OUT),
    "held-out-compositions": lambda config: config.unseen_combinations(),
}


def domain_config(cfg: StudyConfig) -> ShapesConfig:
    """The generator configuration of the study's domain (every class)."""
    return DOMAINS[cfg.domain].config()


def held_out_of(protocol: str, config: ShapesConfig) -> tuple[str, ...]:
    """The classes ``protocol``'s students never see, on ``config``'s domain."""
    return _HOLD_OUT[protocol](config) if protocol in _HOLD_OUT else ()


# --------------------------------------------------------------------------- metrics
def harmonic_mean(seen: float, unseen: float) -> float:
    """The generalised zero-shot score: harmonic mean of the seen and unseen accuracies."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def scores(embeddings: torch.Tensor, text: torch.Tensor, targets: np.ndarray, held_out: Sequence[int],
           reference: torch.Tensor | None = None) -> dict[str, Any]:
    """Every figure of one encoder on one test set: N-way top-1 over all windows, on the
    seen and the held-out windows, among the held-out classes only, the harmonic mean,
    the share of seen windows given a held-out class, per-class prediction totals, the
    norm of the mean embedding and (with ``reference``, row-aligned) the mean cosine."""
    e = torch.nn.functional.normalize(embeddings.float(), dim=-1)
    logits = e @ text.float().T
    pred = logits.argmax(dim=1).numpy()
    held = np.asarray(list(held_out), dtype=np.int64)
    is_held = np.isin(targets, held)
    out: dict[str, Any] = {
        "top1": float((pred == targets).mean()) if len(targets) else None,
        "predicted": np.bincount(pred, minlength=text.shape[0]).tolist(),
        "mean_norm": float(e.mean(dim=0).norm()) if len(e) else None,
    }
    if reference is not None:
        out["cosine_to_teacher"] = float((e * torch.nn.functional.normalize(reference.float(), dim=-1)).sum(1).mean())
    if len(held):
        seen_acc = float((pred[~is_held] == targets[~is_held]).mean()) if (~is_held).any() else None
        unseen_acc = float((pred[is_held] == targets[is_held]).mean()) if is_held.any() else None
        restricted = held[logits[torch.from_numpy(is_held)][:, torch.from_numpy(held)].argmax(dim=1).numpy()]
        out.update(
            seen=seen_acc, held_out=unseen_acc,
            held_out_restricted=float((restricted == targets[is_held]).mean()) if is_held.any() else None,
            harmonic=harmonic_mean(seen_acc, unseen_acc) if seen_acc is not None and unseen_acc is not None else None,
            seen_as_held_out=float(np.isin(pred[~is_held], held).mean()) if (~is_held).any() else None)
    return out


def summarise(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation, range and the values of one figure over seeds."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if not len(v):
        return {"mean": None, "sd": None, "min": None, "max": None, "n": 0, "values": []}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(len(v)), "values": v.tolist()}


# --------------------------------------------------------------------------- training
def _set_dir(work: Path, protocol: str, seed: int) -> Path:
    return work / "data" / f"{protocol}-seed{seed}"


def _run_dir(work: Path, protocol: str, student: str, seed: int) -> Path:
    return work / "runs" / protocol / student / f"seed{seed}"


def prepare_set(cfg: StudyConfig, protocol: str, seed: int, work: Path, workers: int) -> tuple[Path, Path]:
    """The images of ``protocol``'s classes for ``seed`` and their events, once (kept)."""
    from ezsr_live.recipes.train.event_folder import synthesize_folder
    from ezsr_live.synth import SynthConfig

    root = _set_dir(work, protocol, seed)
    images, events = root / "images", root / "events"
    done = root / "ready.json"
    if done.is_file():
        return images, events
    config = domain_config(cfg)
    config = config.without(held_out_of(protocol, config))
    classes = config.class_names
    # the seen-class images of a seed are the demo build's own (its render seed), per protocol's classes
    render_training_images(images, cfg.images_per_set, seed, config=config)
    report = synthesize_folder(images, events, SynthConfig(), seed=seed, workers=workers, progress=False)
    if report.failed:
        raise EzsrError(f"{events}: {len(report.failed)} images could not be synthesised: {report.failed[0]}")
    done.write_text(json.dumps({"images": cfg.images_per_set, "classes": list(classes), "events": report.events},
                               indent=1) + "\n", encoding="utf-8")
    return images, events


def train_run(cfg: StudyConfig, protocol: str, student: str, seed: int, images: Path, events: Path,
              work: Path) -> dict[str, Any]:
    """Distil one student (kept if already done); its training figures."""
    from ezsr_live.recipes.train import TrainConfig, train

    out = _run_dir(work, protocol, student, seed)
    figures_path = out / "figures.json"
    if figures_path.is_file():
        return json.loads(figures_path.read_text(encoding="utf-8"))
    tcfg = TrainConfig(data=str(images), out=str(out), model=DOMAINS[cfg.domain].model_name,
                       pretrained=str(cfg.teacher),
                       steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup_steps=cfg.warmup_steps,
                       device=cfg.device, workers=0, threads=1, seed=seed, checkpoint_every=cfg.steps,
                       log_every=max(1, cfg.steps // 10), loss=STUDENTS[student].loss, progress=False,
                       events=str(events), tensorboard="off", resume="auto",
                       run_name=f"study-{protocol}-{student}-seed{seed}")
    t0 = time.perf_counter()
    result = train(tcfg)
    last = result.history[-1] if result.history else {}
    figures = {"protocol": protocol, "student": student, "seed": seed, "steps": result.final_step,
               "wall_s": round(time.perf_counter() - t0, 1), "final_loss": last.get("loss"),
               "final_train_cosine": last.get("cosine"), "final_logit_scale": last.get("logit_scale"),
               "pairs_per_s": round(float(np.median([r["samples_per_s"] for r in result.history])), 1)
               if result.history else None,
               "device": cfg.device, "encoder": str(result.encoder_path)}
    figures_path.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return figures


def _train_job(job: tuple[StudyConfig, str, str, int, str, str, str]) -> dict[str, Any]:
    cfg, protocol, student, seed, images, events, work = job
    torch.set_num_threads(1)
    logging.getLogger("ezsr_live").setLevel(logging.WARNING)
    try:
        return train_run(cfg, protocol, student, seed, Path(images), Path(events), Path(work))
    except EzsrError:
        raise
    except Exception as exc:  # one line naming the run; the finished runs are kept for a rerun
        where = _run_dir(Path(work), protocol, student, seed)
        text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise EzsrError(f"{where}: training {student} ({protocol}, seed {seed}) failed: {text}") from None


def train_all(cfg: StudyConfig, work: Path) -> list[dict[str, Any]]:
    """Every (protocol, seed, student) run, ``cfg.jobs`` at a time; their figures."""
    sets = [(protocol, seed) for protocol in cfg.protocols for seed in cfg.seeds]

    def jobs_of(protocol: str, seed: int) -> list[tuple[StudyConfig, str, str, int, str, str, str]]:
        images, events = prepare_set(cfg, protocol, seed, work, workers=cfg.jobs)
        return [(cfg, protocol, student, seed, str(images), str(events), str(work)) for student in cfg.students]

    if cfg.jobs == 1:
        return [_train_job(j) for p, s in sets for j in jobs_of(p, s)]
    # spawn: a clean interpreter per trainer, whatever threads this process runs. A set's
    # runs start as soon as its events are ready, while the next set is synthesised
    from ezsr_live import jit_notice

    initializer, initargs = jit_notice.child_initializer()  # a cold compile in a trainer says so too
    with concurrent.futures.ProcessPoolExecutor(cfg.jobs, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=initializer, initargs=initargs) as pool:
        futures = [pool.submit(_train_job, j) for p, s in sets for j in jobs_of(p, s)]
        figures = []
        for future in futures:
            fig = future.result()
            log.info("trained %s/%s seed %d in %.0f s (loss %.4g)", fig["protocol"], fig["student"], fig["seed"],
                     fig["wall_s"], fig["final_loss"] or float("nan"))
            figures.append(fig)
        return figures


# --------------------------------------------------------------------------- evaluation
@dataclass
class _Bench:
    """What every run is scored on, computed once."""

    text: torch.Tensor
    synthetic_inputs: torch.Tensor
    synthetic_targets: np.ndarray
    teacher_rgb: torch.Tensor  # the teacher's embeddings of the synthetic windows' images
    recording_inputs: torch.Tensor  # empty where the domain has no recording
    recording_targets: np.ndarray
    translators: dict[str, Any] = field(default_factory=dict)  # (pool, alpha) name -> KnnTranslator
    #: protocol -> the same for the pool without that protocol's held-out classes
    seen_translators: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def test_sets(self) -> tuple[str, ...]:
        return ("synthetic", "recording") if len(self.recording_targets) else ("synthetic",)


def _bench(cfg: StudyConfig, clip: Any, work: Path) -> _Bench:
    from ezsr_live.model.clip_loader import model_identity
    from ezsr_live.model.knn import KnnTranslator, open_pool
    from ezsr_live.recipes.demo import ablation
    from ezsr_live.recipes.demo.teacher import class_embeddings
    from ezsr_live.windows import DEFAULT_WINDOW_MS, WindowSpec

    size = clip.image_size
    config = dataclasses.replace(domain_config(cfg), image_size=size)
    classes = config.class_names
    text = class_embeddings(clip.model, clip.tokenizer, classes, config.zero_shot_templates)
    rgb, synth = ablation.synthetic_sets(classes, cfg.test_images, TEST_SEED_BASE, size, config=config)
    recording = _recording(cfg)
    if recording is None:
        rec = ablation.TestSet(torch.zeros(0, 3, size, size), np.zeros(0, np.int64))
    else:
        rec = ablation.recording_set(recording, recording.with_suffix(".json"), classes,
                                     WindowSpec.by_time_ms(DEFAULT_WINDOW_MS), size)
    bench = _Bench(text, synth.inputs, synth.targets, ablation.embed(clip.model.visual, rgb.inputs),
                   rec.inputs, rec.targets)
    pool_dir = work / "pools"
    full = pool_dir / POOL_NAME
    if not full.is_dir():  # the demo build's pool: one embedding pass for every protocol's
        pool_dir.mkdir(parents=True, exist_ok=True)
        build_pool(clip.model, full, model_identity(DOMAINS[cfg.domain].model_name, cfg.teacher_name),
                   cfg.pool_images, seed=0, image_size=size, config=config)
    pool = open_pool(full)
    bench.translators = {f"all pool, alpha {a:g}": KnnTranslator(pool, alpha=a) for a in KNN_ALPHAS}
    for protocol in cfg.protocols:
        held = held_out_of(protocol, config)
        if held:
            seen = open_pool(seen_pool(full, pool_dir / f"{SEEN_POOL_NAME}-{protocol}", held))
            bench.seen_translators[protocol] = {f"seen pool, alpha {a:g}": KnnTranslator(seen, alpha=a)
                                                for a in KNN_ALPHAS}
    return bench


def _recording(cfg: StudyConfig) -> Path | None:
    from ezsr_live.model.registry import weights_dir

    if cfg.recording:
        return Path(cfg.recording)
    shipped = DOMAINS[cfg.domain].recording
    return weights_dir() / "demo" / shipped if shipped else None


def evaluate_run(bench: _Bench, clip: Any, model_name: str, encoder: Path, protocol: str,
                 held_out: Sequence[int]) -> dict[str, Any]:
    """Scores of one trained student, without and with each k-NN translation (the pool
    lacking ``protocol``'s held-out classes too, where it withholds some)."""
    from ezsr_live.model.event_encoder import make_event_encoder
    from ezsr_live.recipes.demo.ablation import embed

    tower, _ = make_event_encoder(clip.model, model_name, encoder, clip.image_size, keep_rgb_tower=True)
    inputs = {"synthetic": bench.synthetic_inputs, "recording": bench.recording_inputs}
    targets = {"synthetic": bench.synthetic_targets, "recording": bench.recording_targets}
    plain = {name: embed(tower, inputs[name]) for name in bench.test_sets}
    variants: dict[str, dict[str, torch.Tensor]] = {"none": plain}
    for name, knn in {**bench.translators, **bench.seen_translators.get(protocol, {})}.items():
        variants[name] = {test_set: knn(e) for test_set, e in plain.items()}
    return {name: {test_set: scores(e, bench.text, targets[test_set], held_out,
                                    bench.teacher_rgb if test_set == "synthetic" else None)
                   for test_set, e in embedded.items()}
            for name, embedded in variants.items()}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """(protocol, student, k-NN variant, test set, figure) -> summary over seeds, plus
    the paired k-NN deltas (variant minus none, per seed)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run["protocol"], run["student"]), []).append(run)
    out: dict[str, Any] = {}
    for (protocol, student), items in grouped.items():
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in items], "variants": {}, "knn_delta": {}}
        for variant in items[0]["scores"]:
            per_set: dict[str, Any] = {}
            for test_set in items[0]["scores"][variant]:
                figures = items[0]["scores"][variant][test_set]
                per_set[test_set] = {k: summarise([r["scores"][variant][test_set][k] for r in items])
                                     for k, v in figures.items() if not isinstance(v, list)}
                per_set[test_set]["predicted"] = np.mean(
                    [r["scores"][variant][test_set]["predicted"] for r in items], axis=0).tolist()
            entry["variants"][variant] = per_set
            if variant != "none":
                entry["knn_delta"][variant] = {
                    test_set: {k: summarise([_diff(r["scores"][variant][test_set].get(k),
                                                   r["scores"]["none"][test_set].get(k)) for r in items])
                               for k in ("top1", "held_out", "harmonic")
                               if k in items[0]["scores"]["none"][test_set]}
                    for test_set in items[0]["scores"]["none"]}
        entry["training"] = {k: summarise([r["training"].get(k) for r in items])
                             for k in ("final_loss", "final_train_cosine", "final_logit_scale", "wall_s")}
        out.setdefault(protocol, {})[student] = entry
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def run_study(cfg: StudyConfig, command: str = "") -> dict[str, Any]:
    """Train every run not yet trained, score them all; writes ``study.json`` and
    ``study.md`` into ``cfg.out`` and returns the document."""
    from ezsr_live.recipes.demo.teacher import load_teacher

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    t0 = time.perf_counter()
    trained = train_all(cfg, work)
    train_s = time.perf_counter() - t0
    clip = load_teacher(cfg.teacher)
    bench = _bench(cfg, clip, work)
    config = domain_config(cfg)
    classes = config.class_names
    held_out = {p: list(held_out_of(p, config)) for p in cfg.protocols if p in _HOLD_OUT}
    model_name = DOMAINS[cfg.domain].model_name
    runs = []
    for fig in trained:
        held = [classes.index(c) for c in held_out.get(fig["protocol"], ())]
        runs.append({"protocol": fig["protocol"], "student": fig["student"], "seed": fig["seed"], "training": fig,
                     "scores": evaluate_run(bench, clip, model_name, Path(fig["encoder"]), fig["protocol"], held)})
    teacher_rgb = scores(bench.teacher_rgb, bench.text, bench.synthetic_targets, [])
    doc = {"command": command, "config": cfg.to_json(), "domain": cfg.domain, "classes": list(classes),
           "held_out_classes": held_out, "test_windows": {"synthetic": len(bench.synthetic_targets),
                                                          "recording": len(bench.recording_targets)},
           "windows_per_class": np.bincount(bench.synthetic_targets, minlength=len(classes)).tolist(),
           "teacher_on_rgb": teacher_rgb, "train_seconds": round(train_s, 1),
           "total_seconds": round(time.perf_counter() - t0, 1), "runs": runs, "summary": aggregate(runs)}
    (out / "study.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    (out / "study.md").write_text(study_markdown(doc), encoding="utf-8")
    return doc


# --------------------------------------------------------------------------- report
def _pm(s: dict[str, Any] | None, scale: float = 100.0, digits: int = 1) -> str:
    if not s or s.get("mean") is None:
        return "-"
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f}"


def study_markdown(doc: dict[str, Any]) -> str:
    """The study's tables: mean ± sample standard deviation over seeds, in %."""
    cfg, summary = doc["config"], doc["summary"]
    n_seeds = len(cfg["seeds"])
    n_rec = doc["test_windows"]["recording"]
    recording = f" and {n_rec} 50 ms windows of the demo recording" if n_rec else " (the domain has no recording)"
    lines = [f"# EZSR's losses in miniature: students over seeds and protocols ({doc.get('domain', 'shapes')} "
             f"domain, {len(doc['classes'])} classes)", "",
             f"Each cell: mean ± standard deviation over {n_seeds} seed(s), in %. Students: {cfg['steps']} steps x "
             f"{cfg['batch_size']} pairs, lr {cfg['lr']:g}, on pre-synthesised events (the same events for every "
             f"student of a seed). Test: {doc['test_windows']['synthetic']} synthetic windows of fresh images"
             f"{recording}. Teacher on the RGB images: {100 * doc['teacher_on_rgb']['top1']:.1f} % top-1.", ""]
    variants = ["none"] + [f"all pool, alpha {a:g}" for a in KNN_ALPHAS]
    if "paper" in summary:
        lines += ["## (a) The paper's protocol: distilled on every class", "",
                  "| student | k-NN | synthetic top-1 | recording top-1 | cosine to teacher | mean-embedding norm |",
                  "|---|---|---:|---:|---:|---:|"]
        for student, entry in summary["paper"].items():
            for v in variants:
                syn, rec = entry["variants"][v]["synthetic"], entry["variants"][v].get("recording", {})
                lines.append(f"| {STUDENTS[student].label} | {_knn_name(v)} | {_pm(syn['top1'])} | "
                             f"{_pm(rec.get('top1'))} | {_pm(syn.get('cosine_to_teacher'), 1, 3)} | "
                             f"{_pm(syn['mean_norm'], 1, 3)} |")
        lines += ["", _delta_table(summary["paper"], ("top1",)), ""]
    for letter, protocol in zip("bcd", [p for p in summary if p in _HOLD_OUT]):
        lines += _held_out_section(doc, protocol, letter)
    lines += ["## Training", "", "| protocol | student | final loss | train cosine | learnt logit scale | wall (s) |",
              "|---|---|---:|---:|---:|---:|"]
    for protocol, students in summary.items():
        for student, entry in students.items():
            t = entry["training"]
            lines.append(f"| {protocol} | {STUDENTS[student].label} | {_pm(t['final_loss'], 1, 4)} | "
                         f"{_pm(t['final_train_cosine'], 1, 3)} | {_pm(t['final_logit_scale'], 1, 1)} | "
                         f"{_pm(t['wall_s'], 1, 0)} |")
    lines += ["", f"Training took {doc['train_seconds']:.0f} s, everything {doc['total_seconds']:.0f} s.", "",
              "## Command", "", "```", doc["command"], "```", ""]
    return "\n".join(lines)


def _held_out_section(doc: dict[str, Any], protocol: str, letter: str) -> list[str]:
    students = doc["summary"][protocol]
    held = doc["held_out_classes"][protocol]
    what = ", ".join(held) if len(held) <= 12 else f"{len(held)} classes: {', '.join(held[:6])}, ..."
    variants = (["none"] + [f"all pool, alpha {a:g}" for a in KNN_ALPHAS]
                + [f"seen pool, alpha {a:g}" for a in KNN_ALPHAS])
    lines = [f"## ({letter}) {protocol} ({what}): distilled without their images", "",
             "N-way: over all classes. Restricted: among the held-out classes only. H: harmonic mean of "
             "the N-way seen and held-out accuracies. Seen → held-out: share of seen-class windows "
             "predicted as a held-out class (bias towards them).", "",
             "| student | k-NN | seen (N-way) | held-out (N-way) | held-out (restricted) | H | "
             "seen → held-out | recording held-out (N-way) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for student, entry in students.items():
        for v in variants:
            if v not in entry["variants"]:
                continue
            syn, rec = entry["variants"][v]["synthetic"], entry["variants"][v].get("recording", {})
            lines.append(f"| {STUDENTS[student].label} | {_knn_name(v)} | {_pm(syn['seen'])} | "
                         f"{_pm(syn['held_out'])} | {_pm(syn['held_out_restricted'])} | {_pm(syn['harmonic'])} | "
                         f"{_pm(syn['seen_as_held_out'])} | {_pm(rec.get('held_out'))} |")
    lines += ["", _delta_table(students, ("held_out", "harmonic")), ""]
    classes = doc["classes"]
    lines += ["### Predictions per class (synthetic windows, no k-NN, mean over seeds)", ""]
    if len(classes) <= MAX_CLASS_COLUMNS:
        lines += ["| student | " + " | ".join(classes) + " |", "|---|" + "---:|" * len(classes)]
        for student, entry in students.items():
            counts = entry["variants"]["none"]["synthetic"]["predicted"]
            lines.append(f"| {STUDENTS[student].label} | " + " | ".join(f"{c:.0f}" for c in counts) + " |")
        lines += ["| (windows of each class) | " + " | ".join(str(c) for c in doc["windows_per_class"]) + " |", ""]
        return lines
    lines += [f"The {MOST_PREDICTED} classes predicted most often, of {len(classes)} "
              f"({sum(doc['windows_per_class'])} windows, {min(doc['windows_per_class'])}-"
              f"{max(doc['windows_per_class'])} per class):", "",
              "| student | most predicted (windows) |", "|---|---|"]
    for student, entry in students.items():
        counts = np.asarray(entry["variants"]["none"]["synthetic"]["predicted"])
        top = np.argsort(-counts, kind="stable")[:MOST_PREDICTED]
        lines.append(f"| {STUDENTS[student].label} | "
                     + ", ".join(f"{classes[i]}{' (held out)' if classes[i] in held else ''} {counts[i]:.0f}"
                                 for i in top) + " |")
    return lines + [""]


#: a per-class prediction table up to this many classes; beyond, the most predicted ones
MAX_CLASS_COLUMNS = 24
MOST_PREDICTED = 5


def _knn_name(variant: str) -> str:
    return "-" if variant == "none" else variant


def _delta_table(students: dict[str, Any], keys: Sequence[str]) -> str:
    """Paired k-NN deltas (per seed: with minus without), in points."""
    head = " | ".join(f"Δ {k.replace('_', '-')}" for k in keys)
    rows = ["Δ from k-NN (points, paired per seed, synthetic windows):", "", f"| student | k-NN | {head} |",
            "|---|---|" + "---:|" * len(keys)]
    for student, entry in students.items():
        for variant, delta in entry["knn_delta"].items():
            rows.append(f"| {STUDENTS[student].label} | {variant} | "
                        + " | ".join(_pm(delta["synthetic"].get(k)) for k in keys) + " |")
    return "\n".join(rows)
