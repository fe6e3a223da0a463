"""Batch sizes under data parallelism: configs give the paper's global batch, each device loads its share."""

from __future__ import annotations

import pytorch_lightning as pl

from ..errors import ConfigError


def batch_shards(trainer: pl.Trainer | None, training: bool = True) -> int:
    """Into how many loader batches one optimizer step's batch is cut: devices x gradient-accumulation steps."""
    world = getattr(trainer, "world_size", 1)  # 1 outside a Trainer
    return world * (getattr(trainer, "accumulate_grad_batches", 1) if training else 1)


def per_device_batch_size(global_batch: int, trainer: pl.Trainer | None, training: bool = True) -> int:
    """``global_batch`` split evenly over all devices of all nodes (256 on 8 GPUs: 32 each, as the paper) and,
    in training, over the gradient-accumulation steps, so one optimizer step always sees ``global_batch`` images."""
    shards = batch_shards(trainer, training)
    if global_batch % shards:
        accumulate = getattr(trainer, "accumulate_grad_batches", 1) if training else 1
        raise ConfigError(
            f"batch_size {global_batch} is the global batch and must divide evenly over "
            f"the {trainer.world_size} devices ({trainer.num_nodes} nodes x {trainer.num_devices} devices) x "
            f"{accumulate} accumulation steps; choose "
            f"a multiple of {shards}."
        )
    return global_batch // shards
