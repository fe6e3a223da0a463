"""Keep what an interrupted run has done."""

from __future__ import annotations

import os

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint

from ..module import NonFiniteLossError
from ..runs import CHECKPOINT_DIR, INTERRUPT_CHECKPOINT


class InterruptCheckpoint(Checkpoint):
    """Save ``interrupted.ckpt`` when a run stops on an exception (Ctrl-C, a crash, a killed job).

    ``--ckpt_path last`` on the command line resumes from the newer of ``last.ckpt`` and this file.
    Nothing is saved when the loss turned NaN (those weights are broken: resume from the last good
    checkpoint) or before the first step. The file is removed once the run finishes normally.
    ``dirpath`` defaults to ``<default_root_dir>/checkpoints``, beside ModelCheckpoint's files.

    Unlike Lightning's ``OnExceptionCheckpoint``, its presence does not make every ``fit`` resume
    implicitly: a run resumes only when asked to.
    """

    FILENAME = INTERRUPT_CHECKPOINT

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath

    @property
    def ckpt_path(self) -> str:
        return os.path.join(self.dirpath or "", self.FILENAME)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = os.path.join(trainer.default_root_dir, CHECKPOINT_DIR)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError) or trainer.global_step == 0 or self.dirpath is None:
            return
        trainer.save_checkpoint(self.ckpt_path)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":  # only called after a normal end; an interruption skips teardown hooks
            trainer.strategy.remove_checkpoint(self.ckpt_path)
