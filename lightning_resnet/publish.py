"""``reproduce --publish``: a finished run's results leave ``runs/`` the moment it finishes.

``runs/`` holds checkpoints and is never committed, and a machine may lose it (a fresh checkout, a full disk), so a
queue of day-long runs must not wait for its last run, or for a person, before its evidence is written where it is
kept. As each run finishes, :class:`Publisher` copies its record to ``reports/records/``, releases its weights into
``weights/`` (paper preset, CIFAR-10 networks: :func:`lightning_resnet.release.export_run`), rewrites the pages of
every id that shares its pool from the records there, and refreshes the README's results table. What is left to a
person is reading the diff and committing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .models import model_entry
from .release import PAPER, SOURCE_TREE, export_run
from .reporting import build_report
from .reporting.markdown import RECORDS
from .reporting.results import refresh_readme
from .runs import RunFolder


@dataclass(frozen=True)
class Publisher:
    """Publishes finished runs of one preset; ``report_ids`` are the pages their records feed."""

    report_ids: tuple[str, ...]
    preset: str
    reports_dir: Path = Path("reports")
    weights_dir: Path = SOURCE_TREE
    readme: Path = Path("README.md")

    @property
    def records_dir(self) -> Path:
        return self.reports_dir / RECORDS

    def __call__(self, run_dir: Path) -> list[Path]:
        """Publish the finished run at ``run_dir``; returns the files written (record folder, weights, pages)."""
        written = [RunFolder(run_dir).export_record(self.records_dir)]
        arch = RunFolder(run_dir).record().config.get("model", {}).get("arch", "")
        if self.preset == PAPER and arch and model_entry(arch).family == "cifar":
            written.append(self.weights_dir / export_run(run_dir, self.weights_dir, self.records_dir).file)
        for report_id in self.report_ids:  # from the records, which hold runs this machine's runs/ may not
            written.append(build_report(report_id, self.records_dir, self.reports_dir, preset=self.preset)[0])
        if refresh_readme(self.readme, self.reports_dir, self.weights_dir):
            written.append(self.readme)
        for path in written:
            print(f"published {path}", flush=True)
        return written
