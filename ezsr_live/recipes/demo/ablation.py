"""The paper's ablation in miniature: zero-shot top-1 of event encoders on the demo domain.

Every encoder is scored against the same test inputs, computed once:

* synthetic event windows: fresh generated images (a seed no training or pool image
  uses), each turned into one window of synthesised events, reported over all classes,
  over the held-out classes alone, and over the *visible* shapes alone (those that differ
  from their background in luminance by a given contrast: the generator picks colours by
  RGB distance, and a shape as bright as its background gives an event camera no edges);
* the demo recording, cut into windows as the live app cuts them; a window is scored
  against the ground-truth label at its end time.

Classification is cosine similarity against the teacher's text embeddings of the class
names (the teacher's class-only zero-shot prompts, averaged per class), optionally
after k-NN translation of the event embedding through a pool.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ezsr_live.recipes.demo.recording import label_at, read_ground_truth
from ezsr_live.recipes.demo.shapes import ShapesConfig, to_tensor
from ezsr_live.events import Geometry
from ezsr_live.kernels import ezsr_model_input, ezsr_model_input_batch
from ezsr_live.synth import SynthConfig, synthesize
from ezsr_live.windows import WindowSpec, iter_windows

@dataclass
class TestSet:
    """Model inputs and the class index of each (into the label list)."""

    inputs: torch.Tensor  # (N, 3, S, S)
    targets: np.ndarray  # (N,) int64
    #: (N,) each shape's least log-luminance difference to a background colour, where known
    luma_contrast: np.ndarray | None = None


def synthetic_sets(classes: Sequence[str], n_images: int, seed: int, image_size: int,
                   synth: SynthConfig | None = None, config: ShapesConfig | None = None) -> tuple[TestSet, TestSet]:
    """(RGB images, their synthetic event windows) of ``n_images`` fresh images of
    ``classes`` (or of a domain's ``config``, whose class indices the targets are)."""
    gen = (config or ShapesConfig(image_size=image_size, classes=tuple(classes))).generator(seed)
    images, samples = gen.render(range(n_images))
    targets = np.array([s.class_index for s in samples], dtype=np.int64)
    geometry = Geometry(image_size, image_size)
    frames = np.stack([
        ezsr_model_input(synthesize(img, synth, np.random.SeedSequence([seed, i]), geometry=geometry).events,
                         geometry, size=image_size)
        for i, img in enumerate(images)])
    contrast = np.array([s.luma_contrast for s in samples], dtype=np.float64)
    return (TestSet(to_tensor(images), targets, contrast),
            TestSet(torch.from_numpy(frames), targets.copy(), contrast.copy()))


def recording_set(path: str | os.PathLike, ground_truth: str | os.PathLike, classes: Sequence[str],
                  spec: WindowSpec, input_size: int) -> TestSet:
    """Windows of a recording as model inputs, labelled by the ground truth at their end."""
    from ezsr_live.drivers import open_reader

    segments = read_ground_truth(ground_truth)
    index = {c: i for i, c in enumerate(classes)}
    with open_reader(path) as reader:
        geometry = reader.info.geometry
        windows = list(iter_windows(reader, spec))
    labels = label_at(segments, np.array([w.t_end_us - 1 for w in windows], dtype=np.int64))
    keep = [i for i, lab in enumerate(labels) if lab is not None]
    if not keep:
        return TestSet(torch.zeros(0, 3, input_size, input_size), np.zeros(0, np.int64))
    inputs = ezsr_model_input_batch([windows[i].events for i in keep], geometry, size=input_size)
    return TestSet(inputs, np.array([index[labels[i]] for i in keep], dtype=np.int64))


@torch.no_grad()
def embed(encoder: torch.nn.Module, inputs: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """L2-normalised float32 embeddings of ``inputs`` by ``encoder`` (in eval mode)."""
    encoder.eval()
    out = [torch.nn.functional.normalize(encoder(inputs[i:i + batch_size]).float(), dim=-1)
           for i in range(0, len(inputs), batch_size)]
    return torch.cat(out) if out else torch.zeros(0, 1)


def top1(embeddings: torch.Tensor, text: torch.Tensor, targets: np.ndarray,
         subset: Sequence[int] | None = None, where: np.ndarray | None = None) -> float | None:
    """Top-1 accuracy over the items whose target is in ``subset`` (all when None) and,
    if given, whose ``where`` is true; None when no item qualifies."""
    mask = np.ones(len(targets), bool) if subset is None else np.isin(targets, np.asarray(list(subset)))
    if where is not None:
        mask &= np.asarray(where, dtype=bool)
    if not mask.any():
        return None
    pred = (embeddings[torch.from_numpy(mask)] @ text.T).argmax(dim=1).numpy()
    return float((pred == targets[mask]).mean())
