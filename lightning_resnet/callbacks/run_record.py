"""The record of a run: resolved config, code version, environment, dataset and final errors.

It goes to every logger (W&B config, CSV ``hparams.yaml``) and to ``run.json`` in the run directory,
which reports and ``reproduce`` read without any W&B server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import yaml
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException

from ..compat import wandb_run_offline
from ..data.base import FingerprintedData
from ..data.distributed import per_device_batch_size
from ..data.stream import run_seed
from ..hardware import machine_label
from ..runs import (
    DEFINITION_KEY,
    NOT_DEFINING,
    RECORD_FILE,
    Status,
    read_record,
    status_of,
    tracking_keys,
    write_record,
)
from ..speed import SpeedSettings
from ..tracking import ID_FILE, environment, git_state
from .warmup import TrainErrorWarmup


def wandb_links(trainer: pl.Trainer) -> dict[str, Any]:
    """The W&B run of this process: its id, project, whether offline, and its URL when it is online."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            offline = wandb_run_offline(run)
            url = None if offline else getattr(run, "url", None)
            ids = Path(trainer.default_root_dir, ID_FILE)
            first = ids.read_text().split()[0] if ids.is_file() else run.id  # offline segments sync into the first id
            return {"id": first, "segment": run.id, "project": run.project, "offline": offline, "url": url}
    return {}


def run_definition(
    module: pl.LightningModule, datamodule: pl.LightningDataModule | None, trainer: pl.Trainer
) -> dict[str, Any]:
    """What defines a run's experiment: network, recipe, schedule, batch, BN batch, precision, data, seed, warm-up.

    Saved in every checkpoint; a resume whose definition differs is refused (``ResNetCLI.before_fit``).
    The DataModule must be set up (its fingerprint hashes the training split).
    """
    data = {k: v for k, v in dict(getattr(datamodule, "hparams", {})).items() if k not in NOT_DEFINING}
    fingerprint = datamodule.fingerprint() if isinstance(datamodule, FingerprintedData) else {}
    batch = data.get("batch_size")
    device_batch = per_device_batch_size(batch, trainer) if batch else None
    warmups = [{"lr": c.lr, "until_error": c.until_error} for c in trainer.callbacks if isinstance(c, TrainErrorWarmup)]
    definition = {
        **{f"model.{k}": v for k, v in module.hparams.items()},
        **{f"data.{k}": v for k, v in data.items()},
        "trainer.max_steps": trainer.max_steps,
        "trainer.precision": str(trainer.precision),
        "trainer.accumulate_grad_batches": trainer.accumulate_grad_batches,
        "bn_images": module.hparams.get("bn_batch") or device_batch,  # images each BN normalises over
        "dataset.train_sha256": fingerprint.get("sha256", {}).get("train"),
        "seed": run_seed(),
        "warmup": warmups[0] if warmups else None,
    }
    return json.loads(json.dumps(definition, default=str))  # as a checkpoint stores it: lists, not tuples


def _scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix)}


class RunRecord(SaveConfigCallback):
    """LightningCLI's config saver that also records the run (``run.json``) and logs the record to the loggers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started, self._base_seconds, self.definition = time.monotonic(), 0.0, None
        # set by the CLI before fit: Lightning names the checkpoint it resumes from only after the setup hooks
        self.resuming = False
        self.speed: SpeedSettings | None = None  # set by the CLI: how `fastest` was resolved, if it was asked for
        self._base_steps: int | None = 0  # iterations the earlier segments' recorded time covers (None: unknown)
        self._segment_start: int | None = None  # the iteration this segment resumed at

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._started, self._base_seconds = time.monotonic(), 0.0  # the record itself is written by rank 0 only
        self._base_steps, self._segment_start = 0, None
        self.definition = run_definition(pl_module, trainer.datamodule, trainer) if stage == "fit" else None
        super().setup(trainer, pl_module, stage)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.definition is not None:
            checkpoint[DEFINITION_KEY] = self.definition
            self._update(trainer, **self._progress(trainer))  # heartbeat: a killed run keeps its time on record

    def _path(self, trainer: pl.Trainer) -> Path:
        return Path(trainer.default_root_dir) / RECORD_FILE

    def _update(self, trainer: pl.Trainer, **fields: Any) -> None:
        if trainer.is_global_zero:
            record = read_record(Path(trainer.default_root_dir))
            for key, value in fields.items():
                record[key] = {**record.get(key, {}), **value} if isinstance(value, dict) and key == "final" else value
            write_record(trainer.default_root_dir, record)

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        datamodule = trainer.datamodule
        fingerprint = datamodule.fingerprint() if isinstance(datamodule, FingerprintedData) else None
        model = config.get("model", {})
        keys = tracking_keys(
            config.get("experiment", ""),
            config.get("preset"),
            model.get("arch", ""),
            model.get("shortcut"),
            config.get("seed_everything", 0),
        )
        record = {
            **keys,
            "config": config,
            "experiment": config.get("experiment"),
            "run_name": Path(trainer.default_root_dir).name,
            "seed": config.get("seed_everything"),
            "precision": str(trainer.precision),
            "max_steps": trainer.max_steps,
            "git": git_state(),
            "dataset": fingerprint,
            "speed": self.speed.as_record() if self.speed else None,
            **environment(),
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(record)
        if stage == "fit":
            resuming = self.resuming or bool(trainer.ckpt_path)
            fresh = {} if resuming else {"train_seconds": 0.0, "timed_steps": 0, "final": {}}  # a new run forgets
            if fresh and trainer.is_global_zero:
                self._path(trainer).unlink(missing_ok=True)
            # every segment's time counts, a killed one's up to its last checkpoint (the heartbeat below)
            previous = read_record(Path(trainer.default_root_dir))
            self._base_seconds = 0.0 if fresh else previous.get("train_seconds", 0.0)
            # a record from before timed_steps was kept may hold only its last segment's time: then unknown
            self._base_steps = 0 if fresh else previous.get("timed_steps")
            # the W&B run this record belongs to, and where to see it once it is online or synced
            self._update(
                trainer, **record, **fresh, status=Status.RUNNING, reason=None, wandb=wandb_links(trainer) or None
            )

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._segment_start = trainer.global_step  # the checkpoint is restored by now
        tf32 = {"matmul": torch.backends.cuda.matmul.allow_tf32, "convolutions": torch.backends.cudnn.allow_tf32}
        # each segment's machine: a run resumed elsewhere says which iterations ran where
        segments = read_record(Path(trainer.default_root_dir)).get("segments", []) if trainer.is_global_zero else []
        here = {"from_step": trainer.global_step, "hardware": machine_label(device=trainer.strategy.root_device.type)}
        earlier = [s for s in segments if s["from_step"] < trainer.global_step]
        self._update(trainer, tf32=tf32, segments=[*earlier, here])

    def _progress(self, trainer: pl.Trainer) -> dict[str, Any]:
        """The heartbeat: iterations done, training seconds over all segments, and the iterations those seconds
        cover (``timed_steps``; left out when an earlier segment's time is unknown)."""
        elapsed = self._base_seconds + time.monotonic() - self._started
        progress = {"global_step": trainer.global_step, "train_seconds": elapsed}
        if self._base_steps is not None and self._segment_start is not None:
            progress["timed_steps"] = self._base_steps + trainer.global_step - self._segment_start
        return progress

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trained = trainer.global_step >= trainer.max_steps > 0
        final = _scalars(trainer.callback_metrics, "val/")
        self._update(
            trainer, status=Status.TRAINED if trained else Status.STOPPED, **self._progress(trainer), final=final
        )

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        record = read_record(Path(trainer.default_root_dir))
        status = status_of(record)
        status = Status.FINISHED if status and status.done_training else status
        self._update(trainer, final=_scalars(trainer.callback_metrics, "test/"), status=status)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """``interrupted`` (Ctrl-C, SIGTERM: resumable) or ``failed`` with the reason; the segment's time counts."""
        if trainer.state.fn != "fit":
            return
        stopped = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        reason = "interrupted by a signal" if stopped else f"{type(exception).__name__}: {exception}"[:500]
        status = Status.INTERRUPTED if stopped else Status.FAILED
        self._update(trainer, status=status, reason=reason, **self._progress(trainer))
