"""The run directory: where a run lives, what its files are called, what defines it, where to resume it.

A run is ``<runs_dir>/<experiment>[-<preset>]/<network>-s<seed>/``, where ``network`` is the model name with
its shortcut option when one was chosen (``resnet56``, ``resnet34-B``). It holds ``config.yaml``, ``run.json``,
``metrics.csv``, ``layer_responses.csv``, ``wandb/`` and ``checkpoints/``. This module is the only place that
builds or parses these names.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from statistics import mean, stdev
from typing import IO, Any

from .errors import RecordError, UserError
from .models import list_models, model_entry

CONFIG_FILE = "config.yaml"
RECORD_FILE = "run.json"
METRICS_FILE = "metrics.csv"
RESPONSES_FILE = "layer_responses.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
INTERRUPT_CHECKPOINT = "interrupted.ckpt"
DEFINITION_KEY = "run_definition"  # the checkpoint entry a resume is compared against
# The small files that record a run: committed beside the reports made from them (never checkpoints or W&B folders)
RECORD_FILES = (CONFIG_FILE, RECORD_FILE, METRICS_FILE, RESPONSES_FILE)

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
    """The inverse of :func:`run_name`: (network, seed)."""
    match = _RUN_NAME.match(name)
    if not match:
        raise ValueError(f"{name!r} is not a run name of the form <network>-s<seed>")
    return match["network"], int(match["seed"])


def experiment_folder(experiment: str, preset: str | None = None) -> str:
    """``table6`` with preset ``smoke`` -> ``table6-smoke``: runs of different presets never share a folder."""
    return f"{experiment}-{preset}" if preset else experiment


def tracking_keys(experiment: str, preset: str | None, arch: str, shortcut: str | None, seed: int) -> dict[str, Any]:
    """The top-level keys every run logs to W&B for Reports to group and filter by (``Config('network')``, ...)."""
    return {
        "group": experiment_folder(experiment, preset),  # the folder of shared runs, e.g. cifar10-smoke
        "network": network_name(arch, shortcut),
        "shortcut": shortcut,
        "preset": preset,
        "seed": seed,
    }


def run_dir(runs_dir: str | Path, experiment: str, preset: str | None, name: str) -> Path:
    return Path(runs_dir) / experiment_folder(experiment, preset) / name


class Status(str, Enum):
    """The state ``run.json`` records (a ``str``, so records stay plain JSON and compare with strings)."""

    RUNNING = "running"  # a command is training it now (or was killed without a trace: its lock is free)
    INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM): resumable from interrupted.ckpt
    FAILED = "failed"  # an error stopped it; ``reason`` says which
    STOPPED = "stopped"  # training ended before max_steps without an error (a time limit, an early stop)
    TRAINED = "trained"  # trained to max_steps, not tested yet
    FINISHED = "finished"  # trained and tested

    @property
    def done_training(self) -> bool:
        return self in (Status.TRAINED, Status.FINISHED)


def status_of(record: dict[str, Any]) -> Status | None:
    """A record's :class:`Status`; None for a run that has not started (no record)."""
    return Status(record["status"]) if record.get("status") else None


class RunWriteError(UserError, OSError):
    """A file of a run could not be written (disk full, read-only folder); the previous version is intact."""


def write_atomically(
    path: str | Path, write: Callable[[IO[bytes]], None], advice: str = "then run again", kind: str = "file"
) -> None:
    """Write ``path`` through a temporary file in the same folder, flushed to disk and renamed over the old file, so
    a kill or a full disk never leaves it half-written. A failure is one :class:`RunWriteError` line naming the path,
    the cause and ``advice``; ``kind`` says what the file is."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, target)
    except (OSError, RuntimeError) as err:  # torch.save reports a failed write as a RuntimeError
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        cause = err if isinstance(err, OSError) else err.__context__ or err
        reason = getattr(cause, "strerror", None) or str(cause)
        raise RunWriteError(
            f"cannot write {kind} {target} ({reason}); free space or make the folder writable, {advice}"
        ) from err


def write_record(folder: str | Path, record: dict[str, Any]) -> None:
    """``run.json``, written atomically."""
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    write_atomically(Path(folder) / RECORD_FILE, lambda f: f.write(text.encode()))


def read_record(folder: str | Path) -> dict[str, Any]:
    """A run's ``run.json`` (empty when it has none); one that does not parse is a :class:`RecordError` naming it."""
    path = Path(folder) / RECORD_FILE
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(
            f"{path} is not a readable run record ({err}): restore it from a copy (reports/records/ holds the "
            "committed ones), or move it aside to continue the run without its recorded time"
        ) from None
    if not isinstance(record, dict):
        raise RecordError(f"{path} is not a run record (a JSON object): restore it from a copy, or move it aside")
    return record


def export_record(run_dir: str | Path, records_dir: str | Path) -> Path:
    """Copy a run's :data:`RECORD_FILES` to ``records_dir/<experiment folder>/<run name>/``; returns that folder."""
    run_dir = Path(run_dir)
    target = Path(records_dir) / run_dir.parent.name / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES:
        if (run_dir / name).is_file() and (run_dir / name).resolve() != (target / name).resolve():
            shutil.copyfile(run_dir / name, target / name)
    return target


def checkpoint_loads(path: Path) -> bool:
    """Whether ``path`` is a complete checkpoint (a truncated or empty file from a full disk or a kill is not)."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        return True
    except Exception:  # noqa: BLE001 - any unreadable file is skipped, and said so
        return False


def latest_checkpoint(folder: str | Path, log=print, hpc_only: bool = False) -> Path | None:
    """The newest checkpoint of a run that loads, if any: ``last.ckpt`` and ``interrupted.ckpt`` in its checkpoint
    folder, or the ``hpc_ckpt_<n>.ckpt`` Lightning saves in the run folder when SLURM preempts and requeues a job
    (``hpc_only``: those alone, Lightning's ``--ckpt_path hpc``); the ones skipped are named through ``log``."""
    folder = Path(folder)
    candidates = (
        [] if hpc_only else [p for p in (folder / LAST_CHECKPOINT, folder / INTERRUPT_CHECKPOINT) if p.is_file()]
    )
    candidates += [] if hpc_only else sorted(folder.glob("last-v*.ckpt"))  # older runs' version counter
    candidates += sorted(folder.parent.glob("hpc_ckpt_*.ckpt"))  # Lightning's SLURM requeue (SIGUSR1) saves these
    for path in sorted(candidates, key=lambda p: p.stat().st_mtime, reverse=True):
        if checkpoint_loads(path):
            return path
        log(f"skipping {path}: it does not load (truncated or empty: a full disk or a kill while it was written)")
    return None


class RunLock:
    """An exclusive lock on a run folder for the life of a process (``fcntl.flock`` on ``<run_dir>/.lock``).

    The operating system releases it when the holder dies, so a stale lock never blocks; a second process on
    the same run is refused with one line naming the holder.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / ".lock"
        self.file = None

    def acquire(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+")
        except OSError as err:
            raise RunWriteError(
                f"cannot create the run folder {self.path.parent} ({err.strerror}): choose a writable --runs_dir"
            ) from None
        try:
            _lock_exclusively(self.file)
        except (BlockingIOError, PermissionError):
            self.file.seek(0)
            holder = self.file.read().strip() or "another process"
            self.file.close()
            raise RunBusyError(
                f"{self.path.parent} is in use by {holder}: wait for it to end, or stop it, before "
                "running this command on the same run (or give this one another --run_name)"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self.file.flush()
        return self

    def release(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()  # closing the file drops the flock


def _lock_exclusively(file: IO[str]) -> None:
    """An exclusive, non-blocking lock that the OS drops with its process: ``flock`` (POSIX), ``msvcrt`` (Windows)."""
    if os.name == "nt":
        import msvcrt

        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)


# what a command writes into a run folder before anything of the run itself (record, metrics, checkpoints)
PREPARATION_FILES = frozenset({".lock", "wandb_id.txt", "config.yaml", "hparams.yaml", "wandb", "train.log"})


def remove_if_empty_run(run_dir: Path) -> bool:
    """Remove ``run_dir`` if it holds only what a command writes before its run begins (its lock, W&B id, config):
    a command that failed on its settings leaves no folder behind. True if removed."""
    entries = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    wandb = run_dir / "wandb"
    if not run_dir.is_dir() or entries - PREPARATION_FILES or (wandb.is_dir() and any(wandb.glob("*run-*"))):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return True


class RunBusyError(UserError, RuntimeError):
    """Another process holds the run folder."""


# DataModule settings that do not change what is trained (where the data sit, how fast they load, what
# the final test reports): they may differ between a run and its resumption.
NOT_DEFINING = frozenset(
    {"data_dir", "download", "num_workers", "eval_batch_size", "decode_on_device", "test_protocol", "test_curve"}
)


def definition_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: saved -> current`` for each entry of a run definition that differs.

    Only entries both sides have are compared: a setting added to the suite after a checkpoint was written
    (at its default, which keeps the old behaviour) does not block resuming that checkpoint.
    """
    return [f"{k}: {saved[k]!r} -> {current[k]!r}" for k in sorted(set(saved) & set(current)) if saved[k] != current[k]]


@dataclass
class Run:
    """One run as its folder records it: ``run.json``, the curves of ``metrics.csv``, the Figure 7 statistics."""

    path: Path
    record: dict
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    responses: list[float] | None = None

    @classmethod
    def read(cls, path: str | Path) -> Run:
        path = Path(path)
        return cls(path, read_record(path), read_curves(path / METRICS_FILE), read_responses(path / RESPONSES_FILE))

    @property
    def model(self) -> dict:
        return self.record.get("config", {}).get("model", {})

    @property
    def timed_steps(self) -> int | None:
        """The iterations the recorded ``train_seconds`` cover: all of them, except in records written before
        ``timed_steps`` was kept, where a resumed run (a W&B segment after the first) holds only its last segment's
        time (``None``: unknown)."""
        if "timed_steps" in self.record:
            return self.record["timed_steps"]
        wandb = self.record.get("wandb") or {}
        return None if wandb.get("segment") not in (None, wandb.get("id")) else self.steps

    def training_time(self) -> str:
        """The recorded training time, and what it covers when that is not the whole run."""
        minutes = self.record.get("train_seconds", 0.0) / 60
        if self.timed_steps == self.steps:
            return f"{minutes:.1f} min"
        if self.timed_steps is None:
            return f"{minutes:.1f} min (its last segment only: earlier segments' time was not recorded)"
        return f"{minutes:.1f} min for {self.timed_steps:,} of its iterations"

    @property
    def hardware(self) -> str | None:
        """The machine(s) the run trained on, in order (a run resumed elsewhere names each); else the record's."""
        labels = dict.fromkeys(s["hardware"] for s in self.record.get("segments", []))
        return "; ".join(labels) if labels else self.record.get("hardware")

    @property
    def data(self) -> dict:
        """The DataModule's arguments the run was configured with."""
        return self.record.get("config", {}).get("data", {}).get("init_args", {})

    @property
    def network(self) -> str:
        """``resnet56``, or ``resnet34-B`` where a shortcut option was chosen."""
        return network_name(self.model.get("arch", self.path.name), self.model.get("shortcut"))

    @property
    def seed(self) -> int | None:
        return self.record.get("seed")

    @property
    def finished(self) -> bool:
        return self.record.get("status") == Status.FINISHED

    @property
    def steps(self) -> int:
        """Iterations trained."""
        return self.record.get("global_step", 0)

    def final(self, key: str) -> float | None:
        return self.record.get("final", {}).get(key)

    def last(self, key: str) -> float | None:
        """The last logged value of a curve."""
        points = self.curves.get(key)
        return points[-1][1] if points else None


def read_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """``metrics.csv`` (Lightning's CSVLogger) as ``{key: [(step, value), ...]}``, in step order."""
    curves: dict[str, dict[int, float]] = {}
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                step = int(float(row["step"]))
                for key, value in row.items():
                    if key not in ("step", "epoch") and value not in ("", None):
                        curves.setdefault(key, {})[step] = float(value)  # a resumed run re-logs a step: the last
            except (KeyError, TypeError, ValueError) as err:
                raise RecordError(
                    f"{path}, line {line}: not a metrics row ({err}); restore the file from a copy, or remove that line"
                ) from None
    return {key: sorted(points.items()) for key, points in curves.items()}


def read_responses(path: Path) -> list[float] | None:
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        try:
            return [float(row["std"]) for row in csv.DictReader(f)]
        except (KeyError, TypeError, ValueError) as err:
            raise RecordError(f"{path} is not a layer-response table ({err}): restore it, or remove it") from None


def depth_of(network: str) -> int:
    """The network's depth from its registry entry (0 for what is not a registered network: an ensemble)."""
    arch = split_network(network)[0]
    return model_entry(arch).depth if arch in list_models() else 0


def load_runs(runs_dir: str | Path, experiment: str, unreadable: list[str] | None = None) -> list[Run]:
    """Every run under ``runs_dir/experiment`` that has a record, sorted by network depth, name and seed.

    A run whose files do not parse is left out and named in ``unreadable`` (its message also goes to stderr), so one
    broken run does not stop a page of the others.
    """
    folder = Path(runs_dir) / experiment
    runs = []
    for path in sorted(folder.iterdir() if folder.is_dir() else []):
        try:
            run = Run.read(path)
        except RecordError as err:
            print(f"lightning-resnet: skipping {path.name}: {err}", file=sys.stderr)
            if unreadable is not None:
                unreadable.append(path.name)
            continue
        if run.record:
            runs.append(run)
    return sorted(runs, key=lambda r: (depth_of(r.network), r.network, r.seed or 0))


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample std (None for a single value)."""
    return mean(values), (stdev(values) if len(values) > 1 else None)
