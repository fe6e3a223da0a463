"""One test per private API in ``lightning_resnet.compat``, against the installed Lightning, torch, torchmetrics
and W&B: an upgrade that changes one fails here, by name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.demos.boring_classes import BoringDataModule, BoringModel
from pytorch_lightning.loggers import CSVLogger
from torchmetrics import MeanMetric
from torchmetrics.wrappers import Running

from lightning_resnet import compat
from lightning_resnet.callbacks.checkpointing import LastCheckpoint
from lightning_resnet.tracking import RunWandbLogger


def boring_trainer(tmp_path: Path, **kwargs) -> pl.Trainer:
    options = {"max_steps": 6, "logger": False, "enable_progress_bar": False, "enable_model_summary": False}
    return pl.Trainer(default_root_dir=tmp_path, **{"enable_checkpointing": False, **options, **kwargs})


def test_should_update_logs_follows_log_every_n_steps(tmp_path: Path) -> None:
    seen: dict[int, bool] = {}

    class Record(Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            seen[trainer.global_step] = compat.should_update_logs(trainer)

    trainer = boring_trainer(tmp_path, callbacks=[Record()], log_every_n_steps=3, logger=CSVLogger(tmp_path))
    trainer.fit(BoringModel(), BoringDataModule())
    assert seen == {0: False, 1: False, 2: True, 3: False, 4: False, 5: True}


def test_save_last_checkpoint_writes_last_ckpt_after_a_validation(tmp_path: Path) -> None:
    last = LastCheckpoint()
    last.dirpath = str(tmp_path / "checkpoints")
    trainer = boring_trainer(tmp_path, callbacks=[last], enable_checkpointing=True, val_check_interval=4)
    trainer.fit(BoringModel(), BoringDataModule())
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["global_step"] == 4 and sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]


def test_started_experiment_does_not_start_one_and_forget_experiment_drops_it(tmp_path: Path) -> None:
    logger = CSVLogger(tmp_path)
    assert compat.started_experiment(logger) is None
    experiment = logger.experiment
    assert compat.started_experiment(logger) is experiment
    compat.forget_experiment(logger)
    assert compat.started_experiment(logger) is None and logger.experiment is not experiment


def test_wandb_init_arguments_are_what_wandb_init_gets(tmp_path: Path) -> None:
    plain = pl.loggers.WandbLogger(save_dir=str(tmp_path), offline=True, project="p")
    assert compat.wandb_init_arguments(plain)["project"] == "p" and "anonymous" in compat.wandb_init_arguments(plain)
    ours = RunWandbLogger(save_dir=str(tmp_path), offline=True, project="p")
    assert "anonymous" not in compat.wandb_init_arguments(ours)  # Lightning's None default is dropped


def test_appending_csv_writer_continues_an_existing_metrics_file(tmp_path: Path) -> None:
    first = CSVLogger(tmp_path, name="", version="")
    first.log_metrics({"loss": 1.0}, step=0)
    first.save()
    resumed = CSVLogger(tmp_path, name="", version="")
    writer = compat.appending_csv_writer(resumed)
    assert isinstance(writer, compat.AppendingCSVWriter) and writer.metrics_keys == ["loss", "step"]
    resumed.log_metrics({"loss": 0.5}, step=1)
    resumed.save()
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert [(r["step"], r["loss"]) for r in rows] == [("0", "1.0"), ("1", "0.5")]


def test_set_scheduler_lr_is_what_get_last_lr_reports() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[5])
    compat.set_scheduler_lr(scheduler, 0.01)
    assert scheduler.get_last_lr() == [0.01]


def test_running_values_seen_counts_updates_and_can_be_restored() -> None:
    metric = Running(MeanMetric(), window=2)
    for value in (1.0, 2.0, 3.0):
        metric.update(torch.tensor(value))
    assert compat.running_values_seen(metric) == 3
    compat.set_running_values_seen(metric, 7)
    assert compat.running_values_seen(metric) == 7


@pytest.mark.slow  # starts W&B's service process
def test_wandb_run_offline(tmp_path: Path) -> None:
    import wandb

    run = wandb.init(mode="offline", dir=str(tmp_path), project="p")
    try:
        assert compat.wandb_run_offline(run) is True
    finally:
        run.finish()


def test_chosen_accelerator_is_lightnings_auto_and_gpu_choice(devices) -> None:
    from pytorch_lightning.utilities.exceptions import MisconfigurationException

    devices(cuda=True, mps=True)
    assert compat.chosen_accelerator("auto") == "mps" and compat.chosen_accelerator("gpu") == "mps"  # MPS first
    devices(cuda=True, mps=False)
    assert compat.chosen_accelerator("auto") == "cuda" and compat.chosen_accelerator("gpu") == "cuda"
    devices(cuda=False, mps=False)
    assert compat.chosen_accelerator("auto") == "cpu" and compat.chosen_accelerator("cpu") == "cpu"
    with pytest.raises(MisconfigurationException, match="No supported gpu backend"):
        compat.chosen_accelerator("gpu")


def test_report_view_spec_is_wandb_workspaces_own_model_built_offline() -> None:
    import wandb_workspaces.reports.v2 as wr
    from wandb_workspaces.reports.v2 import interface

    server = interface._get_api, interface.execute_graphql

    runset = wr.Runset(entity="e", project="p", filters="Config('group') = 'g'")
    plot = wr.LinePlot(x="trainer/global_step", y=["train/loss"], line_marks={"abcd1234:train/loss": "dashed"})
    report = wr.Report(entity="e", project="p", title="t", blocks=[wr.PanelGrid(runsets=[runset], panels=[plot])])
    grid = next(b for b in compat.report_view_spec(report)["spec"]["blocks"] if b["type"] == "panel-grid")
    assert grid["metadata"]["runSets"][0]["project"] == {"entityName": "e", "name": "p", "id": "offline"}
    filters = grid["metadata"]["runSets"][0]["filters"]["filters"]
    assert [(f["key"], f["op"], f["value"]) for f in filters] == [({"section": "config", "name": "group"}, "=", "g")]
    config = grid["metadata"]["panelBankSectionConfig"]["panels"][0]["config"]
    assert config["metrics"] == ["train/loss"] and config["overrideMarks"] == {"abcd1234:train/loss": "dashed"}
    assert (interface._get_api, interface.execute_graphql) == server  # put back afterwards


def test_hold_and_release_sigterm_clear_and_set_the_flag_lightnings_loops_read() -> None:
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu")
    assert compat.hold_sigterm(trainer) is False and trainer.received_sigterm is False
    compat.release_sigterm(trainer)
    assert trainer.received_sigterm is True  # Lightning's public view of the same flag
    assert compat.hold_sigterm(trainer) is True and trainer.received_sigterm is False
