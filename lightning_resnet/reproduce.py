"""``python -m lightning_resnet reproduce <id>``: train every run a table/figure needs, then write its report.

Runs are shared between ids through a pool (``runs/cifar10-<preset>/<network>-s<seed>``): Figure 6,
Table 6 and Figure 7 use the same trained networks, so each is trained once. A run that finished
(trained and tested) is skipped; an interrupted one resumes from its newest checkpoint. Runs go one
after another here, or to a cluster through submitit (``--launcher submitit --cluster slurm``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .callbacks.run_record import read_record
from .reporting import SPECS, build_report, spec_for

REPRODUCTIONS = Path(__file__).resolve().parents[1] / "reproductions"
BASE_CONFIG = {"cifar10": REPRODUCTIONS / "table6.yaml"}
PRESETS: dict[str, tuple[Path, ...]] = {
    "paper": (REPRODUCTIONS / "presets" / "paper.yaml",),
    "smoke": (REPRODUCTIONS / "presets" / "smoke.yaml",),
}
# Section 4.2's warm-up for ResNet-110 (the paper does not say for 1202; it gets it too, as in most reproductions)
WARMUP = ("resnet110", "resnet1202")
# The smoke preset keeps any single run within ~20 min on a 2-core CPU: ResNet-1202 (11x ResNet-110's cost per
# image) gets 64 iterations, the same milestones in proportion, and one validation at the end.
SMOKE_CAPS = {"resnet1202": ("--trainer.max_steps=64", "--model.milestones=[32, 48]", "--trainer.val_check_interval=64")}


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a reproduction: a network, a seed, and the CLI arguments that train it."""

    network: str
    seed: int
    run_dir: Path
    args: tuple[str, ...]

    @property
    def finished(self) -> bool:
        """Trained to the end and tested; nothing left to do."""
        record = read_record(self.run_dir)
        return record.get("status") == "finished" and "test/top1_error" in record.get("final", {})


def plan(report_id: str, preset: str = "smoke", seeds: int = 1, runs_dir: Path = Path("runs"), extra: tuple[str, ...] = ()) -> list[PlannedRun]:
    """Every run ``report_id`` needs at ``preset``, with at least ``seeds`` seeds per network."""
    spec = spec_for(report_id)
    if not spec.networks or spec.pool not in BASE_CONFIG:
        raise ValueError(f"no reproduction is defined for {report_id!r}; reproducible ids: {', '.join(i for i, s in SPECS.items() if s.networks)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    experiment = spec.groups(preset)[0]
    sharing = sorted(i for i, s in SPECS.items() if s.pool == spec.pool)
    runs = []
    for network in spec.networks:
        for seed in range(spec.seeds_for(network, seeds)):
            args = [
                "fit", "--config", str(BASE_CONFIG[spec.pool]), *(a for p in PRESETS[preset] for a in ("--config", str(p))),
                f"--model.arch={network}", f"--seed_everything={seed}", f"--experiment={experiment}",
                f"--runs_dir={runs_dir}", f"--tags=[{', '.join(sharing)}]", "--ckpt_path=last",
            ]
            if network in WARMUP:
                args.append("--trainer.callbacks+=lightning_resnet.callbacks.TrainErrorWarmup")
            if preset == "smoke":
                args.extend(SMOKE_CAPS.get(network, ()))
            runs.append(PlannedRun(network, seed, Path(runs_dir) / experiment / f"{network}-s{seed}", (*args, *extra)))
    return runs


def train(args: tuple[str, ...]) -> None:
    """Train one run in its own process (what a local or submitit job executes)."""
    subprocess.run([sys.executable, "-m", "lightning_resnet", *args], check=True)


def launch(runs: list[PlannedRun], launcher: str, cluster: str | None, folder: Path, slurm: dict) -> None:
    if launcher == "sequential":
        for i, run in enumerate(runs, 1):
            print(f"[{i}/{len(runs)}] {run.run_dir}", flush=True)
            train(run.args)
        return
    import submitit

    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**slurm)
    jobs = [executor.submit(train, run.args) for run in runs]
    print(f"submitted {len(jobs)} jobs ({executor.cluster}); logs in {folder}", flush=True)
    for job, run in zip(jobs, runs):
        job.result()  # raises with the job's log if it failed
        print(f"done {run.run_dir}", flush=True)


def reproduce_command(argv: list[str]) -> None:
    """``python -m lightning_resnet reproduce <id> [--preset smoke|paper] [--seeds N] [-- extra CLI overrides]``."""
    parser = argparse.ArgumentParser(prog="python -m lightning_resnet reproduce", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("id", help=f"table/figure id: {', '.join(i for i, s in SPECS.items() if s.networks)}")
    parser.add_argument("--preset", default="smoke", choices=list(PRESETS), help="smoke: CPU-sized; paper: Section 4.2 exactly")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per network (at least what the paper ran, e.g. 5 for ResNet-110 in Table 6)")
    parser.add_argument("--runs_dir", type=Path, default=Path("runs"))
    parser.add_argument("--reports_dir", type=Path, default=Path("reports"))
    parser.add_argument("--launcher", choices=["sequential", "submitit"], default="sequential")
    parser.add_argument("--cluster", choices=["local", "slurm", "debug"], default=None, help="submitit cluster (default: SLURM when available)")
    parser.add_argument("--slurm_partition", default=None)
    parser.add_argument("--gpus_per_node", type=int, default=1)
    parser.add_argument("--timeout_min", type=int, default=24 * 60)
    parser.add_argument("--dry_run", action="store_true", help="print the runs and their state, train nothing")
    argv, extra = (argv[: argv.index("--")], tuple(argv[argv.index("--") + 1 :])) if "--" in argv else (argv, ())
    options = parser.parse_args(argv)

    runs = plan(options.id, options.preset, options.seeds, options.runs_dir, extra)
    todo = [run for run in runs if not run.finished]
    print(f"{options.id} ({options.preset}): {len(runs)} runs, {len(runs) - len(todo)} finished, {len(todo)} to train", flush=True)
    if options.dry_run:
        for run in runs:
            print(f"  {'done ' if run.finished else 'todo '} {run.run_dir}  python -m lightning_resnet {' '.join(run.args)}")
        return
    slurm = {"timeout_min": options.timeout_min}
    if options.cluster in (None, "slurm"):
        slurm.update(slurm_partition=options.slurm_partition, gpus_per_node=options.gpus_per_node, tasks_per_node=1)
    launch(todo, options.launcher, options.cluster, options.runs_dir / ".submitit", {k: v for k, v in slurm.items() if v is not None})
    page, used = build_report(options.id, options.runs_dir, options.reports_dir, preset=options.preset)
    print(f"wrote {page} from {len(used)} runs")
