"""The training stream as a function of the optimizer step, so a resumed or scaled-out run sees the same data.

Step ``s`` of a run always trains on the same ``batch_size`` images: epoch ``s // steps_per_epoch`` is a
permutation drawn from (seed, epoch), and the step takes its next ``batch_size`` slice, cut into one
share per device and gradient-accumulation step. Each share carries an augmentation key drawn from
(seed, rank, step, share), so ranks never repeat each other's crops and flips, and a run resumed at
step ``s`` continues exactly where an uninterrupted one would: nothing but the step is state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from ..errors import ConfigError
from .distributed import batch_shards


def run_seed() -> int:
    """The run's seed (``seed_everything``), which Lightning publishes to every process as ``PL_GLOBAL_SEED``."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


def stream_key(seed: int, *parts: int) -> int:
    """A 63-bit seed for one epoch's permutation or one share's augmentation, distinct for distinct ``parts``."""
    key = seed & 0xFFFFFFFF
    for part in parts:
        key = (key * 0x9E3779B97F4A7C15 + part + 1) % (1 << 63)
    return key


class StepBatches(IterableDataset):
    """Yields ``(images, labels, augmentation_key)`` for this device from the trainer's current step to the epoch's end.

    ``images``/``labels`` are indexable tensors of the whole training split; incomplete last batches are dropped.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, trainer: pl.Trainer | None) -> None:
        self.images, self.labels, self.batch_size, self.trainer = images, labels, batch_size, trainer

    @property
    def steps_per_epoch(self) -> int:
        return len(self.labels) // self.batch_size

    def __len__(self) -> int:
        return self.steps_per_epoch * getattr(self.trainer, "accumulate_grad_batches", 1)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        trainer, seed = self.trainer, run_seed()
        world, rank = getattr(trainer, "world_size", 1), getattr(trainer, "global_rank", 0)
        accumulate = getattr(trainer, "accumulate_grad_batches", 1)
        share = self.batch_size // batch_shards(trainer)
        step = getattr(trainer, "global_step", 0)
        epoch, first = divmod(step, self.steps_per_epoch)
        order = torch.randperm(len(self.labels), generator=torch.Generator().manual_seed(stream_key(seed, epoch)))
        order = order.to(self.labels.device)  # one copy per epoch when the data live on the GPU
        for s in range(first, self.steps_per_epoch):
            for part in range(accumulate):
                start = s * self.batch_size + (part * world + rank) * share
                index = order[start : start + share]
                yield (
                    self.images[index],
                    self.labels[index],
                    stream_key(seed, rank, epoch * self.steps_per_epoch + s, part),
                )


class StepBatchLoader(DataLoader):
    """A DataLoader over :class:`StepBatches`. Lightning sees it as resumable mid-epoch (it is, by the step);
    its saved state checks that a resumed run reads the same stream."""

    def __init__(self, stream: StepBatches) -> None:
        super().__init__(stream, batch_size=None, pin_memory=torch.cuda.is_available() and not stream.labels.is_cuda)

    def state_dict(self) -> dict[str, Any]:
        return {"batch_size": self.dataset.batch_size, "samples": len(self.dataset.labels), "seed": run_seed()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state != (current := self.state_dict()):
            raise ConfigError(
                f"this run's training stream {current} differs from the checkpoint's {state}; resume with the same "
                "data, batch and seed"
            )
