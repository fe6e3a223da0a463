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
from ..errors import ConfigError
from ..hardware import machine_label
from ..runs import (
    DEFINITION_KEY,
    NOT_DEFINING,
    RunAddress,
    RunFolder,
    Status,
    definition_differences,
    network_name,
    tracking_keys,
)
from ..speed import SpeedSettings
from ..tracking import environment, git_state, training_run_id
from .warmup import TrainErrorWarmup


def wandb_links(trainer: pl.Trainer) -> dict[str, Any]:
    """The W&B run of this process: its id, project, whether offline, and its URL when it is online."""
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            offline = wandb_run_offline(run)
            url = None if offline else getattr(run, "url", None)
            first = training_run_id(Path(trainer.default_root_dir)) or run.id  # the id `sync` uploads the run as
            return {"id": first, "segment": run.id, "project": run.project, "offline": offline, "url": url}
    return {}


def run_definition(
    module: pl.LightningModule, datamodule: pl.LightningDataModule | None, trainer: pl.Trainer
) -> dict[str, Any]:
    """What defines a run's experiment: network, recipe, schedule, batch, BN batch, precision, data, seed, warm-up.

    Saved in every checkpoint; a resume whose definition differs is refused (``RunRecord.setup``, handed the
    checkpoint's definition by ``ResNetCLI.connect_record``).
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
    return as_stored(definition)


def as_stored(definition: dict[str, Any]) -> dict[str, Any]:
    """A definition as a checkpoint stores it (lists, not tuples; strings for what JSON lacks)."""
    return json.loads(json.dumps(definition, default=str))


def configured_definition(model: dict[str, Any], max_steps: int | None) -> dict[str, Any]:
    """The part of a run's definition its config holds before anything is built (the model's arguments and the
    schedule's length): what a command can be checked against a checkpoint with, before it builds the run."""
    return as_stored({**{f"model.{k}": v for k, v in model.items()}, "trainer.max_steps": max_steps})


class ResumeMismatchError(ConfigError):
    """A resume would continue a checkpoint under another experiment's settings."""


def check_resume(saved: dict[str, Any], current: dict[str, Any], checkpoint: str) -> None:
    """Refuse to continue ``checkpoint`` (whose definition is ``saved``) as a run defined otherwise."""
    differences = definition_differences(saved, current)
    if differences:
        raise ResumeMismatchError(
            f"{checkpoint} was trained as another experiment ({'; '.join(differences)}). Resuming would change it "
            f"silently: resume with the checkpoint's settings, or start a separate run with --run_name NAME "
            f"(or another --preset) and without --ckpt_path."
        )


def _scalars(metrics: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix)}


class RunRecord(SaveConfigCallback):
    """LightningCLI's config saver that also records the run (``run.json``) and logs the record to the loggers.

    A fit that resumes a checkpoint is checked against the checkpoint's run definition here, once the DataModule is
    set up and before the record or any logger is touched: a refused resume leaves the run as it was.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started, self._base_seconds, self.definition = time.monotonic(), 0.0, None
        # set by the CLI before fit: Lightning names the checkpoint it resumes from only after the setup hooks
        self.resuming = False
        self.resumed: tuple[str, dict[str, Any]] | None = None  # the checkpoint resumed and its saved definition
        self.keep_precision = False  # --override_precision: the checkpoint's precision is not compared
        self.speed: SpeedSettings | None = None  # set by the CLI: how `fastest` was resolved, if it was asked for
        self.address: RunAddress | None = None  # set by the CLI: the run's address (tracking keys)
        self._opened = False  # whether this command has written the record yet (a refusal before it leaves it)
        self._base_steps: int | None = 0  # iterations the earlier segments' recorded time covers (None: unknown)
        self._segment_start: int | None = None  # the iteration this segment resumed at

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._started, self._base_seconds = time.monotonic(), 0.0  # the record itself is written by rank 0 only
        self._base_steps, self._segment_start = 0, None
        self.definition = run_definition(pl_module, trainer.datamodule, trainer) if stage == "fit" else None
        if self.definition is not None and self.resumed is not None:
            checkpoint, saved = self.resumed
            current = dict(self.definition)
            if self.keep_precision:
                current["trainer.precision"] = saved.get("trainer.precision")  # a deliberate change, not a mismatch
            check_resume(saved, current, checkpoint)
        super().setup(trainer, pl_module, stage)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.definition is not None:
            checkpoint[DEFINITION_KEY] = self.definition
            self._update(trainer, **self._progress(trainer))  # heartbeat: a killed run keeps its time on record

    def _folder(self, trainer: pl.Trainer) -> RunFolder:
        return RunFolder(trainer.default_root_dir)

    def _update(self, trainer: pl.Trainer, **fields: Any) -> None:
        if trainer.is_global_zero:
            self._folder(trainer).update(**fields)

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        datamodule = trainer.datamodule
        fingerprint = datamodule.fingerprint() if isinstance(datamodule, FingerprintedData) else None
        model = config.get("model", {})
        folder = Path(trainer.default_root_dir)  # a RunRecord outside the CLI: the folder it was given is the address
        address = self.address or RunAddress(folder.parent.parent, folder.parent.name, folder.name)
        network = network_name(model.get("arch", ""), model.get("shortcut"))
        keys = tracking_keys(
            address, network, model.get("shortcut"), config.get("preset"), config.get("seed_everything")
        )
        record = {
            **keys,
            "config": config,
            "experiment": config.get("experiment"),
            "run_name": address.name,
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
                self._folder(trainer).forget()
            # every segment's time counts, a killed one's up to its last checkpoint (the heartbeat below)
            previous = self._folder(trainer).record()
            self._base_seconds = 0.0 if fresh else previous.train_seconds
            # a record from before timed_steps was kept may hold only its last segment's time: then unknown
            self._base_steps = 0 if fresh else previous.timed_steps
            self._opened = True
            # the W&B run this record belongs to, and where to see it once it is online or synced
            self._update(
                trainer, **record, **fresh, status=Status.RUNNING, reason=None, wandb=wandb_links(trainer) or None
            )

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._segment_start = trainer.global_step  # the checkpoint is restored by now
        tf32 = {"matmul": torch.backends.cuda.matmul.allow_tf32, "convolutions": torch.backends.cudnn.allow_tf32}
        # each segment's machine: a run resumed elsewhere says which iterations ran where
        segments = self._folder(trainer).record().segments if trainer.is_global_zero else []
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
        record = self._folder(trainer).record() if trainer.is_global_zero else None
        status = Status.FINISHED if record and record.done_training else record and record.status
        self._update(trainer, final=_scalars(trainer.callback_metrics, "test/"), status=status)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """``interrupted`` (Ctrl-C, SIGTERM: resumable) or ``failed`` with the reason; the segment's time counts."""
        if trainer.state.fn != "fit" or not self._opened:  # refused before the record was opened: it stays as it was
            return
        stopped = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        reason = "interrupted by a signal" if stopped else f"{type(exception).__name__}: {exception}"[:500]
        status = Status.INTERRUPTED if stopped else Status.FAILED
        self._update(trainer, status=status, reason=reason, **self._progress(trainer))
