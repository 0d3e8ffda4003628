"""What ``ezsr demo study`` compares: its students, protocols and settings (no torch
import: the command line is built from these)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ezsr_live.errors import EzsrError
from ezsr_live.recipes.train.config import LossConfig


@dataclass(frozen=True)
class StudentSpec:
    label: str
    loss: LossConfig


#: the students compared, in report order (the InfoNCE baselines first, as in the paper)
STUDENTS: dict[str, StudentSpec] = {
    "infonce": StudentSpec("InfoNCE, teacher's temperature (fixed)", LossConfig(kind="infonce")),
    "infonce-learnt-t": StudentSpec("InfoNCE, learnt temperature", LossConfig(kind="infonce", learn_temperature=True)),
    "cosine": StudentSpec("modulation, cosine (L2 of unit vectors, summed = 2 - 2cos)", LossConfig()),
    "raw-l2": StudentSpec("modulation, raw per-dimension L2", LossConfig(normalize=False, reduction="mean")),
    "raw-l1": StudentSpec("modulation, raw per-dimension L1",
                          LossConfig(metric="l1", normalize=False, reduction="mean")),
    "cosine+infonce": StudentSpec("cosine modulation + 0.5 InfoNCE", LossConfig(infonce_weight=0.5)),
}

@dataclass(frozen=True)
class Protocol:
    description: str
    #: the teacher domains (:data:`ezsr_live.recipes.demo.domains.DOMAINS`) it is defined on;
    #: what it withholds, if anything, is ``study.held_out_of``'s
    domains: tuple[str, ...]


PROTOCOLS: dict[str, Protocol] = {
    "paper": Protocol("distilled on images of every class, tested on fresh event windows of them",
                      ("shapes", "compositional")),
    "held-out-shapes": Protocol("distilled without the held-out shapes' images (every composition of them); "
                                "scored N-way, restricted to them and as the generalised zero-shot harmonic mean",
                                ("shapes", "compositional")),
    "held-out-compositions": Protocol("distilled without one composition per shape, whose count, fill and shape "
                                      "each stay in other compositions; scored as held-out-shapes",
                                      ("compositional",)),
}


def protocols_of(domain: str) -> tuple[str, ...]:
    """The protocols defined on ``domain``, in report order."""
    return tuple(name for name, p in PROTOCOLS.items() if domain in p.domains)


#: k-NN mixing weights compared: alpha = 0 is Remark 1 read literally (the neighbours'
#: weighted mean alone), 0.5 the project's default
KNN_ALPHAS: tuple[float, ...] = (0.0, 0.5)


@dataclass
class StudyConfig:
    """One study. Defaults fit the 2-core CPU machine: 36 runs in about an hour."""

    teacher: str
    out: str
    seeds: tuple[int, ...] = (0, 1, 2)
    students: tuple[str, ...] = tuple(STUDENTS)
    #: empty: every protocol of the domain
    protocols: tuple[str, ...] = ()
    #: the teacher's domain (its sidecar's ``training.domain``): classes, images, protocols
    domain: str = "shapes"
    steps: int = 300
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 20
    #: images (and event files) per (protocol, seed); None: steps x batch, each pair seen once
    train_images: int | None = None
    test_images: int = 600
    pool_images: int = 6000
    jobs: int = 2  # training processes at once, one torch thread each
    #: where the students train (``cpu``, ``cuda``, ``mps``): scoring stays on the CPU.
    #: On CUDA the trainer's automatic mixed precision applies, so figures differ from a
    #: CPU study's by more than the seed spread may suggest: compare studies of one device
    device: str = "cpu"
    recording: str | None = None  # default: the shipped demo recording
    teacher_name: str = "ezsr-demo-teacher.safetensors"  # the file name pools record as the model identity

    def __post_init__(self) -> None:
        self.protocols = tuple(self.protocols) or protocols_of(self.domain)
        unknown = [s for s in self.students if s not in STUDENTS] + [p for p in self.protocols if p not in PROTOCOLS]
        if unknown:
            raise EzsrError(f"unknown student or protocol: {', '.join(unknown)} (students: {', '.join(STUDENTS)}; "
                            f"protocols: {', '.join(PROTOCOLS)})")
        undefined = [p for p in self.protocols if self.domain not in PROTOCOLS[p].domains]
        if undefined:
            raise EzsrError(f"protocol {', '.join(undefined)} is not defined on the {self.domain} domain "
                            f"(its protocols: {', '.join(protocols_of(self.domain))})")
        if not self.seeds or not self.students or not self.protocols:
            raise EzsrError("a study needs at least one seed, one student and one protocol")
        if min(self.steps, self.batch_size, self.test_images, self.pool_images, self.jobs) < 1:
            raise EzsrError("steps, batch size, test images, pool images and jobs must be >= 1")

    @property
    def images_per_set(self) -> int:
        return self.train_images or self.steps * self.batch_size

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))
