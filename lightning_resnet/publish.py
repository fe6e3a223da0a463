"""``reproduce --publish``: a finished run's results leave ``runs/`` the moment it finishes.

``runs/`` holds checkpoints and is never committed, and a machine may lose it (a fresh checkout, a full disk), so a
queue of day-long runs must not wait for its last run, or for a person, before its evidence is written where it is
kept. As each run finishes, :class:`Publisher` copies its record to ``reports/records/``, releases its weights into
``weights/`` (paper preset, CIFAR-10 networks: :func:`lightning_resnet.release.export_run`), rewrites the pages of
every id that shares its pool from the records there, and refreshes the README's results table. A finished run that
is not published yet (its publication failed, or it finished before ``--publish`` was given) is published when the
queue starts. What is left to a person is reading the diff and committing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .models import model_entry
from .release import PAPER, SOURCE_TREE, export_run, read_manifest
from .reporting import build_report
from .reporting.markdown import RECORDS
from .reporting.results import refresh_readme
from .runs import RECORD_FILE, RunFolder, split_network


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

    def published_record(self, run_dir: Path) -> Path:
        return self.records_dir / run_dir.parent.name / run_dir.name

    def released_network(self, run_dir: Path) -> str | None:
        """The network whose weights the run releases: paper preset, CIFAR-10 networks only."""
        arch = RunFolder(run_dir).record().config.get("model", {}).get("arch", "")
        released = self.preset == PAPER and arch and model_entry(split_network(arch)[0]).family == "cifar"
        return arch if released else None

    def released_from_record(self, run_dir: Path) -> bool:
        """Whether the weights the run releases (if any) are in ``weights/``, made from its published record at the
        iteration that record reached."""
        published = self.published_record(run_dir)
        network = self.released_network(published)
        release = read_manifest(self.weights_dir).get(network or "")
        return network is None or (
            release is not None
            and release.record == published.as_posix()
            and release.iterations == RunFolder(published).record().global_step
            and (self.weights_dir / release.file).is_file()
        )

    def pending(self, run_dir: Path) -> bool:
        """Whether the finished run's record or release is not (or not yet this version) where it is kept."""
        published = self.published_record(run_dir) / RECORD_FILE
        if not published.is_file() or published.read_bytes() != (run_dir / RECORD_FILE).read_bytes():
            return True
        return not self.released_from_record(run_dir)

    def on_record(self, run_dir: Path, metric: str) -> bool:
        """Whether a run this machine has not started is finished where it is kept: its published record holds
        ``metric`` and its weights are released from it. The queue skips such a run instead of training it again
        on a fresh checkout (whose ``runs/`` is empty); a run folder of its own in ``runs/`` is resumed instead."""
        return (
            not RunFolder(run_dir).record()
            and RunFolder(self.published_record(run_dir)).record().done_with(metric)
            and self.released_from_record(run_dir)
        )

    def __call__(self, run_dir: Path) -> list[Path]:
        """Publish the finished run at ``run_dir``; returns the files written (record folder, weights, pages)."""
        written = [RunFolder(run_dir).export_record(self.records_dir)]
        if self.released_network(run_dir):
            written.append(self.weights_dir / export_run(run_dir, self.weights_dir, self.records_dir).file)
        for report_id in self.report_ids:  # from the records, which hold runs this machine's runs/ may not
            written.append(build_report(report_id, self.records_dir, self.reports_dir, preset=self.preset)[0])
        if refresh_readme(self.readme, self.reports_dir, self.weights_dir):
            written.append(self.readme)
        for path in written:
            print(f"published {path}", flush=True)
        return written

    def publish(self, run_dir: Path, problems: list[str]) -> None:
        """Publish, or add one line to ``problems`` saying why not: a run that trained stays trained, and the
        queue goes on with its next run; the same command publishes it once the cause is fixed."""
        try:
            self(run_dir)
        except UserError as err:
            problems.append(f"{run_dir} trained but was not published: {err}")
            print(f"lightning-resnet: {problems[-1]}", flush=True)
