"""``python -m lightning_resnet fit|validate|test|predict`` (LightningCLI) and ``reproduce``, ``report``, ``sync``.

Every run has a folder ``<runs_dir>/<experiment>[-<preset>]/<run_name>/`` (:mod:`lightning_resnet.runs`) holding
its resolved config (``config.yaml``), its record (``run.json``), its metrics (``metrics.csv``), its W&B run
(``wandb/``), its Figure 7 statistics (``layer_responses.csv``) and its checkpoints. Running the same command again
with ``--ckpt_path last`` resumes it from the newest checkpoint that loads, if its experiment is the same; a new
``fit`` never replaces a run unless told to. After ``fit``, the final weights are tested on the test set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from jsonargparse import Namespace, set_parsing_settings
from lightning_fabric.plugins.precision.precision import _PRECISION_INPUT
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import MisconfigurationException, SIGTERMException

from . import runs, speed
from .callbacks import InterruptCheckpoint, LayerResponses, RunRecord
from .callbacks.checkpointing import AtomicCheckpointIO, LastCheckpoint
from .callbacks.lineage import WandbLineage
from .callbacks.overrides import ResumeOverrides
from .callbacks.predictions import PredictionWriter
from .callbacks.progress import ProgressLines
from .callbacks.run_record import ResumeMismatchError, configured_definition
from .compat import CommandLineOverCheckpoint, started_experiment
from .detection import ObjectDetector
from .errors import ConfigError, MissingFileError, UserError
from .lifeline import watch_parent
from .models import list_models, model_entry
from .module import ImageClassifier
from .paper import SPECS, folder_stem, spec_for
from .release import export_command
from .reporting import build_report
from .reporting.wandb_report import build_wandb_report, figure_keys, log_figures, report_json, repository_page_url
from .reproduce import reproduce_command
from .tracking import DEFAULT_PROJECT, make_loggers, offline_segments, wandb_logged_in, wandb_mode
from .wandb_sync import sync_command

PROG = "python -m lightning_resnet"
DRY_RUN_ENTITY = "your-entity"  # a dry-run Report's entity when --entity and $WANDB_ENTITY are not set
NETWORK_KEYS = ("arch", "shortcut", "stride_on_3x3")  # what an evaluation's network must share with its checkpoint
MAP_NAMES = ("map_50", "map")  # detection results, in percent: VOC's mAP / COCO's mAP@.5, COCO's mAP@[.5, .95]


class _NoAdvertisements(logging.Filter):
    """Drop Lightning's "Tip: try installing ..." lines: they are not about this run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


set_parsing_settings(add_print_completion_argument=True)  # --print_completion shtab-bash|shtab-zsh|...


def quiet() -> None:
    """No tip, deprecation or no-effect lines caused by the project's own settings (its data stream has a length
    by design; Lightning's pytree deprecation is Lightning's own)."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdvertisements())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")


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


class ResNetCLI(CommandLineOverCheckpoint, LightningCLI):
    """LightningCLI for :class:`ImageClassifier` with any LightningDataModule, plus the run layout and records."""

    model_class: type[pl.LightningModule] = ImageClassifier

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault("save_config_callback", RunRecord)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})  # a resumed run re-saves the same config
        kwargs.setdefault("trainer_defaults", {"callbacks": self.default_callbacks()})
        kwargs.setdefault("trainer_class", Trainer)
        kwargs.setdefault("auto_configure_optimizers", False)
        kwargs.setdefault(
            "parser_kwargs", {"prog": PROG, "description": __doc__.split("\n")[0]}
        )  # the module owns the paper's optimizer and schedule
        self.lock: runs.RunLock | None = None
        self.resuming, self.saved_definition, self.speed = False, None, None
        self.new_folder: runs.RunFolder | None = None  # the run folder, when this command made it
        try:
            super().__init__(self.model_class, pl.LightningDataModule, *args, subclass_mode_data=True, **kwargs)
        except BaseException:
            if self.new_folder is not None:  # failed before anything of a run was written: leave no folder behind
                self.new_folder.remove_if_empty()
            raise
        finally:
            if self.lock is not None:  # the command is over (with run=False: the CLI is built)
                self.lock.release()

    @staticmethod
    def default_callbacks() -> list[pl.Callback]:
        return default_callbacks()

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # the DataModule owns its number of classes; the model is built for it
        parser.link_arguments(
            "data", "model.num_classes", compute_fn=lambda data: data.num_classes, apply_on="instantiate"
        )
        parser.add_argument("--experiment", type=str, default="default", help="table or figure id; the W&B group")
        parser.add_argument(
            "--preset",
            type=str | None,
            default=None,
            help="the preset's name (smoke, short, paper, ...): runs/<experiment>-<preset>/",
        )
        parser.add_argument("--run_name", type=str | None, default=None, help="default: <arch>[-<shortcut>]-s<seed>")
        parser.add_argument("--runs_dir", type=str, default="runs", help="root of all run directories")
        parser.add_argument("--project", type=str, default=DEFAULT_PROJECT, help="W&B project")
        parser.add_argument("--tags", type=list[str], default=[], help="extra W&B tags")
        parser.add_argument(
            "--wandb_watch",
            type=str | None,
            default=None,
            help="W&B watch of the network: gradients, parameters or all",
        )
        parser.add_argument("--overwrite", type=bool, default=False, help="let a new fit replace the run in its folder")
        parser.add_argument(
            "--override_lr",
            type=float | None,
            default=None,
            help="with --ckpt_path: continue the run at this LR (e.g. lower, after a NaN); recorded in run.json",
        )
        parser.add_argument(
            "--override_precision",
            type=bool,
            default=False,
            help="with --ckpt_path: accept a trainer.precision other than the checkpoint's; recorded in run.json",
        )
        parser.add_argument("--test_after_fit", type=bool, default=True, help="test the final weights after fit")

    def _command(self) -> str | None:
        """The subcommand (``fit``, ...), known from the parsed config before LightningCLI sets ``subcommand``."""
        return self.config.get("subcommand")

    def _subconfig(self) -> Namespace:
        return self.config[self._command()] if self._command() else self.config

    def _subconfig_init(self) -> Namespace:
        return self.config_init[self.subcommand] if self.subcommand else self.config_init

    def address(self) -> runs.RunAddress:
        """Where this command's run lives: a paper id at a preset in its pool's folder, the one ``reproduce`` and
        ``report`` use (:func:`~lightning_resnet.paper.folder_stem`)."""
        config = self._subconfig()
        stem = folder_stem(config.experiment, config.preset)
        network = runs.network_name(config.model.arch, config.model.shortcut)
        return runs.RunAddress.of(
            config.runs_dir, stem, config.preset, network, config.seed_everything, config.run_name
        )

    def run_dir(self) -> Path:
        return self.address().path

    def _model_config(self) -> Namespace:
        model = self._subconfig().model
        return model.get("init_args", model) if "class_path" in model else model

    def _configured_definition(self) -> dict[str, Any]:
        return configured_definition(vars(self._model_config()), self._subconfig().trainer.max_steps)

    def _resolve_last(self, run_dir: Path) -> bool:
        """Turn ``--ckpt_path last`` (or ``hpc``) into this run's newest checkpoint; True when a fit resumes.
        An explicit path must load, or the command ends here with one line."""
        if not self._command():
            return False
        config = self._subconfig()
        if config.get("ckpt_path") not in (None, "last", "hpc"):
            check_checkpoint(Path(config.ckpt_path))
        if config.get("ckpt_path") in ("last", "hpc"):
            folder = run_dir / runs.CHECKPOINT_DIR
            found = runs.latest_checkpoint(folder, log=rank_zero_info, hpc_only=config.get("ckpt_path") == "hpc")
            config["ckpt_path"] = str(found) if found else None
            rank_zero_info(f"Resuming from {found}" if found else f"No checkpoint in {folder}: starting the run.")
        return self._command() == "fit" and config.get("ckpt_path") is not None

    def _refuse_a_finished_resume(self, run_dir: Path, record: runs.Record) -> None:
        """Resuming a run that has trained to its end changes nothing: say so, and leave its record as it is. (The
        command line must ask for the checkpoint's model and schedule; RunRecord compares the rest.)"""
        same = not runs.definition_differences(self.saved_definition or {}, self._configured_definition())
        if self._command() == "fit" and self.resuming and record.done_training and same:
            tested = "and tested" if record.status == runs.Status.FINISHED else "but not tested"
            raise NothingToDo(
                f"{run_dir} has trained to its end ({record.global_step:,} iterations) {tested}: nothing "
                f"to resume. Evaluate it with `{PROG} test ... --ckpt_path last`, or start another with --run_name NAME"
            )

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

    def _checkpoint_definition(self) -> dict[str, Any] | None:
        """The run definition saved in the checkpoint this command starts from (read once, memory-mapped)."""
        ckpt_path = self._subconfig().get("ckpt_path") if self._command() else None
        if not ckpt_path:
            return None
        return torch.load(ckpt_path, map_location="cpu", weights_only=False, mmap=True).get(runs.DEFINITION_KEY)

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
        record = runs.RunFolder(run_dir).record()  # an unreadable record ends the command here, before any write
        self.saved_definition = self._checkpoint_definition()
        if self.saved_definition and self._command() != "fit":  # a fit's RunRecord checks the whole definition
            self._check_checkpoint_network(self._subconfig().ckpt_path)
        config, model = self._subconfig(), self._model_config()
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

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """The run's folder is opened here, after parsing and before the Trainer exists: the data checked, the folder
        locked (and a finished or foreign run in it protected), then the Trainer built into it."""
        if os.environ.get("LOCAL_RANK", "0") == "0":  # DDP's other ranks run under rank 0's lock and checks
            self.check_data()
            self.open_run_folder()
        return super().instantiate_trainer(**{**kwargs, **self.trainer_settings()})

    def check_data(self) -> None:
        """Missing or broken data end the command before the run folder is made."""
        if self.subcommand in ("fit", "validate", "test") and self.datamodule is not None:
            self.datamodule.prepare_data()

    def open_run_folder(self) -> None:
        """Lock the run folder for the command (before anything in it is written); a new fit refuses to replace the
        run already there. A folder this command made is removed again if it fails before writing into it."""
        folder = runs.RunFolder(self.run_dir())
        self.new_folder = None if folder.path.exists() else folder
        self.lock = folder.lock()
        if self.subcommand == "fit" and not self.continues_a_run:
            folder.refuse_to_replace(self._subconfig().overwrite)

    @property
    def continues_a_run(self) -> bool:
        """A resumed fit, or an evaluation of a trained run: it continues that run's record and W&B run."""
        return self.resuming or self.subcommand in ("validate", "test", "predict")

    def trainer_settings(self) -> dict[str, Any]:
        """What the Trainer gets from the run, where the config leaves it open: atomic checkpoint writes, the run
        folder as its root, the run's loggers, progress lines in a log, and a config file per command."""
        given = self._subconfig_init().get("trainer") or {}
        settings: dict[str, Any] = {}
        if given.get("plugins") is None:
            settings["plugins"] = [AtomicCheckpointIO()]
        if given.get("default_root_dir") in (None, "", "."):
            settings["default_root_dir"] = str(self.run_dir())
        if given.get("logger") in (None, True):
            config = self._subconfig()
            job_type = "train" if self.subcommand in (None, "fit") else self.subcommand  # validate, test, predict
            settings["logger"] = make_loggers(
                self.address(), run_tags(config), config.project, self.continues_a_run, job_type
            )
        if given.get("enable_progress_bar") is None and not sys.stderr.isatty():
            settings["enable_progress_bar"] = False  # in a log, ProgressLines writes a line per logging interval
        if self.subcommand and self.subcommand != "fit":  # keep the fit's config.yaml as the run's record
            self.save_config_kwargs["config_filename"] = f"{self.subcommand}_config.yaml"
        return settings

    def before_fit(self) -> None:
        """Watch the network in W&B if asked; hand the run record what it checks a resume against (the checkpoint's
        run definition, compared once the DataModule is set up, in the fit's own setup)."""
        watch = self._subconfig().get("wandb_watch")
        for logger in self.trainer.loggers if watch else []:
            if isinstance(logger, WandbLogger):
                logger.watch(getattr(self.model, "net", self.model), log=watch, log_freq=self.trainer.log_every_n_steps)
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path")
        config = self._subconfig()
        overriding = config.get("override_lr") is not None or config.get("override_precision")
        if overriding and not ckpt_path:
            raise ConfigError(
                "--override_lr and --override_precision change a resumed run: add --ckpt_path last (a new run takes "
                "--model.lr and --trainer.precision)"
            )
        saved = self.saved_definition
        for callback in self.trainer.callbacks:
            if isinstance(callback, RunRecord):
                callback.resuming = bool(ckpt_path)  # the record continues: earlier segments' time and changes stay
                callback.speed, callback.address = self.speed, self.address()
                # a checkpoint from before run definitions were saved has nothing to compare against
                callback.resumed = (ckpt_path, saved) if ckpt_path and saved is not None else None
                callback.keep_precision = bool(config.get("override_precision"))
        if ckpt_path and overriding:
            precision = ((saved or {}).get("trainer.precision"), str(self.trainer.precision))
            changed = precision if config.get("override_precision") and precision[0] != precision[1] else None
            self.trainer.callbacks.append(ResumeOverrides(config.get("override_lr"), changed))

    def after_fit(self) -> None:
        if self._subconfig().test_after_fit and not self.trainer.fast_dev_run and not self.trainer.interrupted:
            self.trainer.test(self.model, datamodule=self.datamodule, verbose=False)
        self._finish_wandb()
        self._summary()

    def after_validate(self) -> None:
        self._finish_wandb()
        self._summary()

    def _summary(self) -> None:
        """The run's result on screen: its folder, iterations, training time, final errors, how to upload it."""
        if not self.trainer.is_global_zero or self.trainer.fast_dev_run:
            return
        folder = Path(self.trainer.default_root_dir)
        record = runs.RunFolder(folder).record()
        lines = [f"run:        {folder}"]
        if record:
            minutes = record.train_seconds / 60
            lines.append(f"iterations: {record.global_step:,} of {record.max_steps:,} in {minutes:.1f} min")
        final = record.final
        for stage in ("val", "test", "test/ten_crop", "test/multiscale"):
            errors = [f"top-{k} {final[key]:.2f}%" for k in (1, 5) if (key := f"{stage}/top{k}_error") in final]
            if errors:
                lines.append(f"{(stage + ' error:').ljust(12)}{', '.join(errors)}")
            maps = [f"{name} {final[key]:.1f}%" for name in MAP_NAMES if (key := f"{stage}/{name}") in final]
            if maps:
                lines.append(f"{(stage + ' mAP:').ljust(12)}{', '.join(maps)}")
        if offline_segments(folder):
            lines.append(f"W&B:        offline; upload with `{PROG} sync {folder}`")
        print("\n".join(lines), flush=True)

    after_test = after_predict = after_validate

    def _finish_wandb(self) -> None:
        for logger in self.trainer.loggers:
            if isinstance(logger, WandbLogger) and started_experiment(logger) is not None:
                logger.experiment.finish()


class DetectionCLI(ResNetCLI):
    """``python -m lightning_resnet detect fit|validate|test|predict``: Faster R-CNN (Tables 7 and 8) with the same run
    folders, records, checkpoints, locks and W&B logging as the classification runs."""

    model_class = ObjectDetector

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parser_kwargs", {"prog": f"{PROG} detect", "description": self.__doc__.split("\n")[0]})
        super().__init__(*args, **kwargs)

    @staticmethod
    def default_callbacks() -> list[pl.Callback]:
        """Checkpoints, the LR curve and progress lines; Figure 7's responses and class predictions do not apply."""
        callbacks = [LastCheckpoint(), InterruptCheckpoint(), LearningRateMonitor(logging_interval="step")]
        return [*callbacks, WandbLineage()] if sys.stderr.isatty() else [*callbacks, WandbLineage(), ProgressLines()]


def report_command(argv: list[str]) -> None:
    """``python -m lightning_resnet report <id>``: the Markdown report, and the W&B Report when online."""
    parser = argparse.ArgumentParser(prog="python -m lightning_resnet report", description=report_command.__doc__)
    parser.add_argument("id", help=f"table/figure id ({', '.join(SPECS)}, or any experiment name)")
    parser.add_argument("--runs_dir", default="runs", type=Path)
    parser.add_argument("--reports_dir", default="reports", type=Path)
    parser.add_argument("--wandb", action="store_true", help="also save a W&B Report (default: when logged in to W&B)")
    parser.add_argument(
        "--entity", default=os.environ.get("WANDB_ENTITY"), help="W&B entity (default: $WANDB_ENTITY or your default)"
    )
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--preset", default=None, help="report the shared runs of `reproduce --preset` (smoke, paper)")
    parser.add_argument(
        "--page_url", default=None, help="where the W&B Report links to the Markdown page (default: the git remote)"
    )
    parser.add_argument(
        "--wandb_dry_run",
        action="store_true",
        help="write the W&B Report it would save as JSON (<reports_dir>/<page>.wandb-report.json); needs no server",
    )
    options = parser.parse_args(argv)
    page, used = build_report(options.id, options.runs_dir, options.reports_dir, preset=options.preset)
    print(f"wrote {page} from {len(used)} runs")
    if options.wandb_dry_run:
        report = build_wandb_report(
            spec_for(options.id),
            used,
            entity=options.entity or DRY_RUN_ENTITY,
            project=options.project,
            preset=options.preset,
            page_url=options.page_url or repository_page_url(page),
            figures=list(figure_keys(page)),
        )
        target = page.with_suffix(".wandb-report.json")
        runs.write_atomically(target, lambda f: f.write(report_json(report).encode()), kind="W&B Report")
        print(f"wrote {target} (the W&B Report it would save; nothing was uploaded)")
        return
    if not (options.wandb or wandb_mode() == "online"):
        return
    if not wandb_logged_in():
        raise ConfigError(
            "a W&B Report needs a W&B login (run `wandb login`, then `python -m lightning_resnet sync` the offline "
            "runs); the Markdown "
            "report was written"
        )
    import wandb

    entity = options.entity or wandb.Api().default_entity
    figures = log_figures(page, entity, options.project, options.runs_dir)  # W&B's local files go beside the runs
    report = build_wandb_report(
        spec_for(options.id),
        used,
        entity=entity,
        project=options.project,
        preset=options.preset,
        page_url=options.page_url or repository_page_url(page),
        figures=figures,
    )
    report.save()
    print(f"saved W&B Report {report.url}")


# what a user can fix ends with one line that says what to do; everything else keeps its traceback
USER_ERRORS = (UserError, MisconfigurationException)
OVERVIEW = f"""usage: {PROG} <command> [options]     (also installed as `lightning-resnet`)

The networks and experiments of He et al., "Deep Residual Learning for Image Recognition" (2015).

commands:
  fit        train a network with a config (LightningCLI; then tests the final weights)
  validate   evaluate a trained run on the validation split
  test       evaluate a trained run on the test set (or ImageNet's validation images, by protocol)
  predict    class probabilities of a trained run's test images or your own (predictions.csv in the run)
  detect     fit|validate|test|predict Faster R-CNN with the paper's backbones (Tables 7 and 8)
  reproduce  train every run a table or figure needs (skipping finished ones), then write its report
  report     write reports/<id>.md (and a W&B Report when logged in) from run records
  sync       upload offline W&B runs, each interrupted-and-resumed run as one W&B run
  export     a finished paper-preset run as a released weights file (weights/) and its manifest entry

examples:
  {PROG} fit --config reproductions/table6.yaml --config reproductions/presets/smoke.yaml
  {PROG} fit --config reproductions/table6.yaml --ckpt_path last        # resume the same run
  {PROG} reproduce table6 --preset paper --networks resnet20 --dry_run
  {PROG} report fig1 --preset smoke

`{PROG} <command> --help` describes a command and its options;
`{PROG} --print_completion shtab-bash` (or shtab-zsh, shtab-fish) prints shell completion."""


def main(args: list[str] | None = None) -> None:
    """Console entry point; user errors (unknown model, missing data) end with one clear line, not a traceback."""
    argv = sys.argv[1:] if args is None else args
    quiet()
    watch_parent()  # started by `reproduce` off Linux: stop when it does
    if not argv or argv[0] in ("-h", "--help"):
        print(OVERVIEW)
        return
    try:
        if argv and argv[0] == "report":
            report_command(argv[1:])
        elif argv and argv[0] == "reproduce":
            reproduce_command(argv[1:])
        elif argv and argv[0] == "sync":
            sync_command(argv[1:])
        elif argv and argv[0] == "export":
            export_command(argv[1:])
        elif argv and argv[0] == "detect":
            # sys.argv stays whole: Lightning's DDP launcher starts the other ranks with it
            warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
            DetectionCLI(args=argv[1:])
        else:
            ResNetCLI(args=args)
    except NothingToDo as done:
        print(f"lightning-resnet: {done}", file=sys.stderr)
    except USER_ERRORS as err:
        print(f"lightning-resnet: error: {err}", file=sys.stderr)
        sys.exit(2)
    except SIGTERMException:  # preemption is not success: Lightning would exit 0
        print(
            "lightning-resnet: stopped by SIGTERM; the run saved interrupted.ckpt: run the same command with "
            "--ckpt_path last to resume it",
            file=sys.stderr,
        )
        sys.exit(143)
