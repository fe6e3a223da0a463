"""Progress as lines: one per logging interval, for logs and other non-interactive output (no bar redraws)."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_info


def clock() -> str:
    """The local date and time a line was printed: a queue's log spans days and sessions, and rates alone do not say
    when a run reached an iteration."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


class ProgressLines(Callback):
    """Print ``iteration k/N, loss, training error, iterations/s, time of day`` every ``log_every_n_steps`` and the
    errors of each validation. Reads the values the logger reads at that interval, so it adds no host sync to other
    steps."""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = (trainer.global_step, time.perf_counter())

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step % trainer.log_every_n_steps:
            return
        metrics, (last_step, last_time) = trainer.callback_metrics, self._last
        now = time.perf_counter()
        rate = (step - last_step) / max(now - last_time, 1e-9)
        self._last = (step, now)
        parts = [f"iteration {step:,}/{trainer.max_steps:,}"]
        if "train/loss" in metrics:
            parts.append(f"loss {float(metrics['train/loss']):.4f}")
        if "train/top1_error" in metrics:
            parts.append(f"training error {float(metrics['train/top1_error']):.2f}%")
        rank_zero_info("  ".join([*parts, f"{rate:.2f} it/s", clock()]))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        errors = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.endswith("top1_error") and "/" in k and not k.startswith("train")
        }
        if errors:
            shown = "  ".join(f"{k.split('/')[0]} {v:.2f}%" for k, v in sorted(errors.items()))
            rank_zero_info(f"iteration {trainer.global_step:,}: top-1 error  {shown}  {clock()}")
