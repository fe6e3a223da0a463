"""Batch sizes under data parallelism: configs give the paper's global batch, each device loads its share."""

from __future__ import annotations

import pytorch_lightning as pl


def per_device_batch_size(global_batch: int, trainer: pl.Trainer | None) -> int:
    """``global_batch`` split evenly over all devices of all nodes (256 on 8 GPUs: 32 each, as the paper)."""
    world = getattr(trainer, "world_size", 1)  # 1 outside a Trainer
    if global_batch % world:
        raise ValueError(
            f"batch_size {global_batch} is the global batch and must divide evenly over the {world} devices "
            f"({trainer.num_nodes} nodes x {trainer.num_devices} devices); choose a multiple of {world}."
        )
    return global_batch // world
