"""Training data: image folders, with events synthesised on the fly in DataLoader workers
(or read from a folder of pre-synthesised events, :class:`EventFilePairDataset`).

Each item is ``(event_frame, image_tensor)``: the EZSR histogram model input of events
synthesised from the image (student input) and the image through CLIP's preprocessing
(teacher input). The synthesis seed of an item is derived from (run seed, epoch, index),
so an item is the same whichever worker or rank makes it, and a resumed run sees exactly
the data an uninterrupted one would have. The sampler hands out keys
``epoch * len(dataset) + index``, so persistent workers need no per-epoch state.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from ezsr_live.errors import EzsrError, FormatError
from ezsr_live.events import Geometry
from ezsr_live.kernels import ezsr_model_input
from ezsr_live.synth import SynthConfig, load_image, synthesize

from .images import IMAGE_EXTENSIONS, find_images  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

class SynthPairDataset(Dataset):
    """(event frame, teacher image) pairs from image files, synthesised per access."""

    def __init__(
        self,
        paths: Sequence[Path],
        preprocess: Callable,
        input_size: int,
        synth: SynthConfig | None = None,
        sensor: Geometry | None = None,
        seed: int = 0,
    ):
        self.paths = list(paths)
        self.preprocess = preprocess
        self.input_size = int(input_size)
        self.synth = synth or SynthConfig()
        self.sensor = sensor or Geometry(self.input_size, self.input_size)
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.paths)

    def item_seed(self, epoch: int, index: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed, int(epoch), int(index)])

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``index`` of epoch ``epoch``, for ``key = epoch * len(self) + index``."""
        epoch, index = divmod(int(key), len(self.paths))
        for attempt in range(len(self.paths)):
            path = self.paths[(index + attempt) % len(self.paths)]
            try:
                image = load_image(path)
                break
            except FormatError as exc:
                # one bad file must not kill a multi-day run: use the next image, loudly
                log.warning("skipping %s", exc)
        else:
            raise EzsrError("no readable image in the training set")
        result = synthesize(image, self.synth, self.item_seed(epoch, index), geometry=self.sensor)
        frame = ezsr_model_input(result.events, self.sensor, size=self.input_size)
        return torch.from_numpy(frame), self.preprocess(image)


class EventFilePairDataset(Dataset):
    """(event frame, teacher image) pairs from pre-synthesised event files (one per
    image, :mod:`.event_folder`): the same frames and targets as
    :class:`SynthPairDataset`, with the synthesis done beforehand, so every epoch sees
    the same events of an image."""

    def __init__(self, paths: Sequence[Path], event_paths: Sequence[Path], preprocess: Callable, input_size: int):
        if len(paths) != len(event_paths):
            raise ValueError("one event file per image")
        self.paths, self.event_paths = list(paths), list(event_paths)
        self.preprocess = preprocess
        self.input_size = int(input_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``index`` for ``key = epoch * len(self) + index`` (the sampler's keys)."""
        from ezsr_live.drivers.registry import open_reader

        index = int(key) % len(self.paths)
        for attempt in range(len(self.paths)):
            i = (index + attempt) % len(self.paths)
            try:
                image = load_image(self.paths[i])
                with open_reader(self.event_paths[i]) as reader:
                    events, sensor = reader.read_all(), reader.geometry
                break
            except FormatError as exc:
                log.warning("skipping %s", exc)  # as SynthPairDataset does: one bad file must not end the run
        else:
            raise EzsrError("no readable image and event file pair in the training set")
        frame = ezsr_model_input(events, sensor, size=self.input_size)
        return torch.from_numpy(frame), self.preprocess(image)


class ResumableDistributedSampler(DistributedSampler):
    """A DistributedSampler (per-epoch shuffle, one shard per rank) that can start an
    epoch part-way, after the first ``start_index`` samples of this rank's shard, and
    yields :class:`SynthPairDataset` keys (epoch * len + index)."""

    def __init__(self, dataset: Dataset, *, num_replicas: int, rank: int, seed: int, shuffle: bool = True):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.start_index = 0

    def set_start(self, start_index: int) -> None:
        self.start_index = int(start_index)

    def __iter__(self) -> Iterator[int]:
        base = self.epoch * len(self.dataset)
        return iter([base + i for i in list(super().__iter__())[self.start_index:]])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start_index)


def worker_init(_worker_id: int) -> None:
    """One intra-op thread per DataLoader worker: synthesis is single-threaded Numba and
    the workers together already occupy the cores."""
    torch.set_num_threads(1)
