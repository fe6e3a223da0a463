"""W&B lineage: the dataset a run read (by reference: name, path, hashes; no upload of the data) and its trained
checkpoint as a model artifact (aliases ``latest`` and ``final``).

The model artifact is logged offline too (it syncs with the run). W&B refuses ``use_artifact`` in offline mode, so
an offline run records the dataset's fingerprint (``dataset`` in its config and ``run.json``) and
``python -m lightning_resnet sync`` declares the input artifact from it once the run is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger

from ..runs import CHECKPOINT_DIR, LAST_CHECKPOINT
from ..tracking import dataset_artifact


def _wandb_run(trainer: pl.Trainer):
    loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
    return loggers[0].experiment if loggers and trainer.is_global_zero else None


class WandbLineage(Callback):
    """Declare the dataset as the run's input artifact and log the final checkpoint as its output artifact."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        run, datamodule = _wandb_run(trainer), trainer.datamodule
        if run is None or stage != "fit" or not hasattr(datamodule, "fingerprint") or run.settings._offline:
            return
        run.use_artifact(dataset_artifact(datamodule.fingerprint()))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """After every ``on_train_end``: Lightning runs checkpoint callbacks last, and they write ``last.ckpt``."""
        run = _wandb_run(trainer)
        checkpoint = Path(trainer.default_root_dir) / CHECKPOINT_DIR / LAST_CHECKPOINT
        if run is None or not checkpoint.is_file():
            return
        import wandb

        artifact = wandb.Artifact(f"model-{run.id}", type="model", metadata={"global_step": trainer.global_step})
        artifact.add_file(str(checkpoint), name=LAST_CHECKPOINT)
        finished = trainer.global_step >= trainer.max_steps > 0
        run.log_artifact(artifact, aliases=["latest", "final"] if finished else ["latest"])
