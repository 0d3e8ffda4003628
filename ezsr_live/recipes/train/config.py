"""Run configuration of a distillation (no torch import: the CLI builds its parser
from these defaults)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ezsr_live.synth.api import SynthConfig

METRICS = ("l2", "l1", "smooth_l1")
LOSS_KINDS = ("modulation", "infonce")


@dataclass(frozen=True)
class LossConfig:
    kind: str = "modulation"  # "modulation" (+ optional InfoNCE) or "infonce" alone (the paper's baseline)
    metric: str = "l2"
    normalize: bool = True
    reduction: str = "sum"
    infonce_weight: float = 0.0  # lambda of the added InfoNCE term (kind="modulation")
    learn_modulation: bool = False  # a learnable (gamma, beta), folded into the tower when saved
    #: learn InfoNCE's logit scale (from the teacher's, clamped at CLIP's 100) instead of
    #: keeping the teacher's fixed: CLIP itself learns it, and a fixed one tuned for
    #: image-text pairs need not suit event-image pairs
    learn_temperature: bool = False

    def __post_init__(self) -> None:
        if self.kind not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {LOSS_KINDS}, got {self.kind!r}")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        if self.infonce_weight < 0:
            raise ValueError("infonce weight must be non-negative")
        if self.learn_temperature and not self.uses_infonce:
            raise ValueError("a learnt temperature needs an InfoNCE term (--loss infonce or --infonce-weight > 0)")

    @property
    def uses_infonce(self) -> bool:
        return self.kind == "infonce" or self.infonce_weight > 0



@dataclass
class TrainConfig:
    """Everything one distillation run needs; mirrors ``ezsr train``'s options."""

    data: str
    out: str
    model: str = "ViT-B-32"
    pretrained: str | None = "openai"
    model_config: str | None = None
    steps: int = 20_000
    batch_size: int = 64  # per process
    accum: int = 1
    lr: float = 2e-5
    weight_decay: float = 0.05
    warmup_steps: int = 500
    min_lr_ratio: float = 0.01
    clip_grad: float = 1.0  # <= 0: no clipping
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off on CPU) | off | bf16 | fp16
    device: str = "auto"
    workers: int = 8
    threads: int | None = None  # CPU intra-op threads; None: the cores the synthesis workers leave
    seed: int = 0
    checkpoint_every: int = 1000
    log_every: int = 10
    resume: str | None = None  # "auto" or a checkpoint folder
    sensor: str | None = None  # WxH of the synthetic sensor; default input_size x input_size
    events: str | None = None  # a folder of pre-synthesised events (ezsr synth IMAGE_DIR -o EVENTS) to read instead
    val_events: str | None = None  # held-out class folders of event files, scored zero-shot every val_every steps
    val_dataset: str | None = None  # val_events is this dataset's root, in its official layout (ezsr eval's)
    val_every: int = 0  # 0: no validation
    val_window_events: int = 15_000
    val_templates: str = "openai"
    tensorboard: str = "auto"  # auto: when torch.utils.tensorboard imports; on: required; off
    loss: LossConfig = field(default_factory=LossConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    progress: bool = True
    run_name: str | None = None
    #: tower parameter-name prefixes kept at the teacher's values (their norm layers in
    #: eval mode): training only the early layers makes the student an input adapter into
    #: the teacher's own features, which transfers better to classes it never saw
    freeze: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


