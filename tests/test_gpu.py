"""On a CUDA GPU only (skipped elsewhere; ``benchmarks/gpu_check.sh`` runs it): the fast preset's steady-state
iteration (data draw, augmentation, step, optimizer, callbacks) never makes the host wait for the device."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from lightning_resnet.cli import default_callbacks, run_command
from lightning_resnet.paper.pools import POOLS

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


class NoHostSync(Callback):
    """CUDA's sync debug mode set to ``error`` from the end of one iteration to the end of the next, for the
    iterations ``first`` to ``last``: any device-to-host copy or synchronisation in between raises."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last, self.checked = first, last, []

    def on_train_batch_end(self, trainer, *args) -> None:
        torch.cuda.set_sync_debug_mode(0)
        upcoming = trainer.global_step  # iterations done so far = the index of the next one
        if self.first <= upcoming < self.last:
            self.checked.append(upcoming)
            torch.cuda.set_sync_debug_mode("error")

    def on_train_end(self, *args) -> None:
        torch.cuda.set_sync_debug_mode(0)


def test_the_fast_presets_steady_state_iteration_never_syncs_the_host(tmp_path: Path, cifar_dir: Path) -> None:
    checker = NoHostSync(first=20, last=59)
    configs = [a for path in POOLS["cifar10"].configs("fast") for a in ("--config", str(path))]
    run_command(
        [
            "fit",
            *configs,
            f"--data.init_args.data_dir={cifar_dir}",
            "--trainer.max_steps=60",
            "--trainer.log_every_n_steps=1000",  # no logging iteration in the checked range
            "--trainer.limit_val_batches=0",
            "--test_after_fit=false",
            f"--runs_dir={tmp_path}",
        ],
        trainer_defaults={"callbacks": [*default_callbacks(), checker]},
    )
    assert checker.checked == list(range(20, 59))
