"""``fit``, ``validate``, ``test`` and ``predict``: what each command does with the run :class:`ResNetCLI` built,
top to bottom, as Lightning's own ``run=False`` examples read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import WandbLogger

from .. import runs
from ..compat import started_experiment
from ..errors import ConfigError
from ..tracking import offline_segments
from .lightning_cli import PROG, ResNetCLI

MAP_NAMES = ("map_50", "map")  # detection results, in percent: VOC's mAP / COCO's mAP@.5, COCO's mAP@[.5, .95]


def fit(cli: ResNetCLI) -> None:
    """Train (resuming from ``--ckpt_path``), then test the final weights unless told not to or interrupted."""
    watch_network(cli)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.ckpt_path)
    trainer = cli.trainer
    if cli.config.test_after_fit and not trainer.fast_dev_run and not trainer.interrupted:
        trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    finish(cli)


def validate(cli: ResNetCLI) -> None:
    cli.trainer.validate(cli.model, datamodule=cli.datamodule, ckpt_path=cli.ckpt_path)
    finish(cli)


def test(cli: ResNetCLI) -> None:
    cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=cli.ckpt_path)
    finish(cli)


def predict(cli: ResNetCLI) -> None:
    """Class probabilities into the run's ``predictions.csv`` (:class:`PredictionWriter`), not into memory."""
    cli.trainer.predict(cli.model, datamodule=cli.datamodule, ckpt_path=cli.ckpt_path, return_predictions=False)
    finish(cli)


COMMANDS: dict[str, Callable[[ResNetCLI], None]] = {"fit": fit, "validate": validate, "test": test, "predict": predict}


def run_command(args: list[str], cli_class: type[ResNetCLI] = ResNetCLI, **cli_kwargs: Any) -> ResNetCLI:
    """``<command> [options]``: parse and build the run, run the command, release the run folder."""
    command, *options = args or [""]
    if command not in COMMANDS:
        given = f"unknown command {command!r}" if command else "no command given"
        raise ConfigError(f"{given}: use one of {', '.join(COMMANDS)} (see `{PROG} --help`)")
    cli = cli_class(args=options, command=command, **cli_kwargs)
    try:
        COMMANDS[command](cli)
    except BaseException:
        cli.close(failed=True)  # a folder this command made and never wrote into is removed again
        raise
    cli.close()
    return cli


def watch_network(cli: ResNetCLI) -> None:
    """``--wandb_watch``: W&B's gradient/parameter histograms of the network."""
    watch = cli.config.wandb_watch
    for logger in cli.trainer.loggers if watch else []:
        if isinstance(logger, WandbLogger):
            logger.watch(getattr(cli.model, "net", cli.model), log=watch, log_freq=cli.trainer.log_every_n_steps)


def finish(cli: ResNetCLI) -> None:
    """Close the W&B run, then print the run's result."""
    for logger in cli.trainer.loggers:
        if isinstance(logger, WandbLogger) and started_experiment(logger) is not None:
            logger.experiment.finish()
    if cli.trainer.is_global_zero and not cli.trainer.fast_dev_run:
        print(summary(Path(cli.trainer.default_root_dir)), flush=True)


def summary(folder: Path) -> str:
    """The run's result on screen: its folder, iterations, training time, final errors, how to upload it."""
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
    return "\n".join(lines)
