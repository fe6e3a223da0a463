"""Runs as reports read them: a read-only view of each folder's record, curves and Figure 7 statistics."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, stdev

from ..errors import RecordError
from ..models import list_models, model_entry
from .address import METRICS_FILE, RESPONSES_FILE, network_name, split_network
from .folder import RunFolder
from .record import Record, Status


@dataclass
class Run:
    """One run as its folder records it: ``run.json``, the curves of ``metrics.csv``, the Figure 7 statistics."""

    path: Path
    record: Record
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    responses: list[float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.record, dict):  # a record as written (tests, tools)
            self.record = Record.from_json(self.record)

    @classmethod
    def read(cls, path: str | Path) -> Run:
        path = Path(path)
        record = RunFolder(path).record()
        return cls(path, record, read_curves(path / METRICS_FILE), read_responses(path / RESPONSES_FILE))

    @property
    def model(self) -> dict:
        return self.record.config.get("model", {})

    @property
    def timed_steps(self) -> int | None:
        """The iterations the recorded ``train_seconds`` cover: all of them, except in records written before
        ``timed_steps`` was kept, where a resumed run (a W&B segment after the first) holds only its last segment's
        time (``None``: unknown)."""
        if self.record.timed_steps is not None:
            return self.record.timed_steps
        wandb = self.record.wandb or {}
        return None if wandb.get("segment") not in (None, wandb.get("id")) else self.steps

    def training_time(self) -> str:
        """The recorded training time, and what it covers when that is not the whole run."""
        minutes = self.record.train_seconds / 60
        if self.timed_steps == self.steps:
            return f"{minutes:.1f} min"
        if self.timed_steps is None:
            return f"{minutes:.1f} min (its last segment only: earlier segments' time was not recorded)"
        return f"{minutes:.1f} min for {self.timed_steps:,} of its iterations"

    @property
    def hardware(self) -> str | None:
        """The machine(s) the run trained on, in order (a run resumed elsewhere names each); else the record's."""
        labels = dict.fromkeys(s["hardware"] for s in self.record.segments)
        return "; ".join(labels) if labels else self.record.hardware

    @property
    def data(self) -> dict:
        """The DataModule's arguments the run was configured with."""
        return self.record.config.get("data", {}).get("init_args", {})

    @property
    def network(self) -> str:
        """``resnet56``, or ``resnet34-B`` where a shortcut option was chosen."""
        return network_name(self.model.get("arch", self.path.name), self.model.get("shortcut"))

    @property
    def seed(self) -> int | None:
        return self.record.seed

    @property
    def finished(self) -> bool:
        return self.record.status == Status.FINISHED

    @property
    def steps(self) -> int:
        """Iterations trained."""
        return self.record.global_step

    def final(self, key: str) -> float | None:
        return self.record.final.get(key)

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
