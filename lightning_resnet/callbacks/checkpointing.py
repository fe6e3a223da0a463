"""Keep what an interrupted run has done."""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins import TorchCheckpointIO
from pytorch_lightning.callbacks import Checkpoint, ModelCheckpoint
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ..compat import hold_sigterm, release_sigterm, save_last_checkpoint
from ..guard import NonFiniteLossError
from ..runs import CHECKPOINT_DIR, INTERRUPT_CHECKPOINT, RunWriteError, write_atomically


class InterruptCheckpoint(Checkpoint):
    """Save ``interrupted.ckpt`` when a run stops on an exception (Ctrl-C, a crash, a killed job).

    ``--ckpt_path last`` on the command line resumes from the newer of ``last.ckpt`` and this file.
    Nothing is saved when the loss turned NaN (those weights are broken: resume from the last good
    checkpoint) or before the first step. The file is removed once the run finishes normally.
    ``dirpath`` defaults to ``<default_root_dir>/checkpoints``, beside ModelCheckpoint's files.

    Unlike Lightning's ``OnExceptionCheckpoint``, its presence does not make every ``fit`` resume
    implicitly: a run resumes only when asked to.

    A SIGTERM during the fit's validation lets that validation finish first (seconds on CIFAR-10): Lightning would
    stop after the batch in progress, and a run resumed from there skips the rest of that validation, so its point
    would be missing from the curves. The run then stops at the end of the iteration, and resumes from the
    ``last.ckpt`` that validation saved (Lightning's own save point), not from a file of this callback's.
    """

    FILENAME = INTERRUPT_CHECKPOINT

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath
        self._sigterm_held = False
        self._stopping_after_validation = False

    @property
    def ckpt_path(self) -> str:
        return os.path.join(self.dirpath or "", self.FILENAME)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.dirpath is None:
            self.dirpath = os.path.join(trainer.default_root_dir, CHECKPOINT_DIR)

    def on_validation_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.state.fn == "fit" and hold_sigterm(trainer):
            self._sigterm_held = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._sigterm_held:
            self._sigterm_held = False
            self._stopping_after_validation = True
            release_sigterm(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, NonFiniteLossError) or trainer.global_step == 0 or self.dirpath is None:
            return
        if self._stopping_after_validation and isinstance(exception, SIGTERMException):
            trainer.strategy.remove_checkpoint(self.ckpt_path)  # an older interruption's: last.ckpt is newer
            return
        trainer.save_checkpoint(self.ckpt_path, weights_only=False)  # the whole state: it is resumed from

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":  # only called after a normal end; an interruption skips teardown hooks
            trainer.strategy.remove_checkpoint(self.ckpt_path)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints that cannot be lost half-written: saved to a temporary file in the same folder, flushed to disk,
    then renamed over the old one, so the previous good ``last.ckpt`` stays until the new one is complete. A full
    disk or read-only folder ends the run with one line naming the path."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str, storage_options: Any | None = None) -> None:
        try:
            write_atomically(path, lambda f: torch.save(checkpoint, f), CHECKPOINT_ADVICE, "checkpoint")
        except RunWriteError as err:
            raise CheckpointWriteError(str(err)) from err.__cause__


CHECKPOINT_ADVICE = "then resume with --ckpt_path last (the previous checkpoint is intact)"


class CheckpointWriteError(RunWriteError):
    """A checkpoint could not be written (disk full, read-only folder)."""


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after every validation during fit, and nothing else (the paper picks no best epoch).

    Lightning's ``ModelCheckpoint(save_last=True, save_top_k=0)`` writes ``last.ckpt`` only beside a top-k save,
    so with no top-k it would never checkpoint a run until it ends.
    """

    def __init__(self) -> None:
        super().__init__(save_last=True, save_top_k=0, enable_version_counter=False)  # never last-v1.ckpt

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        save_last_checkpoint(self, trainer)
