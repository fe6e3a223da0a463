"""The command line: configs, the smoke preset, resumption after an interruption, clear errors."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from conftest import tiny_fit
from packaging.version import Version
from pytorch_lightning.callbacks import Callback

from lightning_resnet.cli import ResNetCLI, default_callbacks, run_command

REPO = Path(__file__).resolve().parents[1]
TABLE6 = str(REPO / "reproductions" / "table6.yaml")
SMOKE = str(REPO / "reproductions" / "presets" / "smoke.yaml")


def run_cli(*args: str, cwd: Path, data: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIGHTNING_RESNET_DATA": str(data) if data else "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "lightning_resnet", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_table6_config_is_the_papers_recipe(tmp_path: Path) -> None:
    cli = ResNetCLI(args=["--config", TABLE6, "--data.init_args.download=false", f"--runs_dir={tmp_path}"])
    model, trainer = cli.model, cli.trainer
    assert model.hparams.arch == "resnet20" and model.hparams.lr == 0.1 and model.hparams.weight_decay == 1e-4
    assert list(model.hparams.milestones) == [32_000, 48_000] and trainer.max_steps == 64_000
    assert cli.datamodule.hparams.batch_size == 128 and cli.datamodule.hparams.val_size == 5000
    assert not any(tmp_path.iterdir())  # built without a command: nothing written, no run folder made


@pytest.mark.parametrize("native_bf16", [True, False])
@pytest.mark.parametrize(("preset", "shortened"), [("smoke", 400), ("short", 20)])
def test_cpu_presets_shorten_the_schedule_in_proportion_and_pick_cpu_speed(
    preset: str, shortened: int, native_bf16: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lightning_resnet.hardware.native_bf16", lambda device="cpu": native_bf16)
    paper = ResNetCLI(args=["--config", TABLE6, f"--runs_dir={tmp_path}"])
    smoke = ResNetCLI(
        args=[
            "--config",
            TABLE6,
            "--config",
            str(REPO / "reproductions" / "presets" / f"{preset}.yaml"),
            f"--runs_dir={tmp_path}",
        ],
    )
    assert smoke.trainer.max_steps == paper.trainer.max_steps // shortened
    assert [m / smoke.trainer.max_steps for m in smoke.model.hparams.milestones] == [
        m / paper.trainer.max_steps for m in paper.model.hparams.milestones
    ]
    changed = {k for k, v in smoke.model.hparams.items() if paper.model.hparams[k] != v}
    # the schedule, and on a CPU with native bf16 the memory layout for speed
    assert changed == ({"milestones", "channels_last"} if native_bf16 else {"milestones"})
    assert smoke.datamodule.hparams == paper.datamodule.hparams
    assert smoke.trainer.precision == ("bf16-mixed" if native_bf16 else "32-true")
    assert paper.trainer.precision == "32-true" and paper.speed is None  # the paper preset is never resolved


class StopAt(Callback):
    """Raise KeyboardInterrupt after ``step`` optimizer steps, as a Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


class FirstStep(Callback):
    def __init__(self) -> None:
        self.lrs: dict[int, float] = {}

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.lrs[trainer.global_step] = optimizer.param_groups[0]["lr"]


@pytest.mark.slow
def test_interrupted_fit_resumes_at_the_same_iteration_and_learning_rate(tmp_path: Path, cifar_dir: Path) -> None:
    args = [
        "fit",
        "--config",
        TABLE6,
        "--model.arch=resnet8",
        "--model.milestones=[3, 5]",
        "--model.bn_batch=16",
        f"--data.init_args.data_dir={cifar_dir}",
        "--data.init_args.batch_size=32",
        "--trainer.max_steps=7",
        "--trainer.val_check_interval=100",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.log_every_n_steps=1",
        f"--runs_dir={tmp_path}",
    ]
    handler = signal.getsignal(signal.SIGINT)
    first = FirstStep()
    try:
        with pytest.raises(SystemExit):  # Lightning turns Ctrl-C into a graceful shutdown and exit(1)
            run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), StopAt(4), first]})
    finally:
        signal.signal(signal.SIGINT, handler)
    run_dir = tmp_path / "table6" / "resnet8-s0"
    saved = torch.load(run_dir / "checkpoints" / "interrupted.ckpt", weights_only=False)
    assert saved["global_step"] == 4
    assert (run_dir / "config.yaml").is_file() and (run_dir / "metrics.csv").is_file()

    logged_steps = [row["step"] for row in csv.DictReader((run_dir / "metrics.csv").open())]
    assert "3" in logged_steps  # metrics up to the interruption were written

    resumed = FirstStep()
    cli = run_command([*args, "--ckpt_path=last"], trainer_defaults={"callbacks": [*default_callbacks(), resumed]})
    assert min(resumed.lrs) == 4 and cli.trainer.global_step == 7
    assert first.lrs == pytest.approx({0: 0.1, 1: 0.1, 2: 0.1, 3: 0.01})
    assert resumed.lrs == pytest.approx({4: 0.01, 5: 0.001, 6: 0.001})
    assert not (run_dir / "checkpoints" / "interrupted.ckpt").exists()  # removed once the run finished
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 7
    steps = {row["step"] for row in csv.DictReader((run_dir / "metrics.csv").open())}
    assert {"0", "1", "2", "3", "4", "5", "6"} <= steps  # the interrupted segment's rows survive the resume


@pytest.mark.slow
def test_fit_fast_dev_run_on_real_cifar10(tmp_path: Path, cifar_dir: Path) -> None:
    result = run_cli("fit", "--config", TABLE6, "--trainer.fast_dev_run=true", cwd=tmp_path, data=cifar_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "`Trainer.fit` stopped: `max_steps=1` reached." in result.stderr + result.stdout


@pytest.mark.slow
def test_unknown_model_name_is_one_clear_line(tmp_path: Path, cifar_dir: Path) -> None:
    result = run_cli(
        "fit", "--config", TABLE6, "--model.arch=resnet21", "--trainer.fast_dev_run=true", cwd=tmp_path, data=cifar_dir
    )
    assert result.returncode == 2
    assert (
        "lightning-resnet: error: Unknown model 'resnet21'. Did you mean" in result.stderr
        and "resnet20" in result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_wrong_config_key_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  arch: resnet20\n  learning_rate: 0.1\n")
    result = run_cli("fit", "--config", TABLE6, "--config", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert "learning_rate" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_dataset_says_where_to_put_it(tmp_path: Path) -> None:
    result = run_cli(
        "fit", "--config", TABLE6, "--data.init_args.download=false", "--trainer.fast_dev_run=true", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "CIFAR-10 not found: expected /nonexistent/cifar-10-batches-py/" in result.stderr
    assert "LIGHTNING_RESNET_DATA" in result.stderr


@pytest.mark.slow
def test_print_config_shows_the_resolved_recipe(tmp_path: Path) -> None:
    result = run_cli("fit", "--config", TABLE6, "--config", SMOKE, "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "max_steps: 160" in result.stdout and "- 80" in result.stdout and "arch: resnet20" in result.stdout


@pytest.mark.parametrize(("given", "parsed"), [("1", 1), ("3", 3), ("0.25", 0.25), ("1.0", 1.0)])
def test_batch_limits_read_integers_as_batch_counts(given: str, parsed: float, tmp_path: Path) -> None:
    cli = ResNetCLI(args=["--config", TABLE6, f"--trainer.limit_val_batches={given}", f"--runs_dir={tmp_path}"])
    assert cli.trainer.limit_val_batches == parsed and type(cli.trainer.limit_val_batches) is type(parsed)


@pytest.mark.slow
def test_fit_in_a_log_prints_progress_lines_and_a_summary_and_nothing_noisy(tmp_path: Path, cifar_dir: Path) -> None:
    result = run_cli(
        "fit",
        "--config",
        TABLE6,
        "--config",
        SMOKE,
        "--trainer.max_steps=20",
        "--trainer.val_check_interval=10",
        "--trainer.limit_val_batches=2",
        "--trainer.limit_test_batches=2",
        f"--runs_dir={tmp_path}",
        cwd=tmp_path,
        data=cifar_dir,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "iteration 10/20  loss " in out and "iteration 20: top-1 error  test_curve " in out
    progress = next(line for line in out.splitlines() if line.startswith("iteration 10/20  loss "))
    assert re.search(r" it/s  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+$", progress), progress  # when, in a log of days
    assert "Epoch 0:" not in out and "it/s]" not in out  # no progress-bar redraws in a log
    assert "Tip:" not in out and "LeafSpec" not in out and "anonymous" not in out and "IterableDataset" not in out
    assert "81.1 M    Total Flops" in out  # the summary counts the network's real multiply-adds
    summary = out[out.index("run:        ") :]
    assert f"run:        {tmp_path}/cifar10-smoke/resnet20-s0" in summary and "iterations: 20 of 20" in summary
    assert "test error: top-1 " in summary
    assert f"upload with `python -m lightning_resnet sync {tmp_path}/cifar10-smoke/resnet20-s0`" in summary
    # the quick start's run is where `reproduce` trains and `report` of the same table and preset reads
    page = run_cli(
        "report", "table6", "--preset", "smoke", f"--runs_dir={tmp_path}", "--reports_dir=reports", cwd=tmp_path
    )
    assert page.returncode == 0 and "from 1 runs" in page.stdout, page.stdout + page.stderr
    assert "| resnet20 | 20 of 20 |" in (tmp_path / "reports" / "table6-smoke.md").read_text()


@pytest.mark.slow  # a subprocess
def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m lightning_resnet <command>")
    for command in ("fit", "validate", "test", "predict", "reproduce", "report"):
        assert f"\n  {command} " in result.stdout


@pytest.mark.slow
def test_shell_completion_is_printed_by_jsonargparse(tmp_path: Path) -> None:
    result = run_cli("fit", "--print_completion", "shtab-bash", cwd=tmp_path)
    assert result.returncode == 0 and "AUTOMATICALLY GENERATED by https://github.com/tqdm/shtab" in result.stdout
    assert "--model.arch" in result.stdout and "reproductions" not in result.stderr


@pytest.mark.parametrize(("args", "said"), [(["bogus"], "unknown command 'bogus'"), (["detect"], "no command given")])
def test_an_unknown_command_is_one_line_naming_the_commands(
    args: list[str], said: str, capsys: pytest.CaptureFixture
) -> None:
    from lightning_resnet.cli import main

    with pytest.raises(SystemExit) as exit:
        main(args)
    err = capsys.readouterr().err.strip()
    assert exit.value.code == 2 and len(err.splitlines()) == 1 and said in err and "fit, validate, test, predict" in err


@pytest.mark.slow  # trains
def test_the_commands_are_explicit_calls_on_what_the_cli_built(tmp_path: Path, cifar_dir: Path) -> None:
    """LightningCLI with run=False: the CLI builds, ``fit`` runs; the run folder is locked while the command lasts."""
    from lightning_resnet.cli import COMMANDS
    from lightning_resnet.runs import RunBusyError, RunFolder

    args = ["--config", TABLE6, "--model.arch=resnet8", f"--data.init_args.data_dir={cifar_dir}"]
    args += ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1"]
    args += [f"--runs_dir={tmp_path}"]
    cli = ResNetCLI(args=args, command="fit")
    assert cli.trainer.global_step == 0 and cli.subcommand is None  # built, nothing run
    with pytest.raises(RunBusyError):
        RunFolder(cli.run_dir()).lock()  # the command holds its run folder from the moment it is built
    COMMANDS["fit"](cli)
    cli.close()
    assert cli.trainer.global_step == 2 and "test/top1_error" in RunFolder(cli.run_dir()).record().final
    RunFolder(cli.run_dir()).lock().release()  # free again once closed


def test_quiet_drops_the_model_summarys_mixed_precision_warning_and_nothing_else() -> None:
    from pytorch_lightning.demos.boring_classes import BoringModel
    from pytorch_lightning.utilities.model_summary import ModelSummary

    from lightning_resnet.cli.entry import quiet

    model = BoringModel()
    model.trainer = pl.Trainer(precision="bf16-mixed", accelerator="cpu", logger=False, enable_progress_bar=False)
    if Version(pl.__version__) >= Version("2.5.3"):  # the release that added the warning; older ones are silent
        with pytest.warns(UserWarning, match="Precision bf16-mixed is not supported by the model summary"):
            ModelSummary(model)  # Lightning's own warning, without the filter
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet()
        assert ModelSummary(model).total_parameters == 66  # the summary itself is unchanged
        warnings.warn("an unrelated warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["an unrelated warning"]


class SigtermInValidation(Callback):
    """Send this process SIGTERM at the first validation batch after ``step`` iterations, as a scheduler would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_validation_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if trainer.state.fn == "fit" and trainer.global_step == self.step and batch_idx == 0:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.slow
def test_a_sigterm_during_validation_finishes_it_so_the_resumed_run_keeps_that_point(
    tmp_path: Path, cifar_dir: Path
) -> None:
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from lightning_resnet.runs import RunFolder, read_curves

    args = tiny_fit(
        cifar_dir,
        "--trainer.max_steps=6",
        "--trainer.val_check_interval=2",
        "--trainer.limit_val_batches=3",
        "--trainer.limit_test_batches=1",
        "--trainer.log_every_n_steps=1",
        f"--runs_dir={tmp_path}",
    )
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SIGTERMException):
            run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), SigtermInValidation(4)]})
    finally:
        signal.signal(signal.SIGTERM, handler)
    run_dir = tmp_path / "table6" / "resnet8-s0"
    assert [s for s, _ in read_curves(run_dir / "metrics.csv")["val/top1_error"]] == [1, 3]  # finished, not lost
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4
    assert not (run_dir / "checkpoints" / "interrupted.ckpt").exists()  # last.ckpt, saved by that validation
    assert RunFolder(run_dir).record().status == "interrupted"
    run_command([*args, "--ckpt_path=last"], trainer_defaults={"callbacks": default_callbacks()})
    resumed = read_curves(run_dir / "metrics.csv")
    whole = tmp_path / "whole"
    run_command([*args[:-1], f"--runs_dir={whole}"], trainer_defaults={"callbacks": default_callbacks()})
    uninterrupted = read_curves(whole / "table6" / "resnet8-s0" / "metrics.csv")
    for key in ("train/loss", "val/top1_error", "val/loss", "test_curve/top1_error"):
        assert resumed[key] == uninterrupted[key]  # same steps, same values: as if never stopped
    assert [s for s, _ in resumed["val/top1_error"]] == [1, 3, 5]
