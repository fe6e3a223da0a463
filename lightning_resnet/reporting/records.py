"""Read the runs of one table/figure id from their run directories: no W&B server needed."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, stdev

from ..runs import METRICS_FILE, RESPONSES_FILE, read_record


@dataclass
class Run:
    """One run: its record (``run.json``), its logged curves (``metrics.csv``) and its Figure 7 statistics."""

    path: Path
    record: dict
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    responses: list[float] | None = None

    @property
    def model(self) -> dict:
        return self.record.get("config", {}).get("model", {})

    @property
    def network(self) -> str:
        """``resnet56``, or ``resnet34-B`` where a shortcut option was chosen."""
        shortcut = self.model.get("shortcut")
        return self.model.get("arch", self.path.name) + (f"-{shortcut}" if shortcut else "")

    @property
    def seed(self) -> int | None:
        return self.record.get("seed")

    @property
    def finished(self) -> bool:
        return self.record.get("status") == "finished"

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
        for row in csv.DictReader(f):
            step = int(float(row["step"]))
            for key, value in row.items():
                if key not in ("step", "epoch") and value not in ("", None):
                    curves.setdefault(key, {})[step] = float(value)  # a resumed run re-logs a step: keep the last
    return {key: sorted(points.items()) for key, points in curves.items()}


def read_responses(path: Path) -> list[float] | None:
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        return [float(row["std"]) for row in csv.DictReader(f)]


def load_runs(runs_dir: Path, experiment: str) -> list[Run]:
    """Every run under ``runs_dir/experiment`` that has a record, sorted by network depth, name and seed."""
    folder = Path(runs_dir) / experiment
    runs = [
        Run(path, record, read_curves(path / METRICS_FILE), read_responses(path / RESPONSES_FILE))
        for path in sorted(folder.iterdir() if folder.is_dir() else [])
        if (record := read_record(path))
    ]
    return sorted(runs, key=lambda r: (depth_of(r.network), r.network, r.seed or 0))


def depth_of(network: str) -> int:
    digits = "".join(c for c in network.split("-")[0] if c.isdigit())
    return int(digits) if digits else 0


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample std (None for a single value)."""
    return mean(values), (stdev(values) if len(values) > 1 else None)


def format_mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    m, s = mean_std(values)
    return f"{m:.2f}" if s is None else f"{m:.2f} ± {s:.2f} (n={len(values)})"
