"""Callbacks the tests load into CLI subprocesses (``--trainer.callbacks+=faults.KillAt``) to break runs on purpose."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class KillAt(Callback):
    """SIGKILL this process when optimizer step ``step`` is about to run: no handler, no checkpoint, no cleanup."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class PauseAt(Callback):
    """Sleep ``seconds`` before optimizer step ``step``, as a slow step of a long run would take time."""

    def __init__(self, step: int, seconds: float) -> None:
        self.step, self.seconds = step, seconds

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            time.sleep(self.seconds)
