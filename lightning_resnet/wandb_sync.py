"""``python -m lightning_resnet sync RUN_DIR``: one W&B run per training run, however often it was interrupted.

W&B cannot resume an offline run, so each resumed segment of an offline run is a W&B run folder of its own, whose
``_step`` starts again at 0; ``wandb sync`` sets each folder up as a run of its own, and several synced into one id
overwrite each other's history (wandb/wandb#3841, #5865). So ``sync`` first *prepares* the run: it reads every
segment with W&B's own reader and replays them, in order, into one new offline run under ``<run>/wandb/sync/``,
with the training run's id, name, group and config, each logged step once (a step a later segment trained again
is taken from that segment) at ``_step`` = the iteration, the evaluations after training in its summary, and the
final checkpoint as its model artifact. What no segment holds (W&B writes an offline run's buffer to disk every few
seconds, so a segment killed early may hold nothing) is taken from the run's ``metrics.csv``. That folder is what
is uploaded; ``--dry_run`` prepares it and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .callbacks.layer_responses import RESPONSE_COLUMNS, RESPONSES_TABLE, response_rows
from .errors import ConfigError
from .runs import (
    CHECKPOINT_DIR,
    LAST_CHECKPOINT,
    METRICS_FILE,
    RESPONSES_FILE,
    RUNS_DIR_HELP,
    Record,
    RunAddress,
    RunFolder,
    read_curves,
    read_responses,
    runs_root,
)
from .tracking import (
    DEFAULT_PROJECT,
    USER_DATA_DIR,
    artifacts_dir,
    dataset_artifact,
    declare_dataset,
    offline_segments,
    read_wandb_records,
    training_run_id,
    wandb_logged_in,
)

STEP_KEY = "trainer/global_step"  # what Lightning's WandbLogger logs the iteration as, in every row
PREPARED_DIR = "sync"  # <run>/wandb/sync/: the one offline run sync uploads
REPLAYED = (int, float, str, bool)  # what a training run logs to its history (media and tables are not replayed)


@dataclass
class Segment:
    """One offline W&B run folder of a training run, as W&B's reader returns it."""

    folder: Path
    info: dict[str, Any] = field(default_factory=dict)  # the run record: config, job type, group, name, tags
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> Segment:
        segment = cls(folder)
        for record in read_wandb_records(folder):
            kind = record.get("type")
            if kind == "run" and not segment.info:
                segment.info = record["run"]
            elif kind == "history":
                segment.history.append(record["history"]["item"])
            elif kind == "summary":
                segment.summary.update(record["summary"].get("update", {}))
        return segment

    @property
    def job_type(self) -> str:
        return self.info.get("job_type") or "train"

    @property
    def config(self) -> dict[str, Any]:
        return {k: v for k, v in self.info.get("config", {}).get("update", {}).items() if k != "_wandb"}


def merged_history(
    segments: list[Segment], local: dict[str, list[tuple[int, float]]] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The training history of all segments as one: a row per iteration, in order; where a resumed segment logged
    an iteration again (it restarted from a checkpoint before the kill), its values win. ``local`` (the run's
    ``metrics.csv``, :func:`~lightning_resnet.runs.read_curves`) fills in what no segment holds: a segment killed
    before W&B first wrote its buffer to disk holds nothing. Returns the rows and the number of values left out
    because they are not scalars."""
    rows: dict[int, dict[str, Any]] = {}
    for key, points in (local or {}).items():
        for point, value in points:
            rows.setdefault(point, {STEP_KEY: point})[key] = value
    skipped, step = 0, 0
    for segment in segments:
        for item in segment.history:
            step = int(item.get(STEP_KEY, step))
            media = tuple(k[: -len("_type")] for k in item if k.endswith("._type"))  # "<key>.": a table, an image
            values = {
                k: v
                for k, v in item.items()
                if not k.startswith("_") and not k.startswith(media) and isinstance(v, REPLAYED)
            }
            skipped += len(media) + sum(1 for k in item if not k.startswith(("_", *media))) - len(values)
            rows.setdefault(step, {}).update(values)
    return [rows[s] for s in sorted(rows)], skipped


def identity(record: Record) -> dict[str, Any]:
    """A training run's W&B group and name as its record gives them, for when no segment holds its run record."""
    if not (record.group and record.run_name):
        return {}
    address = RunAddress(Path(), record.group, record.run_name)  # the names only: no folder is read or parsed
    return {"run_group": address.group, "display_name": address.display_name}


@dataclass(frozen=True)
class Prepared:
    """What ``sync`` uploads for one training run."""

    run_dir: Path
    run_id: str
    folder: Path  # the one offline run folder
    segments: int
    steps: int
    skipped: int


def prepare(run_dir: Path, project: str = DEFAULT_PROJECT) -> Prepared:
    """Replay the offline segments of ``run_dir`` into one offline W&B run under ``<run>/wandb/sync/``."""
    import wandb

    run_dir = Path(run_dir)
    run_id, folders = training_run_id(run_dir), offline_segments(run_dir)
    if not run_id or not folders:
        raise ConfigError(f"{run_dir} has no offline W&B run to sync (no wandb/offline-run-* or wandb_id.txt)")
    segments = [Segment.read(folder) for folder in folders]
    training = [s for s in segments if s.job_type == "train"] or segments
    evaluations = [s for s in segments if s not in training]
    folder = RunFolder(run_dir)
    record = folder.record()
    rows, skipped = merged_history(training, read_curves(run_dir / METRICS_FILE))
    # the run's name, group and config as its first segment that holds them logged them (else as its record says)
    first = next((s for s in training if s.info), None) or Segment(run_dir, info=identity(record))
    target = run_dir / "wandb" / PREPARED_DIR
    shutil.rmtree(target, ignore_errors=True)  # prepared again from the segments each time: never stale
    target.mkdir(parents=True)
    if not USER_DATA_DIR:
        os.environ["WANDB_DATA_DIR"] = str(artifacts_dir(run_dir))  # W&B's staging stays in the run folder
    run = wandb.init(
        mode="offline",
        dir=str(target.resolve()),  # absolute: W&B's service may run in another working directory
        id=run_id,
        project=(record.wandb or {}).get("project") or first.info.get("project") or project,
        group=first.info.get("run_group"),
        name=first.info.get("display_name"),
        job_type="train",
        tags=first.info.get("tags") or None,
        config=first.config or folder.read(),
        settings={"silent": True},
    )
    try:
        for row in rows:
            run.log(row, step=int(row.get(STEP_KEY, 0)))
        for evaluation in evaluations:  # validate/test/predict after training: results, not history
            run.summary.update({k: v for k, v in evaluation.summary.items() if not k.startswith("_")})
        responses = read_responses(run_dir / RESPONSES_FILE)
        if responses:  # Figure 7's table, as the training run logged it (tables are not replayed from segments)
            table = wandb.Table(columns=list(RESPONSE_COLUMNS), data=response_rows(responses))
            run.log({RESPONSES_TABLE: table}, step=int(rows[-1].get(STEP_KEY, 0)) if rows else 0)
        run.summary.update(record.final)
        checkpoint = run_dir / CHECKPOINT_DIR / LAST_CHECKPOINT
        if checkpoint.is_file():
            from .callbacks.lineage import log_model

            log_model(run, run_dir, run_id, record.global_step, record.done_training)
    finally:
        run.finish()
    prepared = sorted((target / "wandb").glob("offline-run-*"))[-1]
    return Prepared(run_dir, run_id, prepared, len(segments), len(rows), skipped)


def upload(prepared: Prepared) -> None:
    subprocess.run([sys.executable, "-m", "wandb", "sync", str(prepared.folder)], check=True, timeout=3600)


def sync_command(argv: list[str]) -> None:
    """``python -m lightning_resnet sync [RUN_DIR ...] [--dry_run]``: upload offline runs, each training run as one
    W&B run with its whole history."""
    parser = argparse.ArgumentParser(prog="python -m lightning_resnet sync", description=__doc__)
    parser.add_argument("run_dirs", nargs="*", type=Path, help="run folders (default: every run under --runs_dir)")
    parser.add_argument("--runs_dir", type=Path, default=runs_root(), help=RUNS_DIR_HELP)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument(
        "--dry_run", action="store_true", help="prepare the one offline run of each training run, upload nothing"
    )
    options = parser.parse_args(argv)
    run_dirs = options.run_dirs or sorted(p.parent.parent for p in options.runs_dir.glob("*/*/wandb/offline-run-*"))
    run_dirs = [d for d in dict.fromkeys(run_dirs) if offline_segments(d) and training_run_id(d)]
    if not run_dirs:
        raise ConfigError(f"no offline W&B runs under {', '.join(map(str, options.run_dirs or [options.runs_dir]))}")
    if not options.dry_run and not wandb_logged_in():
        raise ConfigError(
            "uploading needs a W&B login: run `wandb login`, then this command again (nothing was uploaded)"
        )
    for run_dir in run_dirs:
        prepared = prepare(run_dir, options.project)
        skipped = f", {prepared.skipped} non-scalar values left out" if prepared.skipped else ""
        print(
            f"{run_dir}: {prepared.segments} offline segment(s) -> W&B run {prepared.run_id}, "
            f"{prepared.steps} logged steps{skipped}",
            flush=True,
        )
        print(f"  prepared {prepared.folder}", flush=True)
        record = RunFolder(run_dir).record()
        if record.dataset:
            print(
                f"  then its input: dataset artifact {dataset_artifact(record.dataset).name} (by reference)", flush=True
            )
        if not options.dry_run:
            upload(prepared)
            if record.dataset:
                project = (record.wandb or {}).get("project") or options.project
                declare_dataset(run_dir, prepared.run_id, project, record.dataset)
