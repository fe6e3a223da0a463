"""Where a run lives and what it is called: ``<runs_dir>/<group>/<name>/``.

``group`` is the experiment folder, ``<experiment>[-<preset>]`` (``cifar10-smoke``, ``table6``), and ``name`` is
``<network>-s<seed>`` (``resnet56-s0``, ``resnet34-B-s1``) unless the user chose one. The same address names the run
on disk, in ``reproduce``'s plans, on the report pages and in W&B (its group and display name), so nothing parses a
folder name back into facts. This module is the only place that builds these names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNS_DIR_ENV = "LIGHTNING_RESNET_RUNS"
CONFIG_FILE = "config.yaml"
RECORD_FILE = "run.json"
METRICS_FILE = "metrics.csv"
RESPONSES_FILE = "layer_responses.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
INTERRUPT_CHECKPOINT = "interrupted.ckpt"
# The small files that record a run: committed beside the reports made from them (never checkpoints or W&B folders)
RECORD_FILES = (CONFIG_FILE, RECORD_FILE, METRICS_FILE, RESPONSES_FILE)


def runs_root() -> Path:
    """Where every command keeps its run folders unless given ``--runs_dir``: ``$LIGHTNING_RESNET_RUNS``, else
    ``./runs``. Point it outside a checkout that is replaced between working periods (a CI workspace, a job's fresh
    clone), so that checkpoints outlive the checkout and interrupted runs resume."""
    return Path(os.environ.get(RUNS_DIR_ENV) or "runs").expanduser()


RUNS_DIR_HELP = f"root of all run folders (default: ${RUNS_DIR_ENV}, else ./runs)"
_RUN_NAME = re.compile(r"^(?P<network>.+)-s(?P<seed>\d+)$")


def network_name(arch: str, shortcut: str | None = None) -> str:
    """``resnet34`` + ``B`` -> ``resnet34-B``; no shortcut option -> the bare architecture."""
    return f"{arch}-{shortcut}" if shortcut else arch


def split_network(network: str) -> tuple[str, str | None]:
    """``resnet34-B`` -> (``resnet34``, ``B``); ``resnet56`` -> (``resnet56``, None)."""
    arch, _, shortcut = network.partition("-")
    return arch, shortcut or None


def run_name(network: str, seed: int) -> str:
    """``resnet56-s0``, ``resnet34-B-s1``."""
    return f"{network}-s{seed}"


def parse_run_name(name: str) -> tuple[str, int]:
    """The inverse of :func:`run_name`: (network, seed). For names this suite wrote (an ensemble's members)."""
    match = _RUN_NAME.match(name)
    if not match:
        raise ValueError(f"{name!r} is not a run name of the form <network>-s<seed>")
    return match["network"], int(match["seed"])


def experiment_folder(experiment: str, preset: str | None = None) -> str:
    """``cifar10`` with preset ``smoke`` -> ``cifar10-smoke``: runs of different presets never share a folder."""
    return f"{experiment}-{preset}" if preset else experiment


@dataclass(frozen=True)
class RunAddress:
    """A run's place: ``runs_dir / group / name``, and the names it goes by everywhere else."""

    runs_dir: Path
    group: str
    name: str

    @classmethod
    def of(
        cls, runs_dir: str | Path, experiment: str, preset: str | None, network: str, seed: int, name: str | None = None
    ) -> RunAddress:
        """The address of ``network`` at ``seed`` in ``experiment``'s folder for ``preset`` (or the user's ``name``)."""
        return cls(Path(runs_dir), experiment_folder(experiment, preset), name or run_name(network, seed))

    @property
    def path(self) -> Path:
        return self.runs_dir / self.group / self.name

    @property
    def display_name(self) -> str:
        """The W&B display name: unique in a project, where run names repeat from group to group."""
        return f"{self.group}/{self.name}"


def tracking_keys(address: RunAddress, network: str, shortcut: str | None, preset: str | None, seed: int) -> dict:
    """The top-level keys every run logs to W&B for Reports to group and filter by (``Config('network')``, ...)."""
    keys: dict[str, Any] = {"group": address.group, "network": network, "shortcut": shortcut}
    return {**keys, "preset": preset, "seed": seed}
