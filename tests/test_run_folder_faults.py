"""The seven faults fault injection found in the run folder (issue 23), each as it behaves now: tiny fp32 ResNet-8
runs on the real CIFAR-10, driven through the console entry point as a user's command is."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import tiny_fit

from lightning_resnet.cli import main
from lightning_resnet.reporting import build_report
from lightning_resnet.runs import RunFolder

TINY = ("--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1")


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """``python -m lightning_resnet ARGS`` in this process: its exit status and the last line it wrote to stderr."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    lines = capsys.readouterr().err.strip().splitlines()
    return code, lines[-1] if lines else ""


@pytest.fixture
def finished(cifar_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[list[str], Path]:
    """A finished ResNet-8 run: its command and folder."""
    args = [*tiny_fit(cifar_dir, f"--runs_dir={tmp_path / 'runs'}"), *TINY, "--trainer.enable_progress_bar=false"]
    assert run(capsys, *args)[0] == 0
    return args, tmp_path / "runs" / "table6" / "resnet8-s0"


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}


@pytest.mark.slow
def test_1_an_explicit_checkpoint_of_another_run_is_checked_against_the_command_line(
    finished: tuple[list[str], Path], capsys: pytest.CaptureFixture
) -> None:
    args, folder = finished
    other = [a for a in args if not a.startswith("--model.arch")]
    code, line = run(
        capsys,
        *other,
        "--run_name=other",
        "--model.arch=resnet20",
        "--model.lr=0.05",
        f"--ckpt_path={folder / 'checkpoints' / 'last.ckpt'}",
    )
    assert code == 2 and "was trained as another experiment" in line
    assert "model.arch: 'resnet8' -> 'resnet20'" in line and "model.lr: 0.1 -> 0.05" in line


@pytest.mark.slow
def test_2_resuming_a_finished_run_changes_nothing_and_says_so(
    finished: tuple[list[str], Path], capsys: pytest.CaptureFixture
) -> None:
    args, folder = finished
    before = files_of(folder)
    code, line = run(capsys, *args, "--ckpt_path=last")
    assert code == 0 and "has trained to its end (2 iterations) and tested: nothing to resume" in line
    assert files_of(folder) == before and RunFolder(folder).read()["status"] == "finished"


@pytest.mark.slow
def test_3_a_killed_report_keeps_the_previous_page_and_the_index_skips_a_broken_one(
    finished: tuple[list[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    reports = tmp_path / "reports"
    page, _ = build_report("table6", tmp_path / "runs", reports)
    good = page.read_bytes()

    def killed(*_: Any) -> None:
        raise KeyboardInterrupt  # SIGKILL at the first write: nothing after this point runs

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        build_report("table6", tmp_path / "runs", reports)
    assert page.read_bytes() == good  # the previous version is intact
    monkeypatch.undo()
    (reports / "empty.md").write_bytes(b"")  # what the old, non-atomic writer left after such a kill
    build_report("table6", tmp_path / "runs", reports)
    index = (reports / "README.md").read_text()
    assert "[table6](table6.md)" in index and "empty" not in index
    assert f"skipping {reports / 'empty.md'} in the index" in capsys.readouterr().err


@pytest.mark.slow
def test_4_a_broken_record_is_named_and_does_not_block_a_page_of_the_others(
    finished: tuple[list[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args, folder = finished
    ids, record = (folder / "wandb_id.txt").read_text(), (folder / "run.json").read_text()
    (folder / "run.json").write_text("")
    code, line = run(capsys, *args, "--ckpt_path=last")
    assert code == 2 and f"{folder / 'run.json'} is not a readable run record" in line and "move it aside" in line
    assert line.count(str(folder / "run.json")) == 1  # said once, not wrapped in a second message
    assert (folder / "wandb_id.txt").read_text() == ids  # no W&B segment was added
    # under report: a truncated record and a garbled metrics cell are each named, and the page is written
    twin = folder.parent / "resnet8-s1"
    shutil.copytree(folder, twin)
    (twin / "run.json").write_text(record)
    (folder / "run.json").write_text('{"status": "fini')
    header, first, *rest = (twin / "metrics.csv").read_text().splitlines()
    cells = first.split(",")
    column = next(i for i, (k, v) in enumerate(zip(header.split(","), cells)) if v and k not in ("step", "epoch"))
    cells[column] = "garbled"
    (twin / "metrics.csv").write_text("\n".join([header, ",".join(cells), *rest]) + "\n")
    page, used = build_report("table6", tmp_path / "runs", tmp_path / "reports")
    err = capsys.readouterr().err
    assert f"{folder / 'run.json'} is not a readable run record" in err and f"{twin / 'metrics.csv'}, line 2" in err
    assert used == [] and "Unreadable, so left out: resnet8-s0, resnet8-s1" in page.read_text()


@pytest.mark.slow
def test_5_an_unwritable_runs_dir_or_a_bad_setting_is_one_line_and_leaves_nothing(
    cifar_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, line = run(capsys, *tiny_fit(cifar_dir, f"--runs_dir={blocker / 'runs'}"), *TINY)
    assert (
        code == 2 and line.startswith("lightning-resnet: error: cannot create the run folder") and "--runs_dir" in line
    )
    runs = tmp_path / "runs"
    code, line = run(capsys, *tiny_fit(cifar_dir, f"--runs_dir={runs}"), "--trainer.max_steps=-5")
    assert code == 2 and line.startswith("lightning-resnet: error: ") and "max_steps" in line
    assert not (runs / "table6" / "resnet8-s0").exists()  # no lock, no W&B id, no folder


@pytest.mark.slow
def test_6_the_advice_after_a_nan_before_any_checkpoint_is_a_command_that_works(
    cifar_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [*tiny_fit(cifar_dir, f"--runs_dir={tmp_path}"), *TINY, "--trainer.log_every_n_steps=1"]
    code, line = run(capsys, *args, "--model.lr=1e38")  # diverges at its first step
    assert code == 2 and "not finite at iteration 1. No checkpoint was written;" in line
    assert "run the same command again with a lower LR (--model.lr LR)" in line
    assert run(capsys, *args, "--model.lr=0.01")[0] == 0  # as advised: not refused, trains, tests
    assert RunFolder(tmp_path / "table6" / "resnet8-s0").read()["status"] == "finished"


@pytest.mark.slow
def test_7_a_run_that_failed_before_its_first_step_does_not_block_the_same_command(
    cifar_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "cifar" / "cifar-10-batches-py"
    data.mkdir(parents=True)
    for part in (cifar_dir / "cifar-10-batches-py").iterdir():
        (data / part.name).symlink_to(part)
    (data / "data_batch_3").unlink()
    (data / "data_batch_3").write_bytes((cifar_dir / "cifar-10-batches-py" / "data_batch_3").read_bytes()[:1000])
    args = [*tiny_fit(tmp_path / "cifar", f"--runs_dir={tmp_path / 'runs'}"), *TINY]
    code, line = run(capsys, *args)
    assert code == 2 and "data_batch_3" in line
    (data / "data_batch_3").unlink()
    (data / "data_batch_3").symlink_to(cifar_dir / "cifar-10-batches-py" / "data_batch_3")  # the data restored
    assert run(capsys, *args)[0] == 0
    record = RunFolder(tmp_path / "runs" / "table6" / "resnet8-s0").read()
    assert record["status"] == "finished" and json.dumps(record)  # trained and tested
    assert torch.load(tmp_path / "runs" / "table6" / "resnet8-s0" / "checkpoints" / "last.ckpt", weights_only=False)
