"""Runs that survive what breaks them: a second process on a run, unreadable checkpoints, full disks."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import tiny_fit
from pytorch_lightning.callbacks import Callback

from lightning_resnet.callbacks.checkpointing import AtomicCheckpointIO, CheckpointWriteError
from lightning_resnet.runs import RunBusyError, RunFolder, RunLock, RunWriteError, latest_checkpoint, write_atomically

REPO = Path(__file__).resolve().parents[1]
TABLE6 = str(REPO / "reproductions" / "table6.yaml")


@pytest.mark.slow  # a subprocess
def test_a_second_process_on_a_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from lightning_resnet.runs import RunLock; lock = RunLock({str(tmp_path)!r}).acquire(); "
            "print('locked', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunBusyError, match=rf"{tmp_path} is in use by pid {holder.pid} on "):
            RunLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    RunLock(tmp_path).acquire().release()  # the dead holder's lock is gone with it: no stale lock


def test_resume_skips_a_newer_checkpoint_that_does_not_load(tmp_path: Path) -> None:
    torch.save({"global_step": 20}, tmp_path / "last.ckpt")
    time.sleep(0.01)
    (tmp_path / "interrupted.ckpt").write_bytes(b"")  # a full disk left it empty
    said: list[str] = []
    assert latest_checkpoint(tmp_path, log=said.append) == tmp_path / "last.ckpt"
    assert said == [
        f"skipping {tmp_path / 'interrupted.ckpt'}: it does not load (truncated or empty: a full disk or "
        "a kill while it was written)"
    ]


def test_checkpoint_write_failure_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1}, str(tmp_path / "last.ckpt"))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(CheckpointWriteError, match=r"cannot write checkpoint .*not_a_folder/last.ckpt"):
        io.save_checkpoint({"global_step": 2}, str(blocker / "last.ckpt"))
    assert torch.load(tmp_path / "last.ckpt", weights_only=False)["global_step"] == 1
    assert not list(tmp_path.glob(".*.partial"))


@pytest.mark.slow
def test_full_disk_ends_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    disk = tmp_path / "small"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)]).returncode:
        pytest.skip("needs root to mount a small tmpfs as a full disk")
    try:
        io = AtomicCheckpointIO()
        io.save_checkpoint({"weights": torch.zeros(100_000)}, str(disk / "last.ckpt"))  # 400 kB: fits
        with pytest.raises(CheckpointWriteError, match="No space left on device"):
            io.save_checkpoint({"weights": torch.ones(100_000)}, str(disk / "last.ckpt"))  # needs a second 400 kB
        assert torch.load(disk / "last.ckpt", weights_only=False)["weights"].sum() == 0  # the good one is intact
        assert sorted(p.name for p in disk.iterdir()) == ["last.ckpt"]
        responses = disk / "layer_responses.csv"  # Figure 7's statistics: one line too, no 0-byte file left
        with pytest.raises(RunWriteError, match=rf"cannot write file {responses} \(No space left on device\)"):
            write_atomically(responses, lambda f: f.write(b"0.5\n" * 100_000))
        assert sorted(p.name for p in disk.iterdir()) == ["last.ckpt"]
    finally:
        subprocess.run(["umount", str(disk)])


def cli(*args: str, cwd: Path, env: dict | None = None, **popen) -> subprocess.Popen:
    env = {**(env or os.environ), "WANDB_MODE": "offline"}
    return subprocess.Popen(
        [sys.executable, "-m", "lightning_resnet", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **popen,
    )


@pytest.mark.slow
def test_sigterm_is_an_interruption_not_success(tmp_path: Path, cifar_dir: Path) -> None:
    args = [
        *tiny_fit(cifar_dir),
        "--trainer.max_steps=100000",
        f"--runs_dir={tmp_path}",
    ]
    process = cli(*args, cwd=tmp_path)
    run_dir = tmp_path / "table6" / "resnet8-s0"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run_dir / "metrics.csv").is_file():
        time.sleep(0.5)
    time.sleep(3)
    process.terminate()  # what SLURM sends before preempting a job
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 143, out[-2000:]
    assert "stopped by SIGTERM" in out.splitlines()[-1]
    record = RunFolder(run_dir).read()
    assert record["status"] == "interrupted" and record["train_seconds"] > 0 and record["global_step"] > 0
    assert (run_dir / "checkpoints" / "interrupted.ckpt").is_file()


@pytest.mark.slow
def test_a_run_trained_but_never_tested_is_tested_by_reproduce(tmp_path: Path, cifar_dir: Path) -> None:
    from lightning_resnet.reproduce import plan

    tiny = [
        "--data.init_args.batch_size=16",
        "--model.bn_batch=8",
        "--trainer.max_steps=4",
        "--trainer.val_check_interval=4",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        f"--data.init_args.data_dir={cifar_dir}",
    ]
    run = plan("fig1", "smoke", runs_dir=tmp_path, extra=(*tiny,), networks="plain20")[0]
    trained = cli(*run.args, "--test_after_fit=false", cwd=tmp_path)  # as if the test had been interrupted
    assert trained.wait(timeout=300) == 0
    assert RunFolder(run.run_dir).read()["status"] == "trained" and run.state == "trained"
    assert run.commands() == [("test", *run.args[1:])]
    healed = cli(
        "reproduce",
        "fig1",
        "--networks=plain20",
        f"--runs_dir={tmp_path}",
        f"--reports_dir={tmp_path / 'r'}",
        "--",
        *tiny,
        cwd=tmp_path,
    )
    out, _ = healed.communicate(timeout=300)
    assert healed.returncode == 0, out[-2000:]
    record = RunFolder(run.run_dir).read()
    assert record["status"] == "finished" and "test/top1_error" in record["final"] and record["global_step"] == 4
    assert run.state == "done" and run.commands() == []


@pytest.mark.slow
def test_a_new_fit_never_erases_a_finished_run(tmp_path: Path, cifar_dir: Path) -> None:
    args = [
        *tiny_fit(cifar_dir),
        "--trainer.max_steps=3",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        f"--runs_dir={tmp_path}",
    ]
    assert cli(*args, cwd=tmp_path).wait(timeout=300) == 0
    run_dir = tmp_path / "table6" / "resnet8-s0"
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    again = cli(*args, "--trainer.max_steps=5", cwd=tmp_path)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 2
    assert out.strip().splitlines()[-1] == (
        f"lightning-resnet: error: {run_dir} already holds a finished run: start another with --run_name NAME, or "
        "replace it with --overwrite true"
    )
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}  # nothing touched
    assert cli(*args, "--overwrite=true", cwd=tmp_path).wait(timeout=300) == 0  # a deliberate restart still works


def test_report_of_an_unknown_id_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    from lightning_resnet.reporting import build_report

    with pytest.raises(ValueError, match=r"no report id or runs named 'tabel6'.*report ids: table1, fig1"):
        build_report("tabel6", tmp_path / "runs", tmp_path / "reports")
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_a_resume_during_the_warm_up_switches_at_the_same_iteration(tmp_path: Path, cifar_dir: Path) -> None:
    """The ResNet-110 warm-up decides on the checkpointed training-error window: an interrupted run switches to
    LR 0.1 at the same iteration as an uninterrupted one."""
    every_5 = tmp_path / "every5.yaml"
    every_5.write_text("trainer:\n  val_check_interval: 5\n  limit_val_batches: 1\n")
    args = [
        "fit",
        "--config",
        TABLE6,
        "--config",
        str(every_5),
        "--model.arch=resnet8",
        "--model.bn_batch=16",
        "--data.init_args.batch_size=32",
        f"--data.init_args.data_dir={cifar_dir}",
        "--trainer.max_steps=40",
        "--trainer.log_every_n_steps=1",
        "--test_after_fit=false",
        "--trainer.callbacks+=lightning_resnet.callbacks.TrainErrorWarmup",
        "--trainer.callbacks.until_error=87",
    ]

    def switch_step(runs: Path) -> int:
        checkpoint = torch.load(runs / "table6" / "resnet8-s0" / "checkpoints" / "last.ckpt", weights_only=False)
        return next(v for k, v in checkpoint["callbacks"].items() if "TrainErrorWarmup" in k)["switched_at_step"]

    assert cli(*args, f"--runs_dir={tmp_path / 'whole'}", cwd=tmp_path).wait(timeout=300) == 0
    whole = switch_step(tmp_path / "whole")
    assert whole is not None and whole > 5  # the switch happens after the interruption below
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    killed = cli(
        *args,
        f"--runs_dir={tmp_path / 'broken'}",
        "--trainer.callbacks+=faults.KillAt",
        "--trainer.callbacks.step=6",
        cwd=tmp_path,
        env=env,
    )
    assert killed.wait(timeout=300) == -9  # killed during iteration 6: resumes from the checkpoint at 5
    assert cli(*args, f"--runs_dir={tmp_path / 'broken'}", "--ckpt_path=last", cwd=tmp_path).wait(timeout=300) == 0
    assert switch_step(tmp_path / "broken") == whole


class CheckpointProbe(Callback):
    """The step of ``last.ckpt`` at the start of every training step."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_batch_start(self, trainer, *args) -> None:
        step = torch.load(self.path, weights_only=False)["global_step"] if self.path.is_file() else None
        self.seen.append(step)


@pytest.mark.slow
def test_a_run_is_checkpointed_after_every_validation(tmp_path: Path, cifar_dir: Path) -> None:
    from lightning_resnet.cli import default_callbacks, run_command

    probe = CheckpointProbe(tmp_path / "table6" / "resnet8-s0" / "checkpoints" / "last.ckpt")
    args = [
        *tiny_fit(cifar_dir),
        "--trainer.max_steps=12",
        "--trainer.val_check_interval=5",
        "--trainer.limit_val_batches=1",
        "--test_after_fit=false",
        f"--runs_dir={tmp_path}",
    ]
    run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), probe]})
    assert probe.seen == [None] * 5 + [5] * 5 + [10] * 2


@pytest.mark.slow
def test_a_corrupted_explicit_checkpoint_is_one_line_naming_it(tmp_path: Path, cifar_dir: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"PK\x03\x04 not a checkpoint")
    args = [*tiny_fit(cifar_dir), "--trainer.max_steps=3", f"--runs_dir={tmp_path}", f"--ckpt_path={broken}"]
    process = cli(*args, cwd=tmp_path)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 2
    assert out.strip().splitlines()[-1] == (
        f"lightning-resnet: error: {broken} is not a readable checkpoint (truncated, empty or not a checkpoint): pass "
        "another checkpoint of the run, or --ckpt_path last to take its newest checkpoint that loads"
    )
    assert "weights_only" not in out
    assert not (tmp_path / "table6" / "resnet8-s0" / "run.json").exists()  # the run's record was never started


@pytest.mark.slow
def test_a_resume_may_lower_the_lr_deliberately_and_the_record_says_when(tmp_path: Path, cifar_dir: Path) -> None:
    args = [
        *tiny_fit(cifar_dir),
        "--trainer.max_steps=6",
        "--model.milestones=[100]",
        "--trainer.val_check_interval=2",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        "--trainer.log_every_n_steps=1",
        f"--runs_dir={tmp_path}",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    killed = cli(*args, "--trainer.callbacks+=faults.KillAt", "--trainer.callbacks.step=5", cwd=tmp_path, env=env)
    assert killed.wait(timeout=300) == -9  # as a diverging run would stop: the last checkpoint is at iteration 4
    run_dir = tmp_path / "table6" / "resnet8-s0"
    first = RunFolder(run_dir).read()  # the heartbeat of the killed segment, at its last checkpoint
    assert first["timed_steps"] == 4 and first["train_seconds"] > 0
    lowered = cli(*args, "--ckpt_path=last", "--override_lr=0.01", cwd=tmp_path)
    out, _ = lowered.communicate(timeout=300)
    assert lowered.returncode == 0, out
    record = RunFolder(run_dir).read()
    assert record["changes"] == [{"iteration": 4, "lr": {"from": 0.1, "to": 0.01}}]
    # a resume in a new process keeps the record: the time of both segments, for all 6 iterations
    assert record["timed_steps"] == 6 and record["train_seconds"] > first["train_seconds"]
    with open(run_dir / "metrics.csv") as f:
        lr = {int(r["step"]): float(r["lr"]) for r in csv.DictReader(f) if r["lr"]}
    assert [lr[s] for s in sorted(lr)] == [0.1] * 4 + [0.01] * 2  # iterations 0-3 at 0.1, then 4-5 at 0.01
    refused = cli(*args, "--override_lr=0.01", "--run_name=other", cwd=tmp_path)
    out, _ = refused.communicate(timeout=300)
    assert refused.returncode == 2 and "add --ckpt_path last" in out.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_killed_run_keeps_its_wandb_history_up_to_the_last_flush(tmp_path: Path, cifar_dir: Path) -> None:
    from lightning_resnet.tracking import WANDB_FLUSH_SECONDS, read_wandb_history

    args = [*tiny_fit(cifar_dir), "--trainer.max_steps=20", "--trainer.log_every_n_steps=1", f"--runs_dir={tmp_path}"]
    faults = [
        "--trainer.callbacks+=faults.PauseAt",
        "--trainer.callbacks.step=4",
        f"--trainer.callbacks.seconds={WANDB_FLUSH_SECONDS + 3}",  # a flush falls in the pause ...
        "--trainer.callbacks+=faults.KillAt",
        "--trainer.callbacks.step=5",  # ... and right after it the run dies with no chance to write anything
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    assert cli(*args, *faults, cwd=tmp_path, env=env).wait(timeout=300) == -9
    folder = next((tmp_path / "table6" / "resnet8-s0" / "wandb").glob("offline-run-*"))
    steps = {int(row["trainer/global_step"]) for row in read_wandb_history(folder) if "train/loss" in row}
    assert {0, 1, 2, 3} <= steps <= {0, 1, 2, 3, 4}  # all logged before the pause reached the file (4: if flushed)


@pytest.mark.slow
def test_missing_data_ends_the_command_before_the_run_folder_is_made(tmp_path: Path) -> None:
    args = [*tiny_fit(tmp_path / "nowhere"), "--data.init_args.download=false", f"--runs_dir={tmp_path / 'runs'}"]
    process = cli(*args, cwd=tmp_path)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 2
    line = out.strip().splitlines()[-1]
    assert line.startswith(f"lightning-resnet: error: CIFAR-10 not found: expected {tmp_path / 'nowhere'}")
    assert not (tmp_path / "runs").exists()  # no run folder, record, lock or W&B id left behind
