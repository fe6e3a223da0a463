"""Callbacks of the reproduction: the 110-layer warm-up, interrupt-safe checkpoints, run records, Figure 7 responses."""

from .checkpointing import InterruptCheckpoint
from .layer_responses import LayerResponses
from .run_record import RunRecord
from .warmup import TrainErrorWarmup

__all__ = ["InterruptCheckpoint", "LayerResponses", "RunRecord", "TrainErrorWarmup"]
