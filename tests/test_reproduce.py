"""``reproduce``: the plan of runs per id, shared runs trained once, resumption, submitit dispatch."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytorch_lightning.callbacks import Callback

from lightning_resnet.cli import ResNetCLI, default_callbacks, main, run_command
from lightning_resnet.reproduce import plan
from lightning_resnet.runs import RunFolder

REPO = Path(__file__).resolve().parents[1]

# tiny runs: a few iterations of small batches, evaluated on one batch
TINY = (
    "--data.init_args.batch_size=16",
    "--model.bn_batch=8",
    "--trainer.max_steps=6",
    "--trainer.val_check_interval=3",
    "--trainer.limit_val_batches=1",
    "--trainer.limit_test_batches=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
)


def test_plans_follow_the_paper() -> None:
    table6 = plan("table6", "paper")
    assert [(r.network, r.seed) for r in table6] == [
        ("resnet20", 0),
        ("resnet32", 0),
        ("resnet44", 0),
        ("resnet56", 0),
        *(("resnet110", s) for s in range(5)),
        ("resnet1202", 0),
    ]
    warm = [r for r in table6 if any("TrainErrorWarmup" in a for a in r.args)]
    assert {r.network for r in warm} == {"resnet110", "resnet1202"}
    assert all("presets/paper.yaml" in " ".join(r.args) for r in table6)
    assert len(plan("fig1", "smoke", seeds=3)) == 6
    smoke_1202 = next(r for r in plan("fig6", "smoke") if r.network == "resnet1202")
    assert "--trainer.max_steps=64" in smoke_1202.args


def test_ids_share_their_runs() -> None:
    fig6 = {r.run_dir for r in plan("fig6", "smoke")}
    fig7 = {r.run_dir for r in plan("fig7", "smoke")}
    table6 = {r.run_dir for r in plan("table6", "smoke")}
    assert fig7 <= fig6 and Path("runs/cifar10-smoke/resnet110-s0") in fig6 & table6
    assert {r.run_dir for r in plan("fig1", "paper")} == {
        Path("runs/cifar10-paper/plain20-s0"),
        Path("runs/cifar10-paper/plain56-s0"),
    }


def test_lightning_resnet_runs_moves_every_commands_run_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$LIGHTNING_RESNET_RUNS`` is the one default of every command's runs folder: a queue whose checkout is replaced
    keeps its checkpoints outside it. ``--runs_dir`` still wins."""
    from lightning_resnet.errors import ConfigError
    from lightning_resnet.reporting import build_report
    from lightning_resnet.runs import RUNS_DIR_ENV

    kept = tmp_path / "kept"
    monkeypatch.setenv(RUNS_DIR_ENV, str(kept))
    assert {r.run_dir for r in plan("fig1", "paper")} == {
        kept / "cifar10-paper/plain20-s0",
        kept / "cifar10-paper/plain56-s0",
    }
    assert all(f"--runs_dir={kept}" in r.args for r in plan("fig1", "paper"))  # the fit commands it launches agree
    cli = ResNetCLI(args=["--config", str(REPO / "reproductions" / "table6.yaml"), "--data.init_args.download=false"])
    assert cli.run_dir() == kept / "table6" / "resnet20-s0"
    assert plan("fig1", "paper", runs_dir=tmp_path / "given")[0].run_dir.parent == tmp_path / "given" / "cifar10-paper"
    with pytest.raises(ConfigError, match=f"looked in {kept}/ablation"):  # report reads the same folder
        build_report("ablation", reports_dir=tmp_path / "reports")
    assert not kept.exists()  # asking wrote nothing there


def test_unknown_id_or_preset_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no reproduction is defined for 'table9'.*fig1"):
        plan("table9")
    with pytest.raises(ValueError, match="unknown preset 'turbo'"):
        plan("fig1", "turbo")


class StopAt(Callback):
    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == 2:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_reproduce_resumes_the_interrupted_run_and_retrains_nothing_finished(
    tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    extra = (f"--data.init_args.data_dir={cifar_dir}", *TINY)
    runs = plan("fig1", "smoke", runs_dir=tmp_path / "runs", extra=extra)
    handler = signal.getsignal(signal.SIGINT)
    try:  # plain56 is interrupted after 2 iterations
        with pytest.raises(SystemExit):
            run_command(list(runs[1].args), trainer_defaults={"callbacks": [*default_callbacks(), StopAt()]})
    finally:
        signal.signal(signal.SIGINT, handler)
    assert RunFolder(runs[1].run_dir).read()["status"] == "interrupted"

    args = [
        "reproduce",
        "fig1",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--reports_dir={tmp_path / 'reports'}",
        "--",
        *extra,
    ]
    capsys.readouterr()
    main([*args[:2], "--dry_run", *args[2:]])  # where each run stands, as the queue's note needs it
    out = capsys.readouterr().out
    standing = f"iteration 2 of 6, newest checkpoint {runs[1].run_dir}/checkpoints/interrupted.ckpt, ~"
    assert f"{runs[1].run_dir}: interrupted (interrupted by a signal): {standing}" in out and " left at its " in out
    assert f"{runs[0].run_dir}: todo" in out
    interrupted = RunFolder(runs[1].run_dir)
    interrupted.update(status="running", reason=None)  # a SIGKILL: the record says running, nobody holds it
    main([*args[:2], "--dry_run", *args[2:]])
    killed = "killed (its record says running, but no process holds the run): iteration 2 of 6, newest checkpoint"
    assert f"{runs[1].run_dir}: {killed}" in capsys.readouterr().out
    lock = interrupted.lock()  # while a process trains it, it is running
    main([*args[:2], "--dry_run", *args[2:]])
    assert f"{runs[1].run_dir}: running: iteration 2 of 6" in capsys.readouterr().out
    lock.release()
    main(args)
    out = capsys.readouterr().out
    assert "2 runs, 0 finished, 2 to train" in out and "wrote" in out
    resumed = (runs[1].run_dir / "metrics.csv").read_text()
    assert all(
        RunFolder(r.run_dir).read()["status"] == "finished" and RunFolder(r.run_dir).read()["global_step"] == 6
        for r in runs
    )
    steps = [int(row["step"]) for row in csv.DictReader(resumed.splitlines()) if row["step"]]
    assert sorted(set(steps)) == list(range(6)) + [6]  # 0..5 logged once each across both segments, test at 6

    page = (tmp_path / "reports" / "fig1-smoke.md").read_text()
    assert "| plain20 |" in page and "| plain56 |" in page and "plain-56 has higher training error" in page
    main(args)
    assert "2 runs, 2 finished, 0 to train" in capsys.readouterr().out
    assert (tmp_path / "reports" / "fig1-smoke.md").read_text() == page


@pytest.mark.slow
def test_submitit_local_executor_dispatches_the_runs(
    tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    main(
        [
            "reproduce",
            "fig1",
            f"--runs_dir={tmp_path}",
            f"--reports_dir={tmp_path / 'reports'}",
            "--launcher=submitit",
            "--cluster=local",
            "--timeout_min=60",
            "--",
            f"--data.init_args.data_dir={cifar_dir}",
            *TINY,
        ]
    )
    out = capsys.readouterr().out
    assert "submitted 2 jobs (local)" in out
    assert all(RunFolder(r.run_dir).read()["status"] == "finished" for r in plan("fig1", "smoke", runs_dir=tmp_path))
    assert list((tmp_path / ".submitit").rglob("*_log.out"))


@pytest.mark.parametrize("report_id", ["fig1", "fig6", "fig7"])
def test_each_figure_has_a_config_that_trains_one_of_its_runs(report_id: str, tmp_path: Path) -> None:
    reproductions = Path(__file__).resolve().parents[1] / "reproductions"
    cli = ResNetCLI(
        args=[
            "--config",
            str(reproductions / "table6.yaml"),
            "--config",
            str(reproductions / f"{report_id}.yaml"),
            f"--runs_dir={tmp_path}",
        ],
    )
    assert cli.config.experiment == report_id
    assert cli.model.hparams.arch in {r.network for r in plan(report_id)}


@pytest.mark.slow
def test_jobs_train_runs_at_once_with_a_log_each(
    tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    main(
        [
            "reproduce",
            "fig1",
            f"--runs_dir={tmp_path}",
            f"--reports_dir={tmp_path / 'reports'}",
            "--jobs=2",
            "--",
            f"--data.init_args.data_dir={cifar_dir}",
            *TINY,
        ]
    )
    runs = plan("fig1", "smoke", runs_dir=tmp_path)
    assert all(RunFolder(r.run_dir).read()["status"] == "finished" for r in runs)
    assert all("`Trainer.fit` stopped: `max_steps=6` reached." in (r.run_dir / "train.log").read_text() for r in runs)
    assert "[2/2]" in capsys.readouterr().out


@pytest.mark.slow
def test_killing_reproduce_stops_its_runs(tmp_path: Path, cifar_dir: Path) -> None:
    """SIGKILL of `reproduce` (no handler can run) still stops its fit: the child gets SIGTERM and saves its state."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    slow = (
        "--data.init_args.batch_size=16",
        "--model.bn_batch=8",
        "--trainer.max_steps=100000",
        "--trainer.enable_progress_bar=false",
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightning_resnet",
            "reproduce",
            "fig1",
            f"--runs_dir={tmp_path}",
            "--networks=plain20",
            "--",
            f"--data.init_args.data_dir={cifar_dir}",
            *slow,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = tmp_path / "cifar10-smoke" / "plain20-s0" / "metrics.csv"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) > 3) and time.monotonic() < deadline:
        time.sleep(0.5)
    parent.kill()
    parent.wait()
    time.sleep(1)
    deadline = time.monotonic() + 60
    while (
        subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).returncode == 0
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True).returncode == 1  # no fit left behind
    assert (tmp_path / "cifar10-smoke" / "plain20-s0" / "checkpoints" / "interrupted.ckpt").is_file()


def test_a_preempted_submitit_job_is_requeued_with_commands_that_resume() -> None:
    import submitit

    from lightning_resnet.reproduce import Train

    run = plan("table6", "paper", networks="resnet20")[0]
    requeued = Train().checkpoint(*run.commands())  # what submitit calls on SLURM's preemption/timeout signal
    assert isinstance(requeued, submitit.helpers.DelayedSubmission) and isinstance(requeued.function, Train)
    assert requeued.args == tuple(run.commands()) and all("--ckpt_path=last" in c for c in requeued.args)


def test_resume_takes_the_checkpoint_lightning_saved_for_a_slurm_requeue(tmp_path: Path) -> None:
    import torch

    from lightning_resnet.runs import latest_checkpoint

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({"global_step": 100}, folder / "last.ckpt")
    hpc = tmp_path / "hpc_ckpt_1.ckpt"  # SIGUSR1 from SLURM: Lightning saves here, then requeues the job
    torch.save({"global_step": 150}, hpc)
    os.utime(folder / "last.ckpt", (1, 1))
    assert latest_checkpoint(folder, log=lambda _: None) == hpc


@pytest.mark.slow
def test_publish_puts_each_finished_runs_record_weights_and_pages_where_they_are_kept(
    tmp_path: Path, cifar_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The evidence queue's ``--publish``: a fresh ``runs/`` may be lost, so a finished run's record, released
    weights and the pages of its pool are written out as it finishes; the pages come from the records, so a run
    published earlier (here: a copy of the committed ResNet-20 record) stays on them."""
    monkeypatch.chdir(tmp_path)
    committed = REPO / "reports" / "records" / "cifar10-paper" / "resnet20-s0"
    RunFolder(committed).export_record(tmp_path / "reports" / "records")
    args = [
        "reproduce",
        "fig6",
        "--preset=paper",
        "--networks=plain20",
        "--publish",  # paths relative to the repository, as the README's queue command runs there
        "--runs_dir=runs",
        "--reports_dir=reports",
        "--weights_dir=weights",
        "--",
        f"--data.init_args.data_dir={cifar_dir}",
        *TINY,
    ]
    main(args)
    record = RunFolder(tmp_path / "reports" / "records" / "cifar10-paper" / "plain20-s0").record()
    assert record.status == "finished" and record.global_step == 6 and record.preset == "paper"
    release = json.loads((tmp_path / "weights" / "manifest.json").read_text())["plain20"]
    assert release["record"] == "reports/records/cifar10-paper/plain20-s0" and release["iterations"] == 6
    assert release["test_error"] == pytest.approx(record.final["test/top1_error"], abs=1e-4)
    assert (tmp_path / "weights" / release["file"]).is_file()
    pages = {p: (tmp_path / "reports" / f"{p}-paper.md").read_text() for p in ("fig1", "fig6", "fig7", "table6")}
    assert all("| plain20 | 6 of 6 |" in pages[p] for p in ("fig1", "fig6", "fig7"))
    assert all("| resnet20 | 64,000 of 64,000 |" in pages[p] for p in ("fig6", "fig7", "table6"))  # still there
    assert list((tmp_path / "runs" / "cifar10-paper" / "plain20-s0" / "checkpoints").glob("*.ckpt"))

    capsys.readouterr()
    main(args)  # published already: nothing to train, nothing to publish
    assert "published" not in capsys.readouterr().out

    runs = tmp_path / "runs"
    runs.rename(tmp_path / "runs-kept")  # a fresh checkout: runs/ is gone, the committed records and weights are not
    main([*args[:5], "--dry_run", *args[5:]])
    assert "plain20-s0: on record in reports/records/cifar10-paper/plain20-s0 (not trained again)" in (
        capsys.readouterr().out
    )
    main(args)
    out = capsys.readouterr().out
    assert "1 runs, 0 finished, 1 on record in reports/records, 0 to train" in out and "published" not in out
    assert not (runs / "cifar10-paper").exists() and json.loads((tmp_path / "weights" / "manifest.json").read_text())
    (tmp_path / "weights").rename(tmp_path / "weights-kept")  # a record without its weights is trained again
    main([*args[:5], "--dry_run", *args[5:]])
    assert "1 runs, 0 finished, 1 to train" in capsys.readouterr().out
    (tmp_path / "weights-kept").rename(tmp_path / "weights")
    (tmp_path / "runs-kept").rename(runs)

    published = tmp_path / "reports" / "records" / "cifar10-paper" / "plain20-s0"
    shutil.rmtree(published)  # a publication that never happened (or was lost) is caught up on the next start
    shutil.rmtree(tmp_path / "weights")
    main(args)
    assert "1 finished, 0 to train" in capsys.readouterr().out
    assert RunFolder(published).record().global_step == 6
    assert json.loads((tmp_path / "weights" / "manifest.json").read_text())["plain20"] == release

    shutil.rmtree(published)  # one that cannot be done is one line, and keeps what it could do
    (tmp_path / "runs" / "cifar10-paper" / "plain20-s0" / "checkpoints" / "last.ckpt").unlink()
    shutil.rmtree(tmp_path / "weights")
    with pytest.raises(SystemExit):
        main(args)
    err = capsys.readouterr()
    assert "trained but was not published: no checkpoint at runs/cifar10-paper/plain20-s0/checkpoints/last.ckpt" in (
        err.out
    )
    assert "1 finished run(s) were not published" in err.err and RunFolder(published).record().global_step == 6
