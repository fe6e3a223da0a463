"""The console entry point: ``python -m lightning_resnet <command>`` (also installed as ``lightning-resnet``)."""

from __future__ import annotations

import logging
import sys
import warnings

from jsonargparse import set_parsing_settings
from pytorch_lightning.utilities.exceptions import MisconfigurationException, SIGTERMException

from ..errors import ConfigError, UserError
from ..lifeline import watch_parent
from ..release import export_command
from ..reproduce import reproduce_command
from ..wandb_sync import sync_command
from .commands import COMMANDS, run_command
from .lightning_cli import PROG, DetectionCLI, NothingToDo
from .report import report_command

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
`{PROG} fit --print_completion shtab-bash` (or shtab-zsh, shtab-fish) prints shell completion."""

OTHER_COMMANDS = {
    "report": report_command,
    "reproduce": reproduce_command,
    "sync": sync_command,
    "export": export_command,
}


class _NoAdvertisements(logging.Filter):
    """Drop Lightning's "Tip: try installing ..." lines: they are not about this run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def quiet() -> None:
    """No tip, deprecation or no-effect lines caused by the project's own settings (its data stream has a length
    by design; Lightning's pytree deprecation is Lightning's own; the CLI is given its arguments by design; under
    mixed precision the parameters are fp32, the 32 bits the model summary falls back to)."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdvertisements())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
    warnings.filterwarnings("ignore", message=r"Precision .*-mixed is not supported by the model summary")
    # sys.argv stays whole (Lightning's DDP launcher starts the other ranks with it); the CLI gets the command's part
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")


def main(args: list[str] | None = None) -> None:
    """Console entry point; user errors (unknown model, missing data) end with one clear line, not a traceback."""
    argv = sys.argv[1:] if args is None else args
    quiet()
    set_parsing_settings(add_print_completion_argument=True)  # --print_completion shtab-bash|shtab-zsh|...
    watch_parent()  # started by `reproduce` off Linux: stop when it does
    if not argv or argv[0] in ("-h", "--help"):
        print(OVERVIEW)
        return
    try:
        if argv[0] in OTHER_COMMANDS:
            OTHER_COMMANDS[argv[0]](argv[1:])
        elif argv[0] == "detect":
            run_command(argv[1:], DetectionCLI)
        elif argv[0] in COMMANDS:
            run_command(argv)
        else:
            every = ", ".join([*COMMANDS, "detect", *OTHER_COMMANDS])
            raise ConfigError(f"unknown command {argv[0]!r}: use one of {every} (see `{PROG} --help`)")
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
