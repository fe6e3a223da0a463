"""Deliberate changes to a resumed run: after a NaN, a lower learning rate or full precision from here on."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from ..compat import set_scheduler_lr
from ..runs import RunFolder


class ResumeOverrides(Callback):
    """Set the learning rate of a resumed run once its checkpoint is restored, and record each change in
    ``run.json`` under ``changes`` with the iteration it took effect at (a precision change is recorded too).

    Later milestones divide the new rate as they would have divided the old one. Everything else that defines the
    run is still compared against the checkpoint and refused when it differs.
    """

    def __init__(self, lr: float | None = None, precision: tuple[str, str] | None = None) -> None:
        self.lr, self.precision = lr, precision

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        change: dict = {"iteration": trainer.global_step}
        if self.lr is not None:
            previous = trainer.optimizers[0].param_groups[0]["lr"]
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = self.lr
            for config in trainer.lr_scheduler_configs:
                set_scheduler_lr(config.scheduler, self.lr)
            change["lr"] = {"from": previous, "to": self.lr}
        if self.precision is not None:
            change["precision"] = {"from": self.precision[0], "to": self.precision[1]}
        if trainer.is_global_zero and len(change) > 1:
            RunFolder(trainer.default_root_dir).append("changes", change)
