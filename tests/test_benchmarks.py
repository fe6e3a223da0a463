"""The benchmarks' bookkeeping: the throughput benchmark times the plain loop apart from the suite, and the GPU
staging puts CIFAR-10 back together byte for byte from the parts that reach the device machine, and the re-run
comparison finds the first step where a run leaves its record."""

from __future__ import annotations

import lzma
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_stage  # noqa: E402
from rerun import RECORDS, compare_curves, record_at  # noqa: E402
from throughput import InterleavedTimer  # noqa: E402


class SleepingLoop:
    """Stands in for the plain loop: each iteration takes ``seconds`` and sees 128 images."""

    device = torch.device("cpu")

    def __init__(self, seconds: float) -> None:
        self.seconds, self.steps = seconds, 0

    def run(self, steps: int) -> int:
        time.sleep(steps * self.seconds)
        self.steps += steps
        return 128 * steps


def test_interleaved_blocks_split_the_time_between_suite_and_plain_loop() -> None:
    plain = SleepingLoop(0.01)
    timer = InterleavedTimer(plain, warmup=2, steps=9, block=4)
    trainer = SimpleNamespace(global_step=0, strategy=SimpleNamespace(root_device=torch.device("cpu")))
    timer.on_train_start(trainer)
    assert plain.steps == 2  # the plain loop's own untimed warm-up
    for step in range(11):  # the suite's iterations: 2 untimed, then 9 timed of 0.03 s each
        trainer.global_step = step
        timer.on_train_batch_start(trainer)
        time.sleep(0.03)
        trainer.global_step = step + 1
        timer.on_train_batch_end(trainer)
    assert timer.plain_images == 128 * 9  # blocks of 4, 4 and the last 1, before suite steps 2, 6 and 10
    assert timer.plain_seconds == pytest.approx(0.09, abs=0.03)
    assert timer.suite_seconds == pytest.approx(0.27, abs=0.06)  # the plain loop's blocks left out


def test_gpu_staging_restores_each_batch_as_its_part_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "device"
    monkeypatch.setattr(gpu_stage, "SITE", root / "site")
    monkeypatch.setattr(gpu_stage, "CIFAR", root / "cifar10" / "cifar-10-batches-py")
    monkeypatch.chdir(tmp_path)
    contents = {name: name.encode() * 1000 for names in gpu_stage.PARTS.values() for name in names}
    reports = []
    for part, names in gpu_stage.PARTS.items():  # one device call each: only its own part is in the checkout
        stage = tmp_path / ".gpu" / part
        stage.mkdir(parents=True)
        for name in names:
            (stage / f"{name}.xz").write_bytes(lzma.compress(contents[name]))
        assert gpu_stage.env_lines() == []  # nothing to export until the test batch is there
        gpu_stage.unpack()
        reports.append(sorted(p.name for p in gpu_stage.CIFAR.iterdir()))
        shutil.rmtree(tmp_path / ".gpu")
    assert reports[0] == ["data_batch_1"]
    assert len(reports[-1]) == 7
    assert all((gpu_stage.CIFAR / n).read_bytes() == data for n, data in contents.items())
    assert gpu_stage.env_lines() == [f"export LIGHTNING_RESNET_DATA=${{LIGHTNING_RESNET_DATA:-{root / 'cifar10'}}}"]


def test_rerun_comparison_counts_equal_points_and_names_the_first_difference() -> None:
    record = {
        "train/loss": [(49, 1.885227084159851), (99, 1.6456432342529297), (149, 1.5), (199, 1.4)],
        "val/top1_error": [(999, 40.0)],
        "lr-CaffeSGD": [(49, 0.1)],  # a key the run does not log is not compared
    }
    run = {  # still training: two steps fewer, and step 149 one ulp away
        "train/loss": [(49, 1.885227084159851), (99, 1.6456432342529297), (149, 1.5000000000000002)],
        "val/top1_error": [(999, 40.0)],
    }
    compared = compare_curves(run, record)
    assert set(compared) == {"train/loss", "val/top1_error"}
    assert compared["train/loss"] == {
        "common_steps": 3,
        "equal": 2,
        "last_common_step": 149,
        "first_difference": {"step": 149, "run": 1.5000000000000002, "record": 1.5},
    }
    assert compared["val/top1_error"]["equal"] == 1 and compared["val/top1_error"]["first_difference"] is None


def test_rerun_reads_a_record_as_a_git_revision_holds_it(tmp_path: Path) -> None:
    """``--rev HEAD``: once ``reproduce --publish`` has copied a re-run over its committed record, the committed one
    is still what the re-run is compared with."""
    committed = RECORDS / "cifar10-paper" / "resnet20-s0"
    record_at("HEAD", committed, tmp_path)
    assert (tmp_path / "run.json").read_bytes() == (committed / "run.json").read_bytes()
    assert (tmp_path / "metrics.csv").read_bytes() == (committed / "metrics.csv").read_bytes()
