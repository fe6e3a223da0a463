"""What the benchmark scripts share: device synchronisation, a plain-PyTorch SGD loop to time, the machine's name
and the results files under ``benchmarks/results/``."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from lightning_resnet import ImageClassifier
from lightning_resnet.hardware import machine_label


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


RESULTS_DIR = Path(__file__).resolve().parent / "results"


def hardware_name(device: torch.device) -> str:
    """The machine as :func:`lightning_resnet.hardware.machine_label` names it (the GPU, or the CPU's model, cores,
    ISA and bf16 support) and, on the CPU, the threads torch uses: the results of one machine share it."""
    label = machine_label(device=device.type)
    return label if device.type == "cuda" else f"{label}, {torch.get_num_threads()} threads"


def merge_results(entries: list[dict], path: Path, key: Callable[[dict], tuple]) -> None:
    """Write ``entries`` into the JSON list at ``path``, replacing the old entries with the same ``key``."""
    old = json.loads(path.read_text()) if path.is_file() else []
    fresh = {key(e) for e in entries}
    merged = sorted([e for e in old if key(e) not in fresh] + entries, key=key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1) + "\n")


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
