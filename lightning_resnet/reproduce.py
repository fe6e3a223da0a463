"""``python -m lightning_resnet reproduce <id>``: train every run a table/figure needs, then write its report.

Runs are shared between ids through a pool per dataset (``runs/<pool>-<preset>/<network>-s<seed>``):
Figure 6, Table 6 and Figure 7 use the same CIFAR-10 networks, Table 2 and Figure 4 the same ImageNet
ones, and Table 4 tests Table 3's models with its own protocol, so each network is trained once. A run
that finished (trained and tested) is skipped; an interrupted one resumes from its newest checkpoint.
Runs go one after another here, or to a cluster through submitit (``--launcher submitit --cluster slurm``),
one multi-GPU (and multi-node) DDP job per run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import submitit
import yaml

from . import runs as run_layout
from .errors import ConfigError, UserError
from .lifeline import child_options
from .paper import POOLS, pool_ids, reproducible_ids, spec_for
from .paper.pools import backbone_weights
from .publish import Publisher
from .release import SOURCE_TREE
from .reporting import build_report
from .reporting.markdown import RECORDS


@dataclass(frozen=True)
class PlannedRun:
    """One run of a reproduction: a network, a seed, the CLI arguments that train it and, where the id
    tests with a protocol of its own (Table 4), the arguments of that further test."""

    network: str
    seed: int
    run_dir: Path
    args: tuple[str, ...]
    evaluate: tuple[str, ...] = ()
    metric: str = "test/top1_error"  # the result the id reads; present once the run is done
    prefix: tuple[str, ...] = ()  # the CLI command the subcommands belong to (``detect``)

    @property
    def folder(self) -> run_layout.RunFolder:
        return run_layout.RunFolder(self.run_dir)

    @property
    def trained(self) -> bool:
        return self.folder.record().done_training

    @property
    def state(self) -> str:
        """``todo``, ``running``, ``interrupted``, ``failed``, ``trained`` (untested), ``done``, with the reason."""
        if self.finished:
            return "done"
        record = self.folder.record()
        if record.status == run_layout.Status.RUNNING and not self.folder.in_use:
            return "killed (its record says running, but no process holds the run)"
        return record.state

    @property
    def standing(self) -> str:
        """``state``, and for a started, unfinished run where it stands: its iteration, its newest checkpoint (what a
        resume starts from) and the time left at the rate its own record measured."""
        record = self.folder.record()
        if self.finished or record.status is None:
            return self.state
        checkpoint = self.folder.latest_checkpoint(log=lambda _: None)
        parts = [
            f"iteration {record.global_step:,} of {record.max_steps:,}",
            f"newest checkpoint {checkpoint}" if checkpoint else "no checkpoint (it starts again)",
        ]
        if record.timed_steps and record.train_seconds > 0 and record.global_step < record.max_steps:
            rate = record.timed_steps / record.train_seconds
            left = (record.max_steps - record.global_step) / rate
            parts.append(f"~{left / 3600:.1f} h" if left >= 3600 else f"~{left / 60:.0f} min")
            parts[-1] += f" left at its {rate:.2f} it/s so far"
        return f"{self.state}: {', '.join(parts)}"

    @property
    def finished(self) -> bool:
        """Trained to the end and tested as the id needs; nothing left to do."""
        return self.folder.record().done_with(self.metric)

    def commands(self) -> list[tuple[str, ...]]:
        """What is left to run: the fit (which resumes, and tests at its end) and the id's own test; for a run that
        trained but whose test never ran (interrupted), the test alone."""
        if self.finished:
            return []
        if self.evaluate:
            commands = [*([] if self.trained else [self.args]), self.evaluate]
        else:
            commands = [("test", *self.args[1:])] if self.trained else [self.args]
        return [(*self.prefix, *command) for command in commands]


def network_args(network: str) -> list[str]:
    """``resnet34-B`` -> arch and shortcut option; a bare name keeps the network's default shortcut."""
    arch, shortcut = run_layout.split_network(network)
    return [f"--model.arch={arch}", f"--model.shortcut={shortcut or 'null'}"]


def resolve_preset(report_id: str, preset: str | None) -> str:
    """``preset``, checked against the id's pool; by default the pool's first (smoke for CIFAR-10, paper for
    ImageNet)."""
    pool = POOLS.get(spec_for(report_id).pool or "")
    presets = pool.presets if pool else {}
    preset = preset or next(iter(presets), "")
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r} for {report_id}; choose one of {', '.join(presets)}")
    return preset


def select_networks(report_id: str, networks: str | None) -> tuple[str, ...]:
    """The id's networks, or the comma-separated subset ``networks`` of them (``resnet20,plain20``)."""
    known = spec_for(report_id).networks
    if not networks:
        return known
    chosen = tuple(n.strip() for n in networks.split(",") if n.strip())
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ConfigError(f"{report_id} has no network {', '.join(unknown)}; its networks: {', '.join(known)}")
    return chosen


def plan(
    report_id: str,
    preset: str | None = None,
    seeds: int = 1,
    runs_dir: Path | None = None,
    extra: tuple[str, ...] = (),
    networks: str | None = None,
) -> list[PlannedRun]:
    """Every run ``report_id`` needs at ``preset`` (default: the pool's first), with at least ``seeds`` seeds per
    network; ``networks`` (comma-separated) restricts it to some of the id's networks; ``runs_dir`` defaults to
    :func:`~lightning_resnet.runs.runs_root`."""
    spec = spec_for(report_id)
    runs_dir = Path(runs_dir) if runs_dir else run_layout.runs_root()
    if not spec.networks or spec.pool not in POOLS:
        raise ConfigError(
            f"no reproduction is defined for {report_id!r}; reproducible ids: {', '.join(reproducible_ids())}"
        )
    pool = POOLS[spec.pool]
    preset = resolve_preset(report_id, preset)
    experiment = pool.name
    sharing = pool_ids(spec.pool)
    configs = tuple(a for path in pool.configs(preset) for a in ("--config", str(path)))
    runs = []
    for network in select_networks(report_id, networks):
        for seed in range(spec.seeds_for(network, seeds)):
            names = [f"--experiment={experiment}", f"--preset={preset}", f"--runs_dir={runs_dir}"]
            common = [*configs, *network_args(network), f"--seed_everything={seed}", *names]
            args = ["fit", *common, f"--tags=[{', '.join(sharing)}]", "--ckpt_path=last"]
            if network in pool.warmup:
                args.append("--trainer.callbacks+=lightning_resnet.callbacks.TrainErrorWarmup")
            if pool.backbone_pool and preset == "paper":  # fine-tuned from ImageNet weights (smoke: untrained)
                args.append(f"--model.weights={backbone_weights(network, pool.backbone_pool, runs_dir)}")
            args.extend(pool.caps.get(preset, {}).get(network, ()))
            evaluate = (
                ("test", *common, f"--data.init_args.test_protocol={spec.test_protocol}", "--ckpt_path=last", *extra)
                if spec.test_protocol
                else ()
            )
            run_dir = run_layout.RunAddress.of(runs_dir, experiment, preset, network, seed).path
            # an ensemble's members are done once trained and tested as the pool's base config tests them
            metric = spec_for(Path(pool.base_config).stem).test_metric if spec.ensemble else spec.test_metric
            runs.append(
                PlannedRun(network, seed, run_dir, (*args, *extra), evaluate, f"{metric}/{pool.result}", pool.command)
            )
    return runs


def run_commands(*commands: tuple[str, ...]) -> None:
    """Run CLI commands one after another, each in its own process."""
    for args in commands:
        subprocess.run([sys.executable, "-m", "lightning_resnet", *args], check=True)


class Train(submitit.helpers.Checkpointable):
    """What a submitit job executes: a run's commands. Checkpointable: when SLURM preempts the job or its time runs
    out, submitit requeues it with the same commands, whose ``--ckpt_path last`` resumes from the run's newest
    checkpoint (the fit saves ``interrupted.ckpt`` on the SIGTERM that ends the job)."""

    def __call__(self, *commands: tuple[str, ...]) -> None:
        run_commands(*commands)


class ReproduceError(UserError):
    """Runs of a reproduction failed or were stopped; what was done is kept and the same command resumes it."""


class LocalRuns:
    """Up to ``jobs`` runs at once on this machine, each a sequence of CLI processes.

    With several jobs each run writes ``<run_dir>/train.log`` and the CPU threads are split between them.
    SIGINT/SIGTERM are forwarded to the runs, which save ``interrupted.ckpt``; ``reproduce`` then exits non-zero.
    ``on_finished`` is called with each run's folder as soon as that run has finished (``--publish``).
    """

    def __init__(self, runs: list[PlannedRun], jobs: int, on_finished: Callable[[Path], object] | None = None) -> None:
        self.on_finished = on_finished
        self.queue = [(run, list(run.commands())) for run in runs]
        self.jobs, self.total = jobs, len(runs)
        self.active: dict[subprocess.Popen, tuple[PlannedRun, list[tuple[str, ...]], object]] = {}
        self.failed: list[str] = []
        self.stopped: int | None = None
        threads = max(1, (os.cpu_count() or 1) // jobs)
        self.env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if jobs > 1 else {})}

    def _start(self, run: PlannedRun, commands: list[tuple[str, ...]], log) -> None:
        if log is None and self.jobs > 1:
            run.run_dir.mkdir(parents=True, exist_ok=True)
            log = open(run.run_dir / "train.log", "a")
        command = [sys.executable, "-m", "lightning_resnet", *commands[0]]
        options = child_options()  # the child stops with this process, even after a SIGKILL
        env = {**self.env, **options.pop("env", {})}
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT if log else None, env=env, **options)
        self.active[process] = (run, commands[1:], log)

    def _forward(self, signum: int, _frame) -> None:
        self.stopped = signum
        self.queue.clear()
        for process in self.active:
            process.send_signal(signal.SIGTERM)

    def run(self) -> None:
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            started = 0
            while self.queue or self.active:
                while self.queue and len(self.active) < self.jobs:
                    run, commands = self.queue.pop(0)
                    started += 1
                    print(f"[{started}/{self.total}] {run.run_dir}", flush=True)
                    self._start(run, commands, None)
                for process in [p for p in self.active if p.poll() is not None]:
                    run, rest, log = self.active.pop(process)
                    if process.returncode == 0 and rest and self.stopped is None:
                        self._start(run, rest, log)
                        continue
                    if log:
                        log.close()
                    if process.returncode != 0:
                        self.failed.append(f"{run.run_dir} (exit {process.returncode})")
                    elif self.on_finished and run.finished:
                        self.on_finished(run.run_dir)
                time.sleep(0.2)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if self.stopped is not None:
            raise ReproduceError(
                f"reproduce stopped by signal {self.stopped}; the interrupted runs saved their checkpoints: "
                "run the same command again to resume them"
            )
        if self.failed:
            raise ReproduceError(
                f"{len(self.failed)} run(s) failed: {', '.join(self.failed)}; see their output above "
                "(or <run_dir>/train.log), fix the cause and run the same command to resume"
            )


def launch(
    runs: list[PlannedRun],
    launcher: str,
    cluster: str | None,
    folder: Path,
    slurm: dict,
    jobs: int = 1,
    on_finished: Callable[[Path], object] | None = None,
) -> None:
    if launcher == "sequential":
        LocalRuns(runs, jobs, on_finished).run()
        return
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**slurm)
    jobs_ = [executor.submit(Train(), *run.commands()) for run in runs]
    print(f"submitted {len(jobs_)} jobs ({executor.cluster}); logs in {folder}", flush=True)
    for job, run in zip(jobs_, runs):
        job.result()  # raises with the job's log if it failed
        print(f"done {run.run_dir}", flush=True)
        if on_finished and run.finished:
            on_finished(run.run_dir)


def check_backbones(runs: list[PlannedRun]) -> None:
    """Detection runs fine-tune a trained ImageNet run of this suite: say which to train first, before anything."""
    prefix = "--model.weights="
    weights = {a[len(prefix) :] for run in runs for a in run.args if a.startswith(prefix)}
    missing = sorted(w for w in weights if w != "torchvision" and not Path(w).is_file())
    if missing:
        networks = ",".join(run_layout.parse_run_name(Path(w).parent.parent.name)[0] for w in missing)
        raise ReproduceError(
            f"the ImageNet backbone checkpoints {', '.join(missing)} do not exist yet: train them first with "
            f"`python -m lightning_resnet reproduce table3 --preset paper --networks {networks}`"
        )


def data_overrides(extra: tuple[str, ...]) -> dict:
    """``--data.init_args.KEY=VALUE`` arguments among ``extra`` as DataModule keyword arguments."""
    prefix = "--data.init_args."
    pairs = [a[len(prefix) :].partition("=") for a in extra if a.startswith(prefix) and "=" in a]
    return {key: yaml.safe_load(value) for key, _, value in pairs}


def evaluate_ensemble(runs: list[PlannedRun], extra: tuple[str, ...] = ()) -> Path:
    """Table 5: the softmax of the trained runs averaged, each under the multi-scale protocol, on the test split;
    its record goes to ``<pool folder>/ensemble-s0/run.json`` beside the runs it combined."""
    import pytorch_lightning as pl

    from .ensemble import Ensemble
    from .tracking import environment

    members = [run for run in runs if run.trained]
    if not members:
        raise ReproduceError("no trained runs to combine into an ensemble: train them first (reproduce trains them)")
    data = members[0].folder.record().config["data"]
    module, _, name = data["class_path"].rpartition(".")
    init_args = {**data.get("init_args", {}), "test_protocol": "multiscale", **data_overrides(extra)}
    datamodule = getattr(importlib.import_module(module), name)(**init_args)
    checkpoints = [str(run.run_dir / run_layout.CHECKPOINT_DIR / run_layout.LAST_CHECKPOINT) for run in members]
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, devices=1)
    result = trainer.test(Ensemble(checkpoints), datamodule=datamodule, verbose=False)[0]
    folder = members[0].run_dir.parent / run_layout.run_name("ensemble", 0)
    record = {
        "config": {"model": {"arch": "ensemble"}, "data": {"class_path": data["class_path"], "init_args": init_args}},
        "members": [run.run_dir.name for run in members],
        "status": run_layout.Status.FINISHED,
        "seed": 0,
        "global_step": 0,
        "max_steps": 0,
        "final": result,
        "dataset": datamodule.fingerprint(),
        **environment(),
    }
    run_layout.RunFolder(folder).write(record)
    return folder


def reproduce_command(argv: list[str]) -> None:
    """``python -m lightning_resnet reproduce <id> [--preset smoke|paper] [--seeds N] [-- extra CLI overrides]``."""
    parser = argparse.ArgumentParser(
        prog="python -m lightning_resnet reproduce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("id", help=f"table/figure id: {', '.join(reproducible_ids())}")
    parser.add_argument(
        "--preset",
        default=None,
        help="smoke (CIFAR-10 only, the default there): CPU-sized; paper: the paper's recipe exactly",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="seeds per network (at least what the paper ran, e.g. 5 for ResNet-110 in Table 6)",
    )
    parser.add_argument("--runs_dir", type=Path, default=run_layout.runs_root(), help=run_layout.RUNS_DIR_HELP)
    parser.add_argument("--reports_dir", type=Path, default=Path("reports"))
    parser.add_argument("--weights_dir", type=Path, default=SOURCE_TREE, help="where --publish releases weights")
    parser.add_argument("--launcher", choices=["sequential", "submitit"], default="sequential")
    parser.add_argument(
        "--cluster",
        choices=["local", "slurm", "debug"],
        default=None,
        help="submitit cluster (default: SLURM when available)",
    )
    parser.add_argument("--slurm_partition", default=None)
    parser.add_argument("--gpus_per_node", type=int, default=1, help="GPUs (one DDP process each) per node, per run")
    parser.add_argument("--nodes", type=int, default=1, help="nodes per run (multi-node DDP)")
    parser.add_argument("--timeout_min", type=int, default=24 * 60)
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once (one GPU, or the CPU's threads split)"
    )
    parser.add_argument(
        "--networks", default=None, help="comma-separated subset of the id's networks, e.g. resnet20,plain20"
    )
    parser.add_argument("--dry_run", action="store_true", help="print the runs and their state, train nothing")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="as each run finishes: its record to <reports_dir>/records, its weights to weights/ (paper preset), the "
        "pages of its pool and the README's results table rewritten from the records (the evidence queue)",
    )
    argv, extra = (argv[: argv.index("--")], tuple(argv[argv.index("--") + 1 :])) if "--" in argv else (argv, ())
    options = parser.parse_args(argv)
    if (
        options.launcher == "submitit"
        and options.cluster in (None, "slurm")
        and options.gpus_per_node * options.nodes > 1
    ):
        extra = (f"--trainer.devices={options.gpus_per_node}", f"--trainer.num_nodes={options.nodes}", *extra)

    runs = plan(options.id, options.preset, options.seeds, options.runs_dir, extra, options.networks)
    preset = resolve_preset(options.id, options.preset)
    sharing = tuple(pool_ids(spec_for(options.id).pool or ""))  # plan() checked the id has a pool
    publisher = Publisher(sharing, preset, options.reports_dir, options.weights_dir)
    # --publish: a run finished and released where it is kept is not trained again because this runs/ lacks it
    on_record = {run.run_dir for run in runs if options.publish and publisher.on_record(run.run_dir, run.metric)}
    todo = [run for run in runs if not run.finished and run.run_dir not in on_record]
    finished = len(runs) - len(todo) - len(on_record)
    kept = f", {len(on_record)} on record in {publisher.records_dir}" if on_record else ""
    print(f"{options.id} ({preset}): {len(runs)} runs, {finished} finished{kept}, {len(todo)} to train", flush=True)
    if not options.dry_run:
        check_backbones(todo)
    if options.dry_run:
        for run in runs:
            if run.run_dir in on_record:
                print(f"  {run.run_dir}: on record in {publisher.published_record(run.run_dir)} (not trained again)")
                continue
            print(f"  {run.run_dir}: {run.standing}")
            for command in run.commands():
                print(f"    python -m lightning_resnet {' '.join(command)}")
        return
    slurm = {"timeout_min": options.timeout_min}
    if options.cluster in (None, "slurm"):
        # one task per GPU: Lightning reads the ranks of its DDP processes from SLURM
        slurm.update(
            slurm_partition=options.slurm_partition,
            gpus_per_node=options.gpus_per_node,
            tasks_per_node=options.gpus_per_node,
            nodes=options.nodes,
        )
    unpublished: list[str] = []
    if options.publish:  # runs that finished before, whose publication failed or was never asked for
        for run in runs:
            if run.finished and publisher.pending(run.run_dir):
                publisher.publish(run.run_dir, unpublished)
    launch(
        todo,
        options.launcher,
        options.cluster,
        options.runs_dir / ".submitit",
        {k: v for k, v in slurm.items() if v is not None},
        options.jobs,
        (lambda run_dir: publisher.publish(run_dir, unpublished)) if options.publish else None,
    )
    if spec_for(options.id).ensemble:
        print(f"ensemble record: {evaluate_ensemble(runs, extra)}", flush=True)
    # published runs' pages come from the records, which hold the runs a fresh runs/ lacks
    source = options.reports_dir / RECORDS if options.publish else options.runs_dir
    page, used = build_report(options.id, source, options.reports_dir, preset=preset)
    print(f"wrote {page} from {len(used)} runs")
    if unpublished:
        raise ReproduceError(
            f"{len(unpublished)} finished run(s) were not published (said above); fix the cause and run the same "
            "command: it publishes them without training them again"
        )
