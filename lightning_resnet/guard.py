"""Stopping a run whose training loss is not finite, without a device-to-host copy at every iteration."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from .compat import should_update_logs
from .errors import UserError


class NonFiniteLossError(UserError, FloatingPointError):
    """The training loss became NaN or infinite; the run stops without overwriting its last good checkpoint."""


class NonFiniteGuard(pl.LightningModule):
    """A LightningModule that remembers on the device the first iteration whose training loss was not finite and
    stops the run there (one host sync) at the iterations the loggers write and before any checkpoint is saved.

    Subclasses call :meth:`watch_loss` in ``training_step`` and may extend :attr:`advice`.
    """

    def advice(self, resumable: bool) -> str:
        """What to do next, for the state the run is in: resume its checkpoint, or start it again."""
        if resumable:
            return "resume from the last checkpoint with a lower LR (--ckpt_path last --override_lr LR)"
        return "run the same command again with a lower LR (--model.lr LR)"

    def __init__(self) -> None:
        super().__init__()
        # set by callbacks that read the training values at every iteration (the ResNet-110 warm-up)
        self.log_every_step = False
        self.register_buffer("first_nonfinite_step", torch.tensor(-1), persistent=False)

    def watch_loss(self, loss: torch.Tensor) -> None:
        first_bad = (~torch.isfinite(loss)) & (self.first_nonfinite_step < 0)
        self.first_nonfinite_step = torch.where(first_bad, self.global_step, self.first_nonfinite_step)

    def logs_this_step(self) -> bool:
        """Whether the loggers write this iteration, by Lightning's own rule (as its LearningRateMonitor uses), or a
        callback reads the training values at every one: values copied to the host are computed only then."""
        trainer = self._trainer
        if self.log_every_step or trainer is None or trainer.fast_dev_run:
            return True
        return should_update_logs(trainer)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.logs_this_step():
            self.check_finite()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self.check_finite(weights=True)  # no checkpoint ever holds the weights of a diverged run

    def check_finite(self, weights: bool = False) -> None:
        """Stop the run if a training loss was not finite, or, with ``weights``, a weight is not."""
        step = int(self.first_nonfinite_step)
        if step < 0 and weights and not all(bool(p.isfinite().all()) for p in self.parameters()):
            step = self.global_step
        if step >= 0:
            callbacks = self._trainer.checkpoint_callbacks if self._trainer is not None else []
            folders = {Path(c.dirpath) for c in callbacks if getattr(c, "dirpath", None)}
            resumable = any(any(folder.glob("*.ckpt")) for folder in folders)
            written = "No checkpoint was written after it" if resumable else "No checkpoint was written"
            raise NonFiniteLossError(
                f"training loss was not finite at iteration {step}. {written}; {self.advice(resumable)}."
            )
