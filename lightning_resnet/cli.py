"""``python -m lightning_resnet fit|validate|test|predict --config FILE``: LightningCLI with the run layout of this project.

Every run has a directory ``<runs_dir>/<experiment>/<run_name>/`` holding its resolved config,
its metrics (CSV) and its checkpoints; running the same command again with ``--ckpt_path last``
resumes it from the newest of ``last.ckpt`` and ``interrupted.ckpt`` (or starts it, if it has none).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities import rank_zero_info

from .callbacks import InterruptCheckpoint
from .data.cifar10 import DatasetError
from .module import ImageClassifier


def default_run_name(config: Namespace) -> str:
    """``<arch>[-<shortcut>]-s<seed>``, e.g. ``resnet56-s0`` or ``resnet34-B-s1``."""
    model = config.model
    name = model.arch + (f"-{model.shortcut}" if model.shortcut else "")
    return f"{name}-s{config.seed_everything}"


class ResNetCLI(LightningCLI):
    """LightningCLI for :class:`ImageClassifier` with any LightningDataModule, plus the run layout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})  # a resumed run re-saves the same config
        kwargs.setdefault("trainer_defaults", {"callbacks": [InterruptCheckpoint()]})
        kwargs.setdefault("auto_configure_optimizers", False)  # the module owns the paper's optimizer and schedule
        super().__init__(ImageClassifier, pl.LightningDataModule, *args, subclass_mode_data=True, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--experiment", type=str, default="default", help="table or figure id; groups the runs")
        parser.add_argument("--run_name", type=str | None, default=None, help="default: <arch>[-<shortcut>]-s<seed>")
        parser.add_argument("--runs_dir", type=str, default="runs", help="root of all run directories")

    def run_dir(self) -> Path:
        config = self.config[self.subcommand] if self.subcommand else self.config
        return Path(config.runs_dir) / config.experiment / (config.run_name or default_run_name(config))

    def before_fit(self) -> None:
        """``--ckpt_path last`` resumes from the newest of the run's ``last.ckpt`` and ``interrupted.ckpt``."""
        config = self.config_init[self.subcommand]
        if config.get("ckpt_path") != "last":
            return
        folder = Path(self.trainer.default_root_dir) / "checkpoints"
        candidates = [p for p in (folder / "last.ckpt", folder / InterruptCheckpoint.FILENAME) if p.is_file()]
        if candidates:
            config["ckpt_path"] = str(max(candidates, key=lambda p: p.stat().st_mtime))
            rank_zero_info(f"Resuming from {config['ckpt_path']}")
        else:
            config["ckpt_path"] = None
            rank_zero_info(f"No checkpoint in {folder}: starting the run from scratch.")

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        run_dir = self.run_dir()
        if trainer_config.get("default_root_dir") in (None, "", "."):
            kwargs["default_root_dir"] = str(run_dir)
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = CSVLogger(save_dir=str(run_dir), name="", version="")
        if self.subcommand and self.subcommand != "fit":  # keep the fit's config.yaml as the run's record
            self.save_config_kwargs["config_filename"] = f"{self.subcommand}_config.yaml"
        return super().instantiate_trainer(**kwargs)


def main(args: list[str] | None = None) -> None:
    """Console entry point; user errors (unknown model, missing data) end with one clear line, not a traceback."""
    try:
        ResNetCLI(args=args)
    except (ValueError, FileNotFoundError, DatasetError) as err:
        print(f"lightning-resnet: error: {err}", file=sys.stderr)
        sys.exit(2)
