"""Keep what an interrupted run has done."""

from __future__ import annotations

import os

import pytorch_lightning as pl
from pytorch_lightning.callbacks import OnExceptionCheckpoint

from ..module import NonFiniteLossError


class InterruptCheckpoint(OnExceptionCheckpoint):
    """Save a checkpoint when a run is interrupted (Ctrl-C, a crash), so ``--ckpt_path last`` resumes from that step.

    Unlike Lightning's :class:`OnExceptionCheckpoint`, it saves nothing when the loss turned NaN:
    those weights are broken, and resuming must start from the last good checkpoint instead.
    ``dirpath`` defaults to ``<default_root_dir>/checkpoints``. As in Lightning's callback, the file is removed once the run has finished normally.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "interrupted") -> None:
        super().__init__(dirpath or "", filename)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not self.dirpath:  # next to ModelCheckpoint's files when the run uses the default layout
            self.dirpath = os.path.join(trainer.default_root_dir, "checkpoints")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError) or trainer.global_step == 0 or not self.dirpath:
            return  # broken weights, or nothing trained yet
        super().on_exception(trainer, pl_module, exception)

