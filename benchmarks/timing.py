"""What the benchmark scripts share: device synchronisation and a timed plain-PyTorch SGD loop."""

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


def sgd_images_per_second(
    module: ImageClassifier,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    precision: str,
    device: torch.device,
    steps: int,
    warmup: int,
) -> float:
    """Forward + backward + the module's SGD step on ``batches``, timed over ``steps`` after ``warmup`` untimed ones."""
    optimizer = module.configure_optimizers()["optimizer"]
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16-mixed" else contextlib.nullcontext()
    )
    seen = 0
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start, seen = time.perf_counter(), 0
        images, labels = next(batches)
        with autocast:
            loss = F.cross_entropy(module(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(labels)
    sync(device)
    return seen / (time.perf_counter() - start)
