"""Reports from run records: paper numbers as data, Markdown pages with figures, and W&B Reports."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from ..errors import ConfigError
from ..paper import SPECS, spec_for
from ..runs import Run, RunFolder, load_runs, runs_root
from .index import write_index
from .markdown import RECORDS, write_report

__all__ = ["build_report", "load_throughput", "write_index", "write_report"]

# Measured training throughput: benchmarks/results/ of the source tree, installed as lightning_resnet.benchmark_results.
try:
    THROUGHPUT_FILE = Path(str(files("lightning_resnet.benchmark_results").joinpath("training_throughput.json")))
except ModuleNotFoundError:  # a source checkout on PYTHONPATH, not installed
    THROUGHPUT_FILE = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "training_throughput.json"


def load_throughput(path: Path = THROUGHPUT_FILE) -> list[dict]:
    """Training images/second per network and machine, as measured by ``benchmarks/imagenet_training.py``."""
    return json.loads(Path(path).read_text()) if Path(path).is_file() else []


def build_report(
    report_id: str,
    runs_dir: Path | None = None,
    reports_dir: Path = Path("reports"),
    preset: str | None = None,
    throughput_file: Path = THROUGHPUT_FILE,
) -> tuple[Path, list[Run]]:
    """Write ``reports/<id>.md`` (``<id>-<preset>.md`` for a reproduction preset) from the runs of the id.

    Returns the page and the runs it used. Ids with no runs yet get their cost estimated from the
    measured throughput in ``throughput_file``.
    """
    spec = spec_for(report_id)
    runs_dir = Path(runs_dir) if runs_dir else runs_root()
    unreadable: list[str] = []
    runs = [run for group in spec.groups(preset) for run in load_runs(runs_dir, group, unreadable)]
    if report_id not in SPECS and not runs:  # a typo must not add a page of nothing to the index
        raise ConfigError(
            f"no report id or runs named {report_id!r} (looked in {runs_dir / spec.groups(preset)[0]}); "
            f"report ids: {', '.join(SPECS)}"
        )
    if spec.ensemble:  # the page is about the ensemble; its record names the runs it combined
        runs = [run for run in runs if run.network == "ensemble"]
    elif spec.networks:
        runs = [run for run in runs if run.network in spec.networks]
    for run in runs:  # the page's evidence travels with it
        RunFolder(run.path).export_record(Path(reports_dir) / RECORDS)
    finished = [run for run in runs if run.finished]
    unfinished = [run.path.name for run in runs if not run.finished]
    page = write_report(
        spec,
        finished,
        reports_dir,
        preset,
        unfinished=unfinished,
        unreadable=unreadable,
        throughput=load_throughput(throughput_file),
    )
    write_index(Path(reports_dir))
    return page, finished
