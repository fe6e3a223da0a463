"""What the benchmark scripts share: device synchronisation and a plain-PyTorch SGD loop to time."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from lightning_resnet import ImageClassifier


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainLoop:
    """Forward + backward + the module's SGD step on ``batches``: the tight loop the suite is measured against."""

    def __init__(
        self,
        module: ImageClassifier,
        batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
        precision: str,
        device: torch.device,
    ) -> None:
        self.module, self.batches, self.precision, self.device = module, batches, precision, device
        self.optimizer = module.configure_optimizers()["optimizer"]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16-mixed":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def run(self, steps: int) -> int:
        """Train ``steps`` iterations; returns the images seen."""
        seen = 0
        for _ in range(steps):
            images, labels = next(self.batches)
            with self.autocast():
                loss = F.cross_entropy(self.module(images), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            seen += len(labels)
        return seen


def sgd_images_per_second(
    module: ImageClassifier,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    precision: str,
    device: torch.device,
    steps: int,
    warmup: int,
) -> float:
    """Images/s of the plain loop over ``steps`` iterations after ``warmup`` untimed ones."""
    loop = PlainLoop(module, batches, precision, device)
    loop.run(warmup)
    sync(device)
    start = time.perf_counter()
    seen = loop.run(steps)
    sync(device)
    return seen / (time.perf_counter() - start)
