"""Reports from run records: paper numbers as data, Markdown pages with figures, and W&B Reports."""

from __future__ import annotations

from pathlib import Path

from .experiments import SPECS, ReportSpec, spec_for
from .markdown import write_index, write_report
from .paper import TABLE6, PaperResult
from .records import Run, load_runs

__all__ = ["SPECS", "TABLE6", "PaperResult", "ReportSpec", "Run", "build_report", "load_runs", "spec_for", "write_index", "write_report"]


def build_report(
    report_id: str, runs_dir: Path = Path("runs"), reports_dir: Path = Path("reports"), preset: str | None = None
) -> tuple[Path, list[Run]]:
    """Write ``reports/<id>.md`` (``<id>-<preset>.md`` for a reproduction preset) from the runs of the id.

    Returns the page and the runs it used.
    """
    spec = spec_for(report_id)
    runs = [run for group in spec.groups(preset) for run in load_runs(runs_dir, group)]
    if spec.networks:
        runs = [run for run in runs if run.network in spec.networks]
    finished = [run for run in runs if run.finished]
    unfinished = [run.path.name for run in runs if not run.finished]
    return write_report(spec, finished, reports_dir, runs_dir, preset, unfinished=unfinished), finished
