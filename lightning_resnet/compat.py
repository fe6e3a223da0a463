"""Every private attribute of Lightning, torch, torchmetrics and W&B that the suite relies on, in one module.

Each is a small function or class here and has a test of its own (``tests/test_compat.py``) against the
installed versions, so an upgrade that changes one breaks this file and one test, not the suite at large.
"""

from __future__ import annotations

import csv
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from torchmetrics.wrappers import Running

# -- Lightning ----------------------------------------------------------------------------------------------------


def chosen_accelerator(flag: str) -> str:
    """The accelerator ``Trainer(accelerator=flag)`` trains on: "auto" and "gpu" resolved by Lightning's own rules
    (auto: TPU, then MPS, then CUDA, then the CPU; gpu: MPS, then CUDA, else Lightning's one-line error)."""
    from pytorch_lightning.trainer.connectors.accelerator_connector import _AcceleratorConnector

    if flag == "auto":
        return _AcceleratorConnector._choose_auto_accelerator()
    if flag == "gpu":
        return _AcceleratorConnector._choose_gpu_accelerator_backend()
    return flag


def hold_sigterm(trainer: pl.Trainer) -> bool:
    """Clear Lightning's SIGTERM flag, which its evaluation loop checks after every batch; whether it was set."""
    received = trainer._signal_connector.received_sigterm
    trainer._signal_connector.received_sigterm = False
    return received


def release_sigterm(trainer: pl.Trainer) -> None:
    """Set Lightning's SIGTERM flag again: its training loop stops at the end of the iteration, as on any SIGTERM."""
    trainer._signal_connector.received_sigterm = True


def should_update_logs(trainer: pl.Trainer) -> bool:
    """Whether the loggers write at this iteration (``log_every_n_steps``), by Lightning's own rule."""
    return trainer._logger_connector.should_update_logs


def save_last_checkpoint(callback: ModelCheckpoint, trainer: pl.Trainer) -> None:
    """``last.ckpt`` now, with ModelCheckpoint's own skip rules (sanity check, fast_dev_run, already saved)."""
    if not callback._should_skip_saving_checkpoint(trainer):
        callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))


def started_experiment(logger: Logger) -> Any | None:
    """The logger's experiment (a W&B run, a CSV writer) if it has started one, without starting it."""
    return logger._experiment


def forget_experiment(logger: Logger) -> None:
    """Make the logger start a new experiment next time (after the old one was finished)."""
    logger._experiment = None


def wandb_init_arguments(logger: pl.loggers.WandbLogger) -> dict[str, Any]:
    """The keyword arguments WandbLogger will pass to ``wandb.init`` (mutable)."""
    return logger._wandb_init


class AppendingCSVWriter(ExperimentWriter):
    """Lightning's CSV writer, but an existing ``metrics.csv`` is continued (its header read) instead of deleted."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = next(csv.reader(f), [])


def appending_csv_writer(logger: CSVLogger) -> ExperimentWriter:
    """``logger``'s experiment, created as an :class:`AppendingCSVWriter` on first use."""
    if logger._experiment is None:
        logger._fs.makedirs(logger.root_dir, exist_ok=True)
        logger._experiment = AppendingCSVWriter(log_dir=logger.log_dir)
    return logger._experiment


# -- torch, torchmetrics, W&B --------------------------------------------------------------------------------------


def set_scheduler_lr(scheduler: Any, lr: float) -> None:
    """Make ``scheduler.get_last_lr()`` (which LearningRateMonitor logs) report ``lr`` after a manual LR change."""
    scheduler._last_lr = [lr for _ in scheduler.optimizer.param_groups]


def running_values_seen(metric: Running) -> int:
    """How many updates a torchmetrics ``Running`` window has seen (it is not in its state dict)."""
    return metric._num_vals_seen


def set_running_values_seen(metric: Running, count: int) -> None:
    metric._num_vals_seen = count


def wandb_run_offline(run: Any) -> bool:
    """Whether a W&B run writes offline (``run.offline`` in newer wandb, ``settings._offline`` in older)."""
    return bool(getattr(run, "offline", False) or getattr(run.settings, "_offline", False))


OFFLINE_PROJECT_ID = "offline"  # what a Report built without a server gives each runset for its project's W&B id


def report_view_spec(report: Any) -> dict[str, Any]:
    """A wandb-workspaces Report as the view spec ``Report.save`` would upload: its own pydantic model, built and
    validated offline. Building asks the server one thing, each runset's project id (``execute_graphql`` through
    ``_get_api``, both private to ``wandb_workspaces.reports.v2.interface``); here it is answered with
    :data:`OFFLINE_PROJECT_ID`."""
    from wandb_workspaces.reports.v2 import interface

    def project_id(api: Any, query: Any, variables: dict[str, Any]) -> dict[str, Any]:
        return {"project": {"internalId": OFFLINE_PROJECT_ID}}

    saved = interface._get_api, interface.execute_graphql
    interface._get_api, interface.execute_graphql = (lambda: None), project_id
    try:
        model = report._to_model()
    finally:
        interface._get_api, interface.execute_graphql = saved
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")
