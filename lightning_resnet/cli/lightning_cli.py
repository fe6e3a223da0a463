"""LightningCLI for one command's run (``run=False``): the config parsed, the run prepared from it, and the model,
data and Trainer built into the run's folder. :mod:`.commands` runs what it built.

Every run has a folder ``<runs_dir>/<experiment>[-<preset>]/<run_name>/`` (:mod:`lightning_resnet.runs`) holding
its resolved config (``config.yaml``), its record (``run.json``), its metrics (``metrics.csv``), its W&B run
(``wandb/``), its Figure 7 statistics (``layer_responses.csv``) and its checkpoints. Running the same command again
with ``--ckpt_path last`` resumes it from the newest checkpoint that loads, if its experiment is the same; a new
``fit`` never replaces a run unless told to.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from jsonargparse import Namespace
from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.utilities import rank_zero_info

from .. import runs, speed
from ..callbacks import InterruptCheckpoint, LayerResponses, RunRecord
from ..callbacks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from ..callbacks.lineage import WandbLineage
from ..callbacks.overrides import ResumeOverrides
from ..callbacks.predictions import PredictionWriter
from ..callbacks.progress import ProgressLines
from ..callbacks.run_record import ResumeMismatchError, configured_definition
from ..detection import ObjectDetector
from ..errors import ConfigError, MissingFileError, UserError
from ..models import list_models, model_entry
from ..module import ImageClassifier
from ..paper import folder_stem
from ..tracking import DEFAULT_PROJECT, make_loggers

PROG = "python -m lightning_resnet"
NETWORK_KEYS = ("arch", "shortcut", "stride_on_3x3")  # what an evaluation's network must share with its checkpoint


def run_tags(config: Namespace) -> list[str]:
    model = config.model
    registered = model.arch in list_models()  # the detector's VGG-16 is torchvision's, not in the registry
    kind = "residual" if registered and model_entry(model.arch).residual else "plain"
    preset = [f"preset-{config.preset}"] if config.preset else []
    return [
        config.experiment,
        model.arch,
        kind,
        *preset,
        *([f"shortcut-{model.shortcut}"] if model.shortcut else []),
        *config.tags,
    ]


def default_callbacks() -> list[pl.Callback]:
    """What every run has: ``last.ckpt`` after each validation (the paper picks no best epoch, so no top-k),
    ``interrupted.ckpt`` on an interruption, the LR curve, Figure 7's responses at the end and, when the output is
    not a terminal, a progress line per logging interval instead of a progress bar."""
    callbacks = [
        LastCheckpoint(),
        InterruptCheckpoint(),
        LearningRateMonitor(logging_interval="step"),
        LayerResponses(),
        PredictionWriter(),
        WandbLineage(),
    ]
    return callbacks if sys.stderr.isatty() else [*callbacks, ProgressLines()]


def check_checkpoint(path: Path) -> None:
    """An explicit ``--ckpt_path`` that is missing or does not load ends the command with one line, before the run
    folder is touched (PyTorch's own message would suggest ``weights_only=False`` and filing an issue)."""
    if not path.is_file():
        raise MissingFileError(f"no checkpoint at {path}: pass an existing file, or --ckpt_path last")
    if not runs.checkpoint_loads(path):
        raise ConfigError(
            f"{path} is not a readable checkpoint (truncated, empty or not a checkpoint): pass another checkpoint of "
            "the run, or --ckpt_path last to take its newest checkpoint that loads"
        )


class NothingToDo(UserError):
    """The command would change nothing (a finished run resumed): said in one line, exit status 0."""


class Trainer(pl.Trainer):
    """``pl.Trainer`` that takes ``precision="fastest"`` (:mod:`lightning_resnet.speed`: the device's native
    precision) and whose ``limit_*_batches`` read ``1`` from a config or command line as one batch.

    Lightning annotates them ``float | int``, so LightningCLI turns ``--trainer.limit_val_batches=1`` into
    ``1.0``: the whole set. Listing ``int`` first keeps integers as batch counts and fractions as fractions.
    """

    def __init__(
        self,
        *,
        precision: _PRECISION_INPUT | Literal["fastest"] | None = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        **kwargs: Any,
    ) -> None:
        if precision == speed.FASTEST:  # built in Python; the CLI resolves it before (and records it)
            precision = speed.resolve(precision, False, kwargs.get("accelerator")).precision
        super().__init__(
            precision=precision,
            limit_train_batches=limit_train_batches,
            limit_val_batches=limit_val_batches,
            limit_test_batches=limit_test_batches,
            limit_predict_batches=limit_predict_batches,
            **kwargs,
        )


# the options a command has beside the model's, the data's and the Trainer's: (name, type, default, help); a callable
# default is asked when the parser is built
RUN_OPTIONS: tuple[tuple[str, Any, Any, str], ...] = (
    ("ckpt_path", str | None, None, "the checkpoint to start from: a path, `last` (the newest that loads) or `hpc`"),
    ("experiment", str, "default", "table or figure id; the W&B group"),
    ("preset", str | None, None, "the preset's name (smoke, short, paper, ...): runs/<experiment>-<preset>/"),
    ("run_name", str | None, None, "default: <arch>[-<shortcut>]-s<seed>"),
    ("runs_dir", str, lambda: str(runs.runs_root()), runs.RUNS_DIR_HELP),
    ("project", str, DEFAULT_PROJECT, "W&B project"),
    ("tags", list[str], [], "extra W&B tags"),
    ("wandb_watch", str | None, None, "W&B watch of the network: gradients, parameters or all"),
    ("overwrite", bool, False, "let a new fit replace the run in its folder"),
    ("override_lr", float | None, None, "with --ckpt_path: continue at this LR (e.g. lower, after a NaN); recorded"),
    ("override_precision", bool, False, "with --ckpt_path: accept another trainer.precision than the checkpoint's"),
    ("test_after_fit", bool, True, "test the final weights after fit"),
)


class ResNetCLI(LightningCLI):
    """One command's run, parsed and built: LightningCLI (``run=False``) for :class:`ImageClassifier` and any
    LightningDataModule. Parsing prepares the run (:meth:`prepare_run`), building the Trainer opens its folder
    (:meth:`open_run_folder`); :mod:`~lightning_resnet.cli.commands` then runs the command, step by step, and
    :meth:`close` releases the folder. Without a command it only builds them (for a look at the resolved recipe),
    touching neither the data nor the run folder."""

    model_class: type[pl.LightningModule] = ImageClassifier
    prog = PROG

    def __init__(self, args: list[str] | None = None, command: str | None = None, **kwargs: Any) -> None:
        self.command = command
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("save_config_callback", RunRecord)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})  # a resumed run re-saves the same config
        kwargs.setdefault("trainer_defaults", {"callbacks": self.default_callbacks()})
        kwargs.setdefault("trainer_class", Trainer)
        kwargs.setdefault("auto_configure_optimizers", False)  # the module owns the paper's optimizer and schedule
        kwargs.setdefault(
            "parser_kwargs", {"prog": f"{self.prog} {command or 'fit'}", "description": self.description()}
        )
        self.lock: runs.RunLock | None = None
        self.resuming, self.saved_definition, self.speed = False, None, None
        self.new_folder: runs.RunFolder | None = None  # the run folder, when this command made it
        try:
            super().__init__(
                self.model_class, pl.LightningDataModule, args=args, run=False, subclass_mode_data=True, **kwargs
            )
        except BaseException:
            self.close(failed=True)
            raise

    def close(self, failed: bool = False) -> None:
        """The command is over: release the run folder (and remove it again if the command made it and failed
        before writing anything into it)."""
        if failed and self.new_folder is not None:
            self.new_folder.remove_if_empty()
        if self.lock is not None:
            self.lock.release()

    def description(self) -> str:
        return f"{self.command or 'fit'} a network with a config (the paper's recipe as LightningCLI options)"

    @staticmethod
    def default_callbacks() -> list[pl.Callback]:
        return default_callbacks()

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # the DataModule owns its number of classes; the model is built for it
        parser.link_arguments(
            "data", "model.num_classes", compute_fn=lambda data: data.num_classes, apply_on="instantiate"
        )
        for name, kind, default, help in RUN_OPTIONS:
            parser.add_argument(f"--{name}", type=kind, default=default() if callable(default) else default, help=help)

    def address(self) -> runs.RunAddress:
        """Where this command's run lives: a paper id at a preset in its pool's folder, the one ``reproduce`` and
        ``report`` use (:func:`~lightning_resnet.paper.folder_stem`)."""
        config = self.config
        stem = folder_stem(config.experiment, config.preset)
        network = runs.network_name(config.model.arch, config.model.shortcut)
        return runs.RunAddress.of(
            config.runs_dir, stem, config.preset, network, config.seed_everything, config.run_name
        )

    def run_dir(self) -> Path:
        return self.address().path

    @property
    def ckpt_path(self) -> str | None:
        """The checkpoint the command starts from, ``last`` resolved to a file (None: a new run)."""
        return self.config.ckpt_path

    def _model_config(self) -> Namespace:
        model = self.config.model
        return model.get("init_args", model) if "class_path" in model else model

    def _configured_definition(self) -> dict[str, Any]:
        return configured_definition(vars(self._model_config()), self.config.trainer.max_steps)

    # -- parsing: the run prepared from the parsed config alone ------------------------------------------------------

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then prepare the run from the parsed config alone, before LightningCLI dumps it (the model's
        hyper-parameters) or builds anything: resolve ``--ckpt_path``, check the record, resolve ``fastest``."""
        super().parse_arguments(parser, args)
        self.prepare_run()

    def prepare_run(self) -> None:
        """Resolve ``--ckpt_path last`` and the speed settings (``fastest``) before anything is built, so the run's
        config, record and checkpoints hold concrete values; a resumed run keeps the ones it was trained with."""
        run_dir = self.run_dir()
        self.resuming = self._resolve_last(run_dir)
        self._check_overrides()
        record = runs.RunFolder(run_dir).record()  # an unreadable record ends the command here, before any write
        self.saved_definition = self._checkpoint_definition()
        if self.saved_definition and self.command != "fit":  # a fit's RunRecord checks the whole definition
            self._check_checkpoint_network(self.ckpt_path)
        config, model = self.config, self._model_config()
        self.speed = speed.resolve(
            config.trainer.precision,
            model.get("channels_last", False),
            config.trainer.accelerator,
            self.saved_definition,
        )
        if self.speed is not None:
            config.trainer.precision = self.speed.precision
            if "channels_last" in model:
                model.channels_last = self.speed.channels_last
            rank_zero_info(self.speed.line())
        self._refuse_a_finished_resume(run_dir, record)

    def _check_overrides(self) -> None:
        if (self.config.override_lr is not None or self.config.override_precision) and not self.ckpt_path:
            raise ConfigError(
                "--override_lr and --override_precision change a resumed run: add --ckpt_path last (a new run takes "
                "--model.lr and --trainer.precision)"
            )

    def _resolve_last(self, run_dir: Path) -> bool:
        """Turn ``--ckpt_path last`` (or ``hpc``) into this run's newest checkpoint; True when a fit resumes.
        An explicit path must load, or the command ends here with one line."""
        config = self.config
        if config.ckpt_path not in (None, "last", "hpc"):
            check_checkpoint(Path(config.ckpt_path))
        if config.ckpt_path in ("last", "hpc"):
            folder = run_dir / runs.CHECKPOINT_DIR
            found = runs.latest_checkpoint(folder, log=rank_zero_info, hpc_only=config.ckpt_path == "hpc")
            config.ckpt_path = str(found) if found else None
            rank_zero_info(f"Resuming from {found}" if found else f"No checkpoint in {folder}: starting the run.")
        return self.command == "fit" and config.ckpt_path is not None

    def _checkpoint_definition(self) -> dict[str, Any] | None:
        """The run definition saved in the checkpoint this command starts from (read once, memory-mapped)."""
        if not self.ckpt_path:
            return None
        return torch.load(self.ckpt_path, map_location="cpu", weights_only=False, mmap=True).get(runs.DEFINITION_KEY)

    def _check_checkpoint_network(self, ckpt_path: str) -> None:
        """An evaluation builds the network from the command line: it must be the checkpoint's network."""
        network = {f"model.{k}" for k in NETWORK_KEYS}
        saved = {k: v for k, v in (self.saved_definition or {}).items() if k in network}
        differences = runs.definition_differences(saved, self._configured_definition())
        if differences:
            raise ResumeMismatchError(
                f"{ckpt_path} holds another network ({'; '.join(differences)}): pass the config the run was trained "
                "with (its config.yaml), or the checkpoint of this network"
            )

    def _refuse_a_finished_resume(self, run_dir: Path, record: runs.Record) -> None:
        """Resuming a run that has trained to its end changes nothing: say so, and leave its record as it is. (The
        command line must ask for the checkpoint's model and schedule; RunRecord compares the rest.)"""
        same = not runs.definition_differences(self.saved_definition or {}, self._configured_definition())
        if self.command == "fit" and self.resuming and record.done_training and same:
            tested = "and tested" if record.status == runs.Status.FINISHED else "but not tested"
            raise NothingToDo(
                f"{run_dir} has trained to its end ({record.global_step:,} iterations) {tested}: nothing "
                f"to resume. Evaluate it with `{PROG} test ... --ckpt_path last`, or start another with --run_name NAME"
            )

    # -- building: the Trainer in the run's folder -------------------------------------------------------------------

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """The run's folder is opened here, after parsing and before the Trainer exists: the data checked, the folder
        locked (and a finished or foreign run in it protected), then the Trainer built into it."""
        if self.command and os.environ.get("LOCAL_RANK", "0") == "0":  # DDP's other ranks: under rank 0's lock
            self.check_data()
            self.open_run_folder()
        trainer = super().instantiate_trainer(**{**kwargs, **self.trainer_settings()})
        if self.command in (None, "fit"):
            self.connect_record(trainer)
        return trainer

    def check_data(self) -> None:
        """Missing or broken data end the command before the run folder is made."""
        if self.command in ("fit", "validate", "test") and self.datamodule is not None:  # predict: its own images
            self.datamodule.prepare_data()

    def open_run_folder(self) -> None:
        """Lock the run folder for the command (before anything in it is written); a new fit refuses to replace the
        run already there. A folder this command made is removed again if it fails before writing into it."""
        folder = runs.RunFolder(self.run_dir())
        self.new_folder = None if folder.path.exists() else folder
        self.lock = folder.lock()
        if self.command == "fit" and not self.continues_a_run:
            folder.refuse_to_replace(self.config.overwrite)

    @property
    def continues_a_run(self) -> bool:
        """A resumed fit, or an evaluation of a trained run: it continues that run's record and W&B run."""
        return self.resuming or self.command in ("validate", "test", "predict")

    def trainer_settings(self) -> dict[str, Any]:
        """What the Trainer gets from the run, where the config leaves it open: atomic checkpoint writes, the run
        folder as its root, the run's loggers, progress lines in a log, and a config file per command."""
        given = self.config_init.get("trainer") or {}
        settings: dict[str, Any] = {}
        if given.get("plugins") is None:
            settings["plugins"] = [AtomicCheckpointIO()]
        if given.get("default_root_dir") in (None, "", "."):
            settings["default_root_dir"] = str(self.run_dir())
        if given.get("logger") in (None, True) and not self.command:
            settings["logger"] = False  # built for a look only: no W&B id, no metrics file, no folder
        elif given.get("logger") in (None, True):
            job_type = "train" if self.command == "fit" else self.command  # validate, test, predict
            settings["logger"] = make_loggers(
                self.address(), run_tags(self.config), self.config.project, self.continues_a_run, job_type
            )
        if given.get("enable_progress_bar") is None and not sys.stderr.isatty():
            settings["enable_progress_bar"] = False  # in a log, ProgressLines writes a line per logging interval
        if self.command not in (None, "fit"):  # keep the fit's config.yaml as the run's record
            self.save_config_kwargs["config_filename"] = f"{self.command}_config.yaml"
        return settings

    def connect_record(self, trainer: pl.Trainer) -> None:
        """Hand the run record what it checks a resume against (the checkpoint's run definition, compared once the
        DataModule is set up, in the fit's own setup), and the overrides a resumed run asked for."""
        config = self.config
        overriding = config.override_lr is not None or config.override_precision
        saved = self.saved_definition
        for callback in trainer.callbacks:
            if isinstance(callback, RunRecord):
                callback.resuming = bool(self.ckpt_path)  # the record continues: earlier segments' time stays
                callback.speed, callback.address = self.speed, self.address()
                # a checkpoint from before run definitions were saved has nothing to compare against
                callback.resumed = (self.ckpt_path, saved) if self.ckpt_path and saved is not None else None
                callback.keep_precision = bool(config.override_precision)
        if self.ckpt_path and overriding:
            precision = ((saved or {}).get("trainer.precision"), str(trainer.precision))
            changed = precision if config.override_precision and precision[0] != precision[1] else None
            trainer.callbacks.append(ResumeOverrides(config.override_lr, changed))


class DetectionCLI(ResNetCLI):
    """``python -m lightning_resnet detect fit|validate|test|predict``: Faster R-CNN (Tables 7 and 8) with the same run
    folders, records, checkpoints, locks and W&B logging as the classification runs."""

    model_class = ObjectDetector
    prog = f"{PROG} detect"

    def description(self) -> str:
        return f"{self.command or 'fit'} Faster R-CNN with the paper's backbones (Tables 7 and 8)"

    @staticmethod
    def default_callbacks() -> list[pl.Callback]:
        """Checkpoints, the LR curve and progress lines; Figure 7's responses and class predictions do not apply."""
        callbacks = [LastCheckpoint(), InterruptCheckpoint(), LearningRateMonitor(logging_interval="step")]
        return [*callbacks, WandbLineage()] if sys.stderr.isatty() else [*callbacks, WandbLineage(), ProgressLines()]
