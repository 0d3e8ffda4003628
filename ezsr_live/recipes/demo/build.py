"""Everything the bundled demo ships besides the teacher, from a trained teacher.

``ezsr demo train`` (:mod:`ezsr_live.cli.cmd_demo`) runs :func:`build` after training
the teacher; :func:`build`:

1. renders generated images into two image-folder trees: the *seen* classes (all but
   :data:`HELD_OUT`) and all classes;
2. distils the ablation's three event students from the teacher's image tower with
   :func:`ezsr_live.recipes.train.train` on events synthesised on the fly at the image's
   resolution, from the seen classes only (they never see events of a held-out class):
   the modulation loss (EZSR's), the InfoNCE baseline, and both combined; each is
   exported as fp16 ``ezsr-demo-event-<name>.safetensors`` + JSON sidecar;
   then the shipped event encoder ``ezsr-demo-event.safetensors``: the modulation loss
   on images of every class, trained longer. That is the paper's own protocol (EZSR
   distils on ImageNet images and is tested on N-ImageNet, the same 1,000 classes:
   no event is ever labelled, but no class is withheld); the held-out students measure
   the harder transfer to classes whose images the distillation never showed;
3. builds k-NN pools of teacher embeddings of generated RGB images: all classes
   (shipped, ``ezsr-demo-pool/``) and the seen classes only (``pool-seen-classes/``,
   for the ablation);
4. writes the demo recording ``shapes_demo.raw`` (EVT 3.0) and its ground truth
   ``shapes_demo.json`` (:mod:`ezsr_live.recipes.demo.recording`);
5. runs the ablation (:mod:`ezsr_live.recipes.demo.ablation`) and writes ``results.json`` and
   ``results.md`` with the command and each stage's wall time.

Every random choice derives from ``--seed``. ``--quick`` shrinks every count to a
smoke test of a few seconds (its numbers mean nothing).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch

from ezsr_live.fileio import sha256_file
from ezsr_live.recipes.demo.recording import RecordingConfig, write_recording
from ezsr_live.recipes.demo.domains import domain_of
from ezsr_live.recipes.demo.shapes import SHAPE_CLASSES, ShapesConfig, to_tensor
from ezsr_live.recipes.demo.teacher import DEMO_MODEL, EVAL_SEED, class_embeddings, load_teacher
from ezsr_live.recipes.train.config import LossConfig
from ezsr_live.windows import DEFAULT_WINDOW_MS, WindowSpec

if TYPE_CHECKING:
    from ezsr_live.model.clip_loader import ClipBundle

log = logging.getLogger(__name__)

#: classes whose events no student sees in training (zero-shot transfer is measured on them)
HELD_OUT: tuple[str, ...] = ("heart", "crescent", "pentagon")
SEEN: tuple[str, ...] = tuple(c for c in SHAPE_CLASSES if c not in HELD_OUT)

#: seed bases of each kind of generated image, far apart so that no two kinds share images
POOL_SEED_BASE = 3_000_003
TEST_SEED_BASE = EVAL_SEED + 7  # not the teacher's own evaluation images

#: log-luminance contrast bins of the ablation's per-contrast breakdown (the event threshold is 0.2)
CONTRAST_BINS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, float("inf"))

RECORDING_NAME = "shapes_demo.raw"
POOL_NAME = "ezsr-demo-pool"
SEEN_POOL_NAME = "pool-seen-classes"
#: the event encoder the demo ships (modulation loss, distilled on every class)
SHIPPED_STUDENT = "shipped"
SHIPPED_FILE = f"{DEMO_MODEL}-event.safetensors"


def student_file(name: str) -> str:
    """The stable file name of student ``name``'s deployable weights."""
    return SHIPPED_FILE if name == SHIPPED_STUDENT else f"{DEMO_MODEL}-event-{name}.safetensors"


@dataclass(frozen=True)
class StudentPlan:
    """One event student of the build: its loss, its schedule, the classes it never sees."""

    name: str
    label: str  # its rows in the ablation
    loss: LossConfig
    steps: int
    held_out: tuple[str, ...]

    @property
    def pools(self) -> tuple[str, ...]:
        # a pool lacking classes the student saw says nothing: the seen-classes pool only
        # matters to students that hold classes out
        return ("all", "seen") if self.held_out else ("all",)

    @property
    def stage(self) -> str:
        return "distil the shipped student" if self.name == SHIPPED_STUDENT else f"distil {self.name} student"


def student_plans(cfg: "BuildConfig") -> list[StudentPlan]:
    """The ablation's students (classes held out; the InfoNCE baseline first, as in the
    paper's table), then the shipped one (every class). Training and report order."""
    return [
        StudentPlan("infonce", "InfoNCE student", LossConfig(kind="infonce"), cfg.steps, HELD_OUT),
        StudentPlan("modulation", "modulation student", LossConfig(kind="modulation"), cfg.steps, HELD_OUT),
        StudentPlan("combined", f"modulation + {cfg.infonce_weight:g} InfoNCE student",
                    LossConfig(kind="modulation", infonce_weight=cfg.infonce_weight), cfg.steps, HELD_OUT),
        StudentPlan(SHIPPED_STUDENT, "shipped: modulation student on all classes (no class held out)",
                    LossConfig(kind="modulation"), cfg.shipped_steps, ()),
    ]


@dataclass
class BuildConfig:
    """One build. Defaults are the full run (about 8 minutes per student on 2 CPU cores)."""

    teacher: str
    out: str
    seed: int = 0
    train_images: int = 10000
    steps: int = 1200  # per ablation student
    shipped_steps: int = 2400  # the shipped student
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 40
    infonce_weight: float = 0.5  # lambda of the combined student
    threads: int = 1  # torch intra-op threads
    workers: int = 1  # synthesis worker processes per training run
    pool_images: int = 6000  # generated RGB images embedded into the full pool
    test_images: int = 600  # fresh images for the synthetic-window test set
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    window_ms: float = DEFAULT_WINDOW_MS  # the live app's default window
    #: file name the teacher ships under: pools record it as the model identity
    teacher_name: str | None = None
    work_dir: str | None = None  # default: a temporary folder, removed afterwards

    @classmethod
    def quick(cls, teacher: str, out: str, **overrides: Any) -> "BuildConfig":
        """Tiny counts for a smoke test of every stage."""
        small = dict(train_images=48, steps=2, shipped_steps=2, batch_size=16, warmup_steps=1, pool_images=48,
                     test_images=36,
                     recording=RecordingConfig(repeats=1, segment_ms=(120.0, 160.0), motion_ms=(40.0, 60.0)))
        small.update(overrides)
        return cls(teacher=teacher, out=out, **small)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))


class _Stages:
    """Wall time of each named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        log.info("stage %s ...", name)
        t0 = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t0, 2)
        log.info("stage %s done in %.1f s", name, self.seconds[name])


# --------------------------------------------------------------------------- stages
def render_training_images(root: Path, count: int, seed: int, classes: Sequence[str] = SEEN,
                           image_size: int = 64, batch: int = 500, config: ShapesConfig | None = None) -> int:
    """PNG images ``root/<class>/<index>.png`` of ``classes`` only (or of every class
    ``config``, a domain's configuration, draws); returns how many."""
    from PIL import Image

    config = config or ShapesConfig(image_size=image_size, classes=tuple(classes))
    gen = config.generator(seed)
    for c in config.class_names:
        (root / c).mkdir(parents=True, exist_ok=True)
    for start in range(0, count, batch):
        images, samples = gen.render(range(start, min(count, start + batch)))
        for img, smp in zip(images, samples):
            Image.fromarray(img).save(root / smp.class_name / f"{smp.index:06d}.png")
    return count


def export_student(trained: Path, dest: Path, extra: dict[str, Any]) -> Path:
    """Copy trained event weights to ``dest`` in fp16 with their sidecar (plus ``extra``
    and the file's sha256)."""
    from safetensors.torch import load_file, save_file

    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(trained)).items()}
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest))
    meta = json.loads(trained.with_suffix(".json").read_text(encoding="utf-8"))
    meta.update(extra, dtype="float16", sha256=sha256_file(dest))
    dest.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dest


def train_student(cfg: BuildConfig, plan: StudentPlan, images: Path, work: Path) -> tuple[Path, dict[str, Any]]:
    """Distil ``plan``'s student on ``images`` (which must lack its held-out classes);
    returns its exported weights and training figures."""
    from ezsr_live.recipes.train import TrainConfig, train

    loss, steps = plan.loss, plan.steps
    run_dir = work / f"student-{plan.name}"
    tcfg = TrainConfig(data=str(images), out=str(run_dir), model=DEMO_MODEL, pretrained=str(cfg.teacher),
                       steps=steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup_steps=cfg.warmup_steps,
                       device="cpu", workers=cfg.workers, seed=cfg.seed, checkpoint_every=steps,
                       log_every=max(1, steps // 20), loss=loss, progress=False,
                       run_name=Path(student_file(plan.name)).stem)
    t0 = time.perf_counter()
    result = train(tcfg)
    wall = time.perf_counter() - t0
    rates = [float(r["samples_per_s"]) for r in result.history[1:]] or \
            [float(r["samples_per_s"]) for r in result.history]
    figures = {"steps": result.final_step, "batch_size": cfg.batch_size, "lr": cfg.lr,
               "loss": dataclasses.asdict(loss), "wall_s": round(wall, 1),
               "pairs_per_s": round(float(np.median(rates)), 1) if rates else None,
               "final_loss": float(result.history[-1]["loss"]) if result.history else None,
               "held_out_classes": list(plan.held_out), "train_images": cfg.train_images}
    dest = export_student(result.encoder_path, Path(cfg.out) / student_file(plan.name), {"demo": figures})
    return dest, figures


def build_pools(clip_model: torch.nn.Module, out: Path, model_id: str, n_images: int, seed: int,
                image_size: int = 64, batch: int = 500, config: ShapesConfig | None = None,
                held_out: Sequence[str] = HELD_OUT) -> tuple[Path, Path]:
    """The full pool (every class of ``config``, the demo's shapes by default) and the
    pool without ``held_out``, of the same embeddings."""
    full = build_pool(clip_model, out / POOL_NAME, model_id, n_images, seed, image_size, batch, config)
    return full, seen_pool(full, out / SEEN_POOL_NAME, held_out)


def build_pool(clip_model: torch.nn.Module, dest: Path, model_id: str, n_images: int, seed: int,
               image_size: int = 64, batch: int = 500, config: ShapesConfig | None = None) -> Path:
    """A labelled flat pool of ``n_images`` fresh images of every class of ``config``."""
    from ezsr_live.model.knn import create_pool

    config = config or ShapesConfig(image_size=image_size)
    gen = config.generator(POOL_SEED_BASE + seed)
    feats, labels = [], []
    with torch.no_grad():
        for start in range(0, n_images, batch):
            images, samples = gen.render(range(start, min(n_images, start + batch)))
            feats.append(clip_model.encode_image(to_tensor(images)).float().numpy())
            labels.extend(s.class_index for s in samples)
    create_pool(dest, np.concatenate(feats), model_id, kind="flat",
                source=f"generated RGB {domain_of(config)}, seed {POOL_SEED_BASE + seed}, all classes",
                label_names=config.class_names, label_ids=np.asarray(labels, dtype=np.int32))
    return dest


def seen_pool(full: Path, dest: Path, held_out: Sequence[str]) -> Path:
    """The labelled pool ``full`` less the vectors of the ``held_out`` classes (kept if
    ``dest`` exists: one embedding pass serves every protocol's)."""
    from ezsr_live.model.knn import create_pool, open_pool, read_pool_meta

    if dest.is_dir():
        return dest
    pool, meta = open_pool(full), read_pool_meta(full)
    names = list(meta.label_names)
    labels = np.asarray(pool.label_ids)
    keep = np.flatnonzero(~np.isin(labels, [names.index(c) for c in held_out]))
    create_pool(dest, pool.reconstruct(keep), meta.model, kind="flat",
                source=f"{meta.source}; held-out classes removed: {', '.join(held_out)}",
                label_names=names, label_ids=labels[keep])
    return dest


def run_ablation(cfg: BuildConfig, clip: "ClipBundle", students: dict[str, Path], pools: dict[str, Path],
                 recording: Path, ground_truth: Path) -> list[dict[str, Any]]:
    """One row per (encoder, pool) with top-1 on each test set."""
    from ezsr_live.recipes.demo import ablation
    from ezsr_live.model.event_encoder import make_event_encoder
    from ezsr_live.model.knn import KnnTranslator, open_pool

    size = clip.image_size
    text = class_embeddings(clip.model, clip.tokenizer, SHAPE_CLASSES)
    rgb, synth_events = ablation.synthetic_sets(SHAPE_CLASSES, cfg.test_images, TEST_SEED_BASE + cfg.seed, size)
    rec = ablation.recording_set(recording, ground_truth, SHAPE_CLASSES, WindowSpec.by_time_ms(cfg.window_ms), size)
    held = [SHAPE_CLASSES.index(c) for c in HELD_OUT]
    seen = [SHAPE_CLASSES.index(c) for c in SEEN]
    visible = synth_events.luma_contrast >= cfg.recording.min_luma_contrast
    contrast_bins = [(lo, hi, (synth_events.luma_contrast >= lo) & (synth_events.luma_contrast < hi))
                     for lo, hi in zip(CONTRAST_BINS, CONTRAST_BINS[1:])]
    translators = {k: KnnTranslator(open_pool(p)) for k, p in pools.items()}

    def scores(name: str, event_emb: Any, rec_emb: Any, **extra: Any) -> dict[str, Any]:
        row = {"encoder": name, **extra,
               "synthetic_all": ablation.top1(event_emb, text, synth_events.targets),
               "synthetic_held_out": ablation.top1(event_emb, text, synth_events.targets, held),
               "synthetic_seen": ablation.top1(event_emb, text, synth_events.targets, seen),
               "synthetic_visible": ablation.top1(event_emb, text, synth_events.targets, where=visible),
               "synthetic_by_contrast": [
                   {"from": lo, "to": hi if np.isfinite(hi) else None, "windows": int(m.sum()),
                    "top1": ablation.top1(event_emb, text, synth_events.targets, where=m)}
                   for lo, hi, m in contrast_bins],
               "recording_all": ablation.top1(rec_emb, text, rec.targets) if rec_emb is not None else None,
               "recording_held_out": (ablation.top1(rec_emb, text, rec.targets, held)
                                      if rec_emb is not None else None)}
        log.info("%s", row)
        return row

    rows = [scores("teacher on RGB images (upper bound)", ablation.embed(clip.model.visual, rgb.inputs), None,
                   input="rgb")]
    rows.append(scores("teacher image tower on event frames", ablation.embed(clip.model.visual, synth_events.inputs),
                       ablation.embed(clip.model.visual, rec.inputs), input="events"))
    for plan in (p for p in student_plans(cfg) if p.name in students):
        tower, _ = make_event_encoder(clip.model, DEMO_MODEL, students[plan.name], size, keep_rgb_tower=True)
        e_syn, e_rec = ablation.embed(tower, synth_events.inputs), ablation.embed(tower, rec.inputs)
        rows.append(scores(plan.label, e_syn, e_rec, input="events", student=plan.name))
        for pool_name in plan.pools:
            knn = translators[pool_name]
            rows.append(scores(f"{plan.label} + k-NN ({pool_name} pool)", knn(e_syn), knn(e_rec),
                               input="events", student=plan.name, pool=pool_name))
    counts = {"synthetic_windows": len(synth_events.targets),
              "synthetic_held_out_windows": int(np.isin(synth_events.targets, held).sum()),
              "synthetic_visible_windows": int(visible.sum()),
              "recording_windows": len(rec.targets),
              "recording_held_out_windows": int(np.isin(rec.targets, held).sum())}
    for row in rows:
        row["counts"] = counts
    return rows


# --------------------------------------------------------------------------- report
def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def results_markdown(doc: dict[str, Any]) -> str:
    """The ablation table, settings, stage times and the command, as markdown."""
    rows = doc["ablation"]
    counts = rows[0]["counts"] if rows else {}
    lines = [
        "# Demo ablation (zero-shot top-1, %)", "",
        f"Held-out classes (no ablation student saw their events; the shipped student saw every class, "
        f"so its held-out columns are not zero-shot transfer): {', '.join(doc['held_out_classes'])}. "
        f"Synthetic: {counts.get('synthetic_windows')} windows of fresh images "
        f"({counts.get('synthetic_held_out_windows')} held-out, {counts.get('synthetic_visible_windows')} "
        f"visible: the shape differs from each background colour by at least "
        f"{doc['config']['recording']['min_luma_contrast']:g} in log luminance, as in the recording); recording: "
        f"{counts.get('recording_windows')} windows of {doc['window_ms']:g} ms of `{RECORDING_NAME}` "
        f"({counts.get('recording_held_out_windows')} held-out), scored against the label at each window's end.",
        "",
        "| encoder | synthetic, all | synthetic, held-out | synthetic, seen | synthetic, visible "
        "| recording, all | recording, held-out |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['encoder']} | {_pct(r['synthetic_all'])} | {_pct(r['synthetic_held_out'])} | "
                     f"{_pct(r['synthetic_seen'])} | {_pct(r['synthetic_visible'])} | "
                     f"{_pct(r['recording_all'])} | {_pct(r['recording_held_out'])} |")
    lines += ["", "Pools: `all` holds teacher embeddings of all 12 classes (shipped); `seen` lacks the "
              "held-out classes.", ""]
    by_contrast = [r for r in rows if r.get("input") == "events" and not r.get("pool") and r.get("synthetic_by_contrast")]
    if by_contrast:
        bins = by_contrast[0]["synthetic_by_contrast"]
        names = [f"{b['from']:g}-{b['to']:g}" if b["to"] is not None else f">= {b['from']:g}" for b in bins]
        lines += ["### Synthetic windows by the shape's luminance contrast", "",
                  "Least log-luminance difference between the shape's colour and a background colour "
                  "(the event threshold is 0.2); windows per bin: "
                  + ", ".join(f"{n}: {b['windows']}" for n, b in zip(names, bins)) + ".", "",
                  "| encoder | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        lines += [f"| {r['encoder']} | " + " | ".join(_pct(b["top1"]) for b in r["synthetic_by_contrast"]) + " |"
                  for r in by_contrast]
        lines.append("")
    lines += ["## Students", "",
              "| student | steps | batch | lr | pairs/s | wall (s) | final loss |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in doc["students"].items():
        lines.append(f"| {name} | {s['steps']} | {s['batch_size']} | {s['lr']:g} | {s['pairs_per_s']} | "
                     f"{s['wall_s']} | {s['final_loss']:.4g} |" if s.get("final_loss") is not None else
                     f"| {name} | {s['steps']} | {s['batch_size']} | {s['lr']:g} | - | {s['wall_s']} | - |")
    lines += ["", "## Wall time per stage", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in doc["stage_seconds"].items()]
    lines += ["", f"Total: {doc['total_seconds']} s on {doc['cpu_threads']} torch thread(s) + "
              f"{doc['config']['workers']} synthesis worker(s).", "", "## Command", "", "```",
              doc["command"], "```", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the build
def build(cfg: BuildConfig, command: str | None = None) -> dict[str, Any]:
    """Run every stage; returns the results document (also written to ``results.json``)."""
    from ezsr_live.model.clip_loader import model_identity

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages()
    t_all = time.perf_counter()
    clip = load_teacher(cfg.teacher)
    model_id = model_identity(DEMO_MODEL, cfg.teacher_name or Path(cfg.teacher).name)
    with contextlib.ExitStack() as stack:
        if cfg.work_dir:
            work = Path(cfg.work_dir)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ezsr-demo-build-")))
        # one image tree per set of held-out classes (the same images for every student of a set)
        trees = {HELD_OUT: (work / "images-seen", SEEN), (): (work / "images-all", SHAPE_CLASSES)}
        with stages("render training images"):
            for folder, classes in trees.values():
                if folder.exists():
                    shutil.rmtree(folder)
                render_training_images(folder, cfg.train_images, cfg.seed, classes, clip.image_size)
        students: dict[str, Path] = {}
        student_figures: dict[str, dict[str, Any]] = {}
        for plan in student_plans(cfg):
            with stages(plan.stage):
                students[plan.name], student_figures[plan.name] = train_student(
                    cfg, plan, trees[plan.held_out][0], work)
        with stages("k-NN pools"):
            full, seen = build_pools(clip.model, out, model_id, cfg.pool_images, cfg.seed, clip.image_size)
        with stages("demo recording"):
            rec_path, gt_path, n_events = write_recording(out / RECORDING_NAME, cfg.recording, cfg.seed)
        with stages("ablation"):
            rows = run_ablation(cfg, clip, students, {"all": full, "seen": seen}, rec_path, gt_path)
    doc = {
        "command": command or "",
        "config": cfg.to_json(),
        "teacher": {"path": str(cfg.teacher), "sha256": sha256_file(cfg.teacher), "model_identity": model_id},
        "held_out_classes": list(HELD_OUT),
        "window_ms": cfg.window_ms,
        "students": student_figures,
        "recording": {"file": rec_path.name, "events": n_events, "bytes": rec_path.stat().st_size,
                      "sha256": sha256_file(rec_path)},
        "pools": {p.name: {"bytes": sum(f.stat().st_size for f in p.iterdir())} for p in (full, seen)},
        "ablation": rows,
        "stage_seconds": stages.seconds,
        "total_seconds": round(time.perf_counter() - t_all, 1),
        "cpu_threads": torch.get_num_threads(),
    }
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(results_markdown(doc), encoding="utf-8")
    return doc
