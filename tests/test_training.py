"""The LightningModule and callbacks: exact LR at the milestones, the 110-layer warm-up, NaN losses."""

from __future__ import annotations

from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, Checkpoint, ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from lightning_resnet import ImageClassifier
from lightning_resnet.callbacks import InterruptCheckpoint, TrainErrorWarmup
from lightning_resnet.guard import NonFiniteLossError
from lightning_resnet.optim import CaffeSGD


class LRRecorder(Callback):
    """The learning rate each optimizer step actually used, by iteration."""

    def __init__(self) -> None:
        self.lrs: dict[int, float] = {}

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.lrs[trainer.global_step] = optimizer.param_groups[0]["lr"]


def random_loader(n: int = 64, batch_size: int = 8) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(
        torch.randn(n, 3, 32, 32, generator=generator), torch.randint(0, 10, (n,), generator=generator)
    )
    return DataLoader(data, batch_size=batch_size)


def fit(
    module: pl.LightningModule, max_steps: int, callbacks: list[Callback], tmp_path, log_every_n_steps: int = 1
) -> pl.Trainer:
    trainer = pl.Trainer(
        max_steps=max_steps,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=any(isinstance(c, Checkpoint) for c in callbacks),
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        log_every_n_steps=log_every_n_steps,
    )
    trainer.fit(module, train_dataloaders=random_loader())
    return trainer


def test_learning_rate_divides_by_ten_exactly_at_the_milestones(tmp_path) -> None:
    recorder = LRRecorder()
    fit(ImageClassifier("resnet8", milestones=[3, 5]), 8, [recorder], tmp_path)
    assert recorder.lrs == pytest.approx({0: 0.1, 1: 0.1, 2: 0.1, 3: 0.01, 4: 0.01, 5: 0.001, 6: 0.001, 7: 0.001})


def test_optimizer_is_the_papers_sgd() -> None:
    config = ImageClassifier("resnet8").configure_optimizers()
    optimizer = config["optimizer"]
    assert isinstance(optimizer, CaffeSGD)  # the paper's Caffe form by default; PyTorch's on request
    assert isinstance(
        ImageClassifier("resnet8", momentum_form="pytorch").configure_optimizers()["optimizer"], torch.optim.SGD
    )
    assert (
        optimizer.defaults["momentum"] == 0.9
        and optimizer.defaults["weight_decay"] == 1e-4
        and optimizer.defaults["lr"] == 0.1
    )
    assert config["lr_scheduler"]["interval"] == "step"
    plateau = ImageClassifier("resnet8", lr_schedule="plateau").configure_optimizers()["lr_scheduler"]
    assert isinstance(plateau["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert plateau["monitor"] == "val/top1_error" and plateau["scheduler"].factor == pytest.approx(0.1)


class ScriptedError(ImageClassifier):
    """Logs a given training-error sequence, to drive the warm-up deterministically."""

    def __init__(self, errors: list[float], **kwargs: Any) -> None:
        super().__init__("resnet8", **kwargs)
        self.errors = errors

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.log("scripted_error", self.errors[self.global_step])
        return super().training_step(batch, batch_idx)


def test_warmup_holds_lr_at_0_01_until_error_below_80_then_switches_once(tmp_path) -> None:
    recorder = LRRecorder()
    warmup = TrainErrorWarmup(lr=0.01, until_error=80.0, monitor="scripted_error")
    errors = [95.0, 85.0, 79.0, 90.0, 70.0, 95.0, 60.0, 50.0]
    fit(ScriptedError(errors, milestones=[100]), 8, [warmup, recorder], tmp_path)
    assert recorder.lrs == pytest.approx({0: 0.01, 1: 0.01, 2: 0.01, 3: 0.1, 4: 0.1, 5: 0.1, 6: 0.1, 7: 0.1})
    assert warmup.finished and warmup.switched_at_step == 3
    assert TrainErrorWarmup().state_dict() != warmup.state_dict()


def test_warmup_ending_after_a_milestone_lands_on_the_schedules_lr(tmp_path) -> None:
    recorder = LRRecorder()
    warmup = TrainErrorWarmup(monitor="scripted_error")
    fit(ScriptedError([90.0, 90.0, 90.0, 70.0, 70.0, 70.0], milestones=[2]), 6, [warmup, recorder], tmp_path)
    assert recorder.lrs == pytest.approx({0: 0.01, 1: 0.01, 2: 0.001, 3: 0.001, 4: 0.01, 5: 0.01})


def test_warmup_monitors_the_modules_training_error_at_every_iteration(tmp_path) -> None:
    warmup = TrainErrorWarmup(until_error=101.0)  # any error ends it after the first step
    recorder = LRRecorder()
    module = ImageClassifier("resnet8")
    fit(module, 3, [warmup, recorder], tmp_path, log_every_n_steps=50)  # though the loggers write every 50th
    assert recorder.lrs == pytest.approx({0: 0.01, 1: 0.1, 2: 0.1})
    assert not module.log_every_step  # once the warm-up ended, back to the logging interval


def test_running_training_error_is_computed_only_at_the_logging_interval(tmp_path, monkeypatch) -> None:
    module = ImageClassifier("resnet8")
    computed_at: list[int] = []
    compute = module.train_error.compute
    monkeypatch.setattr(module.train_error, "compute", lambda: computed_at.append(module.global_step) or compute())
    trainer = fit(module, 8, [], tmp_path, log_every_n_steps=4)
    assert computed_at == [3, 7]  # the iterations whose values the loggers write (0-based, before the step)
    assert 0.0 <= float(trainer.callback_metrics["train/top1_error"]) <= 100.0
    assert module.train_error._num_vals_seen == 8  # every iteration still enters the window


class NaNAfter(ImageClassifier):
    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step >= 2:
            batch = (batch[0] * float("nan"), batch[1])
        return super().training_step(batch, batch_idx)


def test_nan_loss_stops_with_advice_and_saves_no_broken_checkpoint(tmp_path) -> None:
    every_step = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=1, save_top_k=0)
    with pytest.raises(NonFiniteLossError, match="iteration 2.*--ckpt_path last"):
        fit(NaNAfter("resnet8"), 5, [InterruptCheckpoint(str(tmp_path)), every_step], tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == ["last.ckpt"]  # no interrupted.ckpt with NaN weights
    last = torch.load(tmp_path / "last.ckpt", weights_only=False)
    assert last["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_a_nonfinite_loss_is_read_on_the_host_only_at_the_logging_interval(tmp_path) -> None:
    module = NaNAfter("resnet8")
    steps: list[int] = []
    module.on_train_batch_start = lambda batch, batch_idx: steps.append(module.global_step)
    with pytest.raises(NonFiniteLossError, match="iteration 2"):
        fit(module, 8, [], tmp_path, log_every_n_steps=4)
    assert steps == [0, 1, 2, 3]  # the flag set at iteration 2 is copied to the host at iteration 3, the logged one


def test_logged_errors_are_percentages(tmp_path) -> None:
    module = ImageClassifier("resnet8")
    trainer = fit(module, 2, [], tmp_path)
    error = trainer.callback_metrics["train/top1_error"]
    assert 0.0 <= float(error) <= 100.0 and float(error) > 50.0  # untrained net on random labels
    result = trainer.validate(module, random_loader(), verbose=False)[0]
    assert set(result) == {"val/loss", "val/top1_error", "val/images"} and 50.0 < result["val/top1_error"] <= 100.0
    assert result["val/images"] == 64  # the images actually evaluated
