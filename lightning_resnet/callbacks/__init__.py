"""Callbacks of the reproduction: the 110-layer warm-up and interrupt-safe checkpoints."""

from .checkpointing import InterruptCheckpoint
from .warmup import TrainErrorWarmup

__all__ = ["InterruptCheckpoint", "TrainErrorWarmup"]
