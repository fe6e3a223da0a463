"""``python -m lightning_resnet fit|validate|test|predict|detect`` (LightningCLI) and ``reproduce``, ``report``,
``sync``, ``export``.

- :mod:`.lightning_cli`: :class:`ResNetCLI`, one command's run parsed, prepared and built (``run=False``);
- :mod:`.commands`: what ``fit``, ``validate``, ``test`` and ``predict`` do with it, top to bottom;
- :mod:`.report`: ``report``; :mod:`.entry`: ``main``, the console entry point.
"""

from .commands import COMMANDS, fit, predict, run_command, summary, test, validate
from .entry import USER_ERRORS, main
from .lightning_cli import PROG, DetectionCLI, NothingToDo, ResNetCLI, Trainer, check_checkpoint, default_callbacks

__all__ = [
    "COMMANDS",
    "PROG",
    "USER_ERRORS",
    "DetectionCLI",
    "NothingToDo",
    "ResNetCLI",
    "Trainer",
    "check_checkpoint",
    "default_callbacks",
    "fit",
    "main",
    "predict",
    "run_command",
    "summary",
    "test",
    "validate",
]
