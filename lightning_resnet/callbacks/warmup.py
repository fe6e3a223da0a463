"""The ResNet-110 warm-up of Section 4.2: LR 0.01 until the training error falls below 80%, then 0.1."""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info

WARMUP_LR = 0.01  # Section 4.2
WARMUP_UNTIL_ERROR = 80.0  # percent training error


class TrainErrorWarmup(Callback):
    """Hold the learning rate at ``lr`` until the monitored training error (percent) drops below ``until_error``.

    The warm-up scales each parameter group's LR by ``lr / base_lr`` and divides that factor out once,
    when the error first falls below the threshold; since the paper's schedulers are multiplicative
    (MultiStepLR, ReduceLROnPlateau), the LR then is exactly what the schedule alone would give.
    Its state (factor, finished, iteration of the switch) is saved in checkpoints, so a resumed run
    never warms up twice.

    Args:
        lr: the warm-up learning rate (the paper: 0.01).
        until_error: training error in percent below which the warm-up ends (the paper: 80).
        monitor: the logged training error, averaged over recent iterations by the module.
    """

    def __init__(
        self, lr: float = WARMUP_LR, until_error: float = WARMUP_UNTIL_ERROR, monitor: str = "train/top1_error"
    ) -> None:
        self.lr, self.until_error, self.monitor = lr, until_error, monitor
        self.factor: float | None = None
        self.finished = False
        self.switched_at_step: int | None = None

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.finished:
            return
        pl_module.log_every_step = True  # the module logs its training error at every iteration until the switch
        if self.factor is not None:
            return
        optimizer = trainer.optimizers[0]
        self.factor = self.lr / optimizer.param_groups[0]["lr"]
        for group in optimizer.param_groups:
            group["lr"] *= self.factor
        rank_zero_info(f"Warm-up: learning rate {self.lr} until the training error is below {self.until_error}%.")

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self.finished or self.factor is None:
            return
        error = trainer.callback_metrics.get(self.monitor)
        if error is None:
            raise KeyError(
                f"TrainErrorWarmup monitors {self.monitor!r}, which the module does not log; logged: "
                f"{sorted(trainer.callback_metrics)}"
            )
        if float(error) < self.until_error:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] /= self.factor
            self.finished, self.switched_at_step = True, trainer.global_step
            pl_module.log_every_step = False
            pl_module.log("train/warmup_end_step", float(trainer.global_step))
            rank_zero_info(f"Warm-up finished at iteration {trainer.global_step} (training error {float(error):.1f}%).")

    def state_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "finished": self.finished, "switched_at_step": self.switched_at_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.factor = state_dict["factor"]
        self.finished = state_dict["finished"]
        self.switched_at_step = state_dict["switched_at_step"]
