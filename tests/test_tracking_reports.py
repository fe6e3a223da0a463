"""W&B logging (offline here), the local run record, Figure 7 tables, and generated reports, on real short runs."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import CSVLogger, WandbLogger

from lightning_resnet.cli import ResNetCLI, default_callbacks, main, run_command
from lightning_resnet.cli.report import DRY_RUN_ENTITY
from lightning_resnet.compat import OFFLINE_PROJECT_ID
from lightning_resnet.data import CIFAR10DataModule
from lightning_resnet.paper import ReportSpec, spec_for
from lightning_resnet.paper.experiments import above_all, falls_along
from lightning_resnet.reporting import build_report
from lightning_resnet.reporting.figures import drawn_range
from lightning_resnet.reporting.findings import evaluate
from lightning_resnet.reporting.wandb_report import build_wandb_report, log_figures, repository_page_url
from lightning_resnet.runs import Run, RunAddress, RunFolder, load_runs
from lightning_resnet.tracking import artifacts_dir, make_loggers, read_wandb_history, read_wandb_records, wandb_run_id

REPO = Path(__file__).resolve().parents[1]
TABLE6 = str(REPO / "reproductions" / "table6.yaml")


def short_run(runs_dir: Path, cifar_dir: Path, arch: str, *extra: str) -> ResNetCLI:
    """30 iterations of the paper's recipe on the real CIFAR-10, validated and tested on a few batches."""
    return run_command(
        [
            "fit",
            "--config",
            TABLE6,
            f"--model.arch={arch}",
            "--experiment=quick",
            f"--runs_dir={runs_dir}",
            f"--data.init_args.data_dir={cifar_dir}",
            "--data.init_args.batch_size=64",
            "--trainer.max_steps=30",
            "--trainer.val_check_interval=15",
            "--trainer.limit_val_batches=4",
            "--trainer.limit_test_batches=4",
            "--trainer.log_every_n_steps=5",
            "--trainer.enable_progress_bar=false",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory: pytest.TempPathFactory, cifar_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("runs")
    for arch in ("plain8", "resnet8"):
        short_run(root, cifar_dir, arch)
    return root


def offline_folder(run_dir: Path) -> Path:
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(folders) == 1, folders
    return folders[0]


@pytest.mark.slow
def test_offline_wandb_run_holds_the_logged_metrics(runs_dir: Path) -> None:
    run_dir = runs_dir / "quick" / "resnet8-s0"
    folder = offline_folder(run_dir)
    run_id = (run_dir / "wandb_id.txt").read_text().split()[0]
    assert (folder / f"run-{run_id}.wandb").is_file()
    history = read_wandb_history(folder)
    train = {int(row["trainer/global_step"]): row["train/top1_error"] for row in history if "train/top1_error" in row}
    val = [row["val/top1_error"] for row in history if "val/top1_error" in row]
    assert sorted(train) == [4, 9, 14, 19, 24, 29] and len(val) == 2
    csv_train = dict(load_runs(runs_dir, "quick")[1].curves["train/top1_error"])  # the local record agrees
    assert load_runs(runs_dir, "quick")[1].network == "resnet8"
    assert train == pytest.approx(csv_train)
    assert any(row.get("layer_responses._type") == "table-file" for row in history)  # the Figure 7 table
    table = json.loads(next((folder / "files" / "media" / "table").glob("layer_responses_*.table.json")).read_text())
    assert table["columns"] == ["layer", "std"] and len(table["data"]) == 7


@pytest.mark.slow
def test_wandb_config_holds_the_resolved_config(runs_dir: Path) -> None:
    config = wandb_config(runs_dir / "quick" / "plain8-s0")
    assert config["config"]["model"]["arch"] == "plain8" and config["config"]["trainer"]["max_steps"] == 30
    assert config["experiment"] == "quick" and config["precision"] == "32-true" and config["seed"] == 0
    # the resolved config once, with the record's keys: not Lightning's dump of the model's and data's arguments
    assert not {"arch", "lr", "milestones", "batch_size", "data_dir"} & set(config)
    assert config["group"] == "quick" and config["network"] == "plain8"


@pytest.mark.slow
def test_local_record_describes_code_environment_and_data(runs_dir: Path, cifar: CIFAR10DataModule) -> None:
    record = RunFolder(runs_dir / "quick" / "resnet8-s0").read()
    assert record["status"] == "finished" and record["global_step"] == 30 == record["max_steps"]
    assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"]) and isinstance(record["git"]["dirty"], bool)
    assert set(record["versions"]) >= {"torch", "torchvision", "pytorch_lightning", "wandb"}
    assert record["dataset"]["sha256"] == cifar.fingerprint()["sha256"] and record["dataset"]["train_images"] == 45_000
    assert record["precision"] == "32-true" and record["seed"] == 0 and record["hardware"]
    assert 0 < record["final"]["test/top1_error"] < 100 and 0 < record["final"]["val/top1_error"] < 100
    responses = (runs_dir / "quick" / "resnet8-s0" / "layer_responses.csv").read_text().splitlines()
    assert responses[0] == "layer,std" and len(responses) == 1 + 7  # resnet8: 7 3x3 layers
    assert (runs_dir / "quick" / "resnet8-s0" / "config.yaml").is_file()
    assert (runs_dir / "quick" / "resnet8-s0" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_report_is_a_page_with_table_and_figure_and_is_reproducible(runs_dir: Path, tmp_path: Path) -> None:
    page, runs = build_report("quick", runs_dir, tmp_path)
    text = page.read_text()
    assert [r.network for r in runs] == ["plain8", "resnet8"]
    assert re.search(r"^\| plain8 \| 8 \| 0\.08 \| – \| \d+\.\d\d \|", text, re.M)
    assert re.search(r"^\| resnet8 \| 30 of 30 \| 45,000 \| 64 \| 32-true \|", text, re.M)
    figure = tmp_path / "figures" / "quick_errors.png"
    assert "](figures/quick_errors.png)" in text and figure.stat().st_size > 10_000
    first = (text, figure.read_bytes())
    build_report("quick", runs_dir, tmp_path)
    assert (page.read_text(), figure.read_bytes()) == first
    assert "| [quick](quick.md) |" in (tmp_path / "README.md").read_text()


def fake_run(
    network: str,
    train_error: float,
    responses: list[float] | None = None,
    steps: int = 100,
    seed: int = 0,
    test_error: float | None = None,
) -> Run:
    arch, _, shortcut = network.partition("-")
    record = {
        "config": {"model": {"arch": arch, "shortcut": shortcut or None}},
        "global_step": steps,
        "seed": seed,
        "final": {} if test_error is None else {"test/top1_error": test_error},
    }
    return Run(Path(network), record, {"train/top1_error": [(steps, train_error)]}, responses)


def test_findings_are_held_only_beyond_measured_noise_and_one_seed_against_a_margin_is_not_held() -> None:
    degradation = falls_along("degradation", "train", "plain56", "plain20")
    unmeasured = evaluate(degradation, [fake_run("plain20", 5.0), fake_run("plain56", 7.0)])
    assert (unmeasured.held, unmeasured.label) == (None, "as the paper, noise not measured")
    assert unmeasured.evidence == (
        "plain56 7.00 > plain20 5.00 (difference +2.00, noise 1.00: one seed: stated margin, not measured)"
    )
    against = evaluate(degradation, [fake_run("plain20", 9.0), fake_run("plain56", 7.0)])
    assert (against.held, against.label) == (None, "**against the paper**, noise not measured")
    close = evaluate(degradation, [fake_run("plain20", 5.0), fake_run("plain56", 5.5)])
    assert (close.held, close.label) == (None, "within the stated margin")
    assert evaluate(degradation, [fake_run("plain20", 8.0)]).label == "not run"
    # two more plain-20 seeds measure the noise (std 0.5, so 1.0) for every one-seed pair of the same length
    seeds = [fake_run("plain20", e, seed=s) for s, e in enumerate([5.0, 5.5, 6.0])]
    held = evaluate(degradation, [*seeds, fake_run("plain56", 7.0)])
    assert (held.held, held.label) == (True, "yes")
    assert "(difference +1.50, noise 1.00: one seed: 2 x largest measured seed std)" in held.evidence
    failed = evaluate(degradation, [*seeds, fake_run("plain56", 3.0)])
    assert (failed.held, failed.label) == (False, "**no**")
    assert evaluate(degradation, [*seeds, fake_run("plain56", 6.0)]).label == "within noise"
    smaller = falls_along("responses", "responses", "plain20", "resnet20")
    assert evaluate(smaller, [fake_run("plain20", 1, [2.0, 2.0]), fake_run("resnet20", 1, [1.0, 1.5])]).held is None
    # the smoke report's old "yes" for 1.012 vs 1.006 is noise now
    assert (
        evaluate(smaller, [fake_run("plain20", 1, [1.012]), fake_run("resnet20", 1, [1.006])]).label
        == "within the stated margin"
    )


def timed_run(network: str, hardware: str, seconds: float, steps: int = 64_000) -> Run:
    """A finished paper-length run of batch 128 that trained ``steps`` iterations in ``seconds`` on ``hardware``."""
    record = {
        "config": {"model": {"arch": network}, "data": {"init_args": {"batch_size": 128}}},
        "global_step": steps,
        "train_seconds": seconds,
        "timed_steps": steps,
        "hardware": hardware,
    }
    return Run(Path(network), record)


def test_costs_of_runs_not_made_yet_are_estimated_per_machine_never_pooled() -> None:
    from lightning_resnet.models.costs import training_flops
    from lightning_resnet.paper import POOLS
    from lightning_resnet.reporting.markdown import missing_runs_estimate, training_rates
    from lightning_resnet.reporting.results import estimate_cell

    def flops(network: str) -> float:
        return training_flops(network, None, 64_000 * 128)

    fast = [timed_run("plain20", "machine A", 9_000.0)]
    both = [*fast, timed_run("resnet20", "machine C", 16_000.0)]
    rate_a, rate_c = flops("plain20") / 9_000, flops("resnet20") / 16_000
    assert training_rates(fast) == {"machine A": pytest.approx(rate_a)}
    assert training_rates(both) == {"machine A": pytest.approx(rate_a), "machine C": pytest.approx(rate_c)}
    hours = [flops("resnet56") / rate / 3600 for rate in (rate_a, rate_c)]
    assert hours[1] > 1.7 * hours[0] > 10  # the slower machine's estimate is its own, not a blend
    assert estimate_cell("resnet56", training_rates(both)) == (
        f"not trained yet: ~{hours[0]:.0f} h on machine A; ~{hours[1]:.0f} h on machine C (estimated)"
    )
    spec, pool = spec_for("fig1"), POOLS["cifar10"]
    one = missing_runs_estimate(spec, fast, pool)[0]
    assert one.startswith("Not run yet at this preset: plain56 ~") and one.endswith("sustained on machine A).")
    lines = missing_runs_estimate(spec, both, pool)
    assert [line.split(" (")[0] for line in lines if line.startswith("- ")] == ["- machine A", "- machine C"]


def test_findings_use_the_measured_seed_spread_and_never_compare_different_lengths() -> None:
    overfits = falls_along("1202 overfits", "test", "resnet1202", "resnet110")
    r110 = [
        fake_run("resnet110", 1.0, steps=320, seed=s, test_error=e)
        for s, e in enumerate([70.0, 76.0, 82.0, 88.0, 74.0])
    ]
    short_1202 = fake_run("resnet1202", 1.0, steps=64, test_error=90.0)
    verdict = evaluate(overfits, [*r110, short_1202])
    assert (verdict.held, verdict.label) == (
        None,
        "not comparable",
    ) and "resnet110 320, resnet1202 64" in verdict.evidence
    same_length = evaluate(overfits, [*r110, fake_run("resnet1202", 1.0, steps=320, test_error=90.0)])
    assert (
        same_length.label == "within noise" and "2 x largest measured seed std" in same_length.evidence
    )  # 12.0 < 2 x 7.07


def test_every_option_of_a_finding_is_checked() -> None:
    beats = above_all("every ResNet-34 beats plain-34", "train", "plain34", "resnet34-A", "resnet34-B", "resnet34-C")
    runs = [
        fake_run("plain34", 30.0),
        fake_run("resnet34-A", 25.0),
        fake_run("resnet34-B", 24.0),
        fake_run("resnet34-C", 32.0),
    ]
    verdict = evaluate(beats, runs)
    assert verdict.label == "**against the paper**, noise not measured"
    assert "plain34 30.00 < resnet34-C 32.00" in verdict.evidence


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that would leave this machine (loopback, e.g. W&B's local service, still works)."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not str(address[0]).startswith(
            ("127.", "::1", "localhost")
        ):
            raise OSError(f"test tried to reach {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.mark.slow
def test_wandb_report_spec_builds_without_network(runs_dir: Path, no_internet: None) -> None:
    import wandb_workspaces.reports.v2 as wr

    spec = spec_for("fig6")
    report = build_wandb_report(
        spec,
        load_runs(runs_dir, "quick"),
        entity="someone",
        project="lightning-resnet",
        preset="smoke",
        page_url="https://example.org/reports/fig6-smoke.md",
    )
    assert report.title.startswith("Figure 6") and report.project == "lightning-resnet"
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    assert [g.panels[0].title for g in grids] == ["plain", "ResNet", "ResNet-110 vs 1202"]
    for grid, (_, networks) in zip(grids, spec.panels):  # each panel queries exactly its networks
        assert grid.runsets[0].filters == f"Config('group') = 'cifar10-smoke' and Config('network') in {list(networks)}"
        assert grid.runsets[0].groupby == []  # one seed per network: a line per run, styled per run
        plot = grid.panels[0]
        assert plot.y == ["train/top1_error", "test_curve/top1_error"]  # bold: the paper's test error
        assert plot.range_y == (0.0, None)  # no curve of these runs reaches the paper's 0-20%: 0 to the data
    from lightning_resnet.reporting.wandb_report import line_styles

    (resnet8,) = [r for r in load_runs(runs_dir, "quick") if r.network == "resnet8"]
    styles = line_styles([resnet8], ["train/top1_error", "test_curve/top1_error"])
    train, test = (f"{resnet8.record.wandb['id']}:{key}" for key in ("train/top1_error", "test_curve/top1_error"))
    assert styles["line_marks"] == {train: "dashed", test: "solid"}  # "{runId}:{metricName}", as wandb-workspaces reads
    assert styles["line_widths"][test] > styles["line_widths"][train]
    tables = [b.text for b in report.blocks if isinstance(b, wr.MarkdownBlock)]
    assert any("| plain8 |" in t for t in tables)


def wandb_config(run_dir: Path) -> dict:
    return wandb_config_of(offline_folder(run_dir))


def wandb_config_of(folder: Path) -> dict:
    """The config of an offline W&B run, as W&B's own reader returns it."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--summary", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return json.loads(out[out.index("{") :])["config"]


def selects(filters: str, config: dict) -> bool:
    """Evaluate a Report filter of the form the builder writes against a run's logged W&B config."""
    for key, value in re.findall(r"Config\('(\w+)'\) = '([^']*)'", filters):
        if config.get(key) != value:
            return False
    for key, values in re.findall(r"Config\('(\w+)'\) in (\[[^]]*\])", filters):
        if config.get(key) not in eval(values):  # a Python list literal the builder wrote
            return False
    return True


@pytest.mark.slow
def test_wandb_report_queries_keys_the_runs_really_log(runs_dir: Path, no_internet: None) -> None:
    import wandb_workspaces.reports.v2 as wr

    spec = ReportSpec("quick", "quick runs", panels=(("plain", ("plain8",)), ("ResNet", ("resnet8",))), pool="cifar10")
    report = build_wandb_report(spec, load_runs(runs_dir, "quick"), entity="someone", project="lightning-resnet")
    configs = {name: wandb_config(runs_dir / "quick" / f"{name}-s0") for name in ("plain8", "resnet8")}
    assert all(c["network"] == name and c["group"] == "quick" for name, c in configs.items())
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    for grid, (_, networks) in zip(grids, spec.panels):
        chosen = {name for name, config in configs.items() if selects(grid.runsets[0].filters, config)}
        assert chosen == set(networks)
        for key in grid.runsets[0].groupby:  # grouped by network only where several seeds ran
            assert all(key.removeprefix("config.") in config for config in configs.values())
        styled = {key.partition(":")[0] for key in grid.panels[0].line_marks or {}}  # "{runId}:{metric}"
        assert styled == {r.record.wandb["id"] for r in load_runs(runs_dir, "quick") if r.network in networks}


@pytest.mark.slow
def test_unreachable_wandb_server_never_stalls_training(
    tmp_path: Path, cifar_dir: Path, monkeypatch: pytest.MonkeyPatch, no_internet: None
) -> None:
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)  # "logged in" ...
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # ... to a server that is not there
    start = time.monotonic()
    loggers = make_loggers(RunAddress(tmp_path, "quick", "run"), [], "lightning-resnet", resuming=False)
    assert time.monotonic() - start < 10 and loggers[1]._offline
    cli = short_run(tmp_path, cifar_dir, "resnet8", "--trainer.max_steps=5", "--test_after_fit=false")
    assert cli.trainer.global_step == 5
    assert offline_folder(tmp_path / "quick" / "resnet8-s0").is_dir()


def test_without_login_wandb_goes_offline_and_connects_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_internet: None
) -> None:
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    loggers = make_loggers(RunAddress(tmp_path, "quick", "run"), [], "lightning-resnet", resuming=False)
    assert isinstance(loggers[0], CSVLogger) and isinstance(loggers[1], WandbLogger) and loggers[1]._offline


def test_wandb_is_given_the_run_folder_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B's service process keeps the working directory it was started in: a relative folder would put the run's
    files (``output.log``) under that directory instead (a test once wrote into the repository's ``runs/``)."""
    monkeypatch.chdir(tmp_path)
    loggers = make_loggers(RunAddress(Path("runs"), "quick", "run"), [], "lightning-resnet", resuming=False)
    assert Path(loggers[1].save_dir) == tmp_path / "runs" / "quick" / "run"


@pytest.mark.slow
def test_resumed_runs_keep_their_wandb_id_online_and_get_a_segment_id_offline(tmp_path: Path) -> None:
    first = wandb_run_id(tmp_path, resuming=False, offline=False)
    assert wandb_run_id(tmp_path, resuming=True, offline=False) == first
    assert wandb_run_id(tmp_path, resuming=True, offline=True) == f"{first}-r1"
    assert (tmp_path / "wandb_id.txt").read_text().split() == [first, f"{first}-r1"]


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_a_killed_and_resumed_offline_run_syncs_as_one_wandb_run_with_its_whole_history(
    tmp_path: Path, cifar_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        "fit",
        "--config",
        TABLE6,
        "--model.arch=resnet8",
        "--model.bn_batch=16",
        "--experiment=quick",
        f"--runs_dir={tmp_path}",
        f"--data.init_args.data_dir={cifar_dir}",
        "--data.init_args.batch_size=32",
        "--trainer.max_steps=8",
        "--trainer.val_check_interval=4",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        "--trainer.log_every_n_steps=1",
        "--trainer.enable_progress_bar=false",
    ]
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), StopAt(6)]})
    finally:
        signal.signal(signal.SIGINT, handler)
    run_dir = tmp_path / "quick" / "resnet8-s0"
    (run_dir / "checkpoints" / "interrupted.ckpt").unlink()  # as after a SIGKILL: it resumes from iteration 4
    run_command([*args, "--ckpt_path=last"])
    segments = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(segments) == 2
    steps = [[int(r["trainer/global_step"]) for r in read_wandb_history(s) if "train/loss" in r] for s in segments]
    assert max(steps[0]) >= min(steps[1]) == 4  # the resumed segment logs again what the killed one had logged
    first_id = (run_dir / "wandb_id.txt").read_text().split()[0]
    wandb = RunFolder(run_dir).record().wandb
    assert wandb["id"] == first_id and wandb["offline"] is True

    main(["sync", str(run_dir), "--dry_run"])
    out = capsys.readouterr().out
    assert f"{run_dir}: 2 offline segment(s) -> W&B run {first_id}" in out
    prepared = sorted((run_dir / "wandb" / "sync" / "wandb").glob("offline-run-*"))
    assert len(prepared) == 1 and f"prepared {prepared[0]}" in out
    records = read_wandb_records(prepared[0])
    (info,) = [r["run"] for r in records if r["type"] == "run"]
    assert info["run_id"] == first_id and info["job_type"] == "train" and info["display_name"] == "quick/resnet8-s0"
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    logged = [int(row["_step"]) for row in history]
    assert logged == sorted(set(logged))  # _step strictly increasing: nothing overwrites anything once uploaded
    assert [int(row["trainer/global_step"]) for row in history] == logged  # _step is the iteration
    trained = [int(row["trainer/global_step"]) for row in history if "train/loss" in row]
    assert trained == sorted(set(steps[0]) | set(steps[1]))  # every iteration of both segments, once
    csv_loss = {
        int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(open(run_dir / "metrics.csv")) if r["train/loss"]
    }
    assert {int(row["trainer/global_step"]): row["train/loss"] for row in history if "train/loss" in row} == csv_loss
    assert "lr" in history[0] and not any(k.startswith("lr-") for row in history for k in row)
    tables = [row for row in history if row.get("layer_responses._type") == "table-file"]
    assert len(tables) == 1 and int(tables[0]["_step"]) == logged[-1]  # Figure 7's table, which its Report shows
    summary = {}
    for r in records:
        if r["type"] == "summary":
            summary.update(r["summary"]["update"])
    assert summary["test/top1_error"] == RunFolder(run_dir).record().final["test/top1_error"]

    # a segment SIGKILLed before W&B first wrote its buffer holds only its file header: metrics.csv fills the gap
    first_segment = next(segments[0].glob("*.wandb"))
    first_segment.write_bytes(first_segment.read_bytes()[:7])
    main(["sync", str(run_dir), "--dry_run"])
    (prepared,) = sorted((run_dir / "wandb" / "sync" / "wandb").glob("offline-run-*"))
    records = read_wandb_records(prepared)
    (info,) = [r["run"] for r in records if r["type"] == "run"]
    assert info["display_name"] == "quick/resnet8-s0" and info["run_group"] == "quick"  # from the record
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    assert {int(row["trainer/global_step"]): row["train/loss"] for row in history if "train/loss" in row} == csv_loss
    artifacts = [r["artifact"] for r in records if r["type"] == "artifact"]
    names = {a["name"]: a for a in artifacts}  # named after the training run, not a segment (-r1)
    assert set(names) == {f"model-{first_id}", f"run-{first_id}-layer_responses"}
    assert "final" in json.dumps(names[f"model-{first_id}"])
    digest = hashlib.sha256(json.dumps(RunFolder(run_dir).record().dataset["sha256"], sort_keys=True).encode())
    assert f"then its input: dataset artifact cifar-10-{digest.hexdigest()[:16]} (by reference)" in out
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(SystemExit):
        main(["sync", str(run_dir)])
    assert "uploading needs a W&B login" in capsys.readouterr().err


@pytest.mark.slow
def test_the_trained_checkpoint_is_a_model_artifact_staged_in_the_run_folder(runs_dir: Path) -> None:
    run_dir = runs_dir / "quick" / "resnet8-s0"
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(offline_folder(run_dir))],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    artifacts = {r["artifact"]["name"]: r["artifact"] for r in records if r.get("type") == "artifact"}
    run_id = (run_dir / "wandb_id.txt").read_text().split()[0]
    model = artifacts[f"model-{run_id}"]
    assert model["type"] == "model" and sorted(model["aliases"]) == ["final", "latest"]
    [entry] = model["manifest"]["contents"]
    assert entry["path"] == "last.ckpt" and entry["skip_cache"]
    # the staged file is a hard link to last.ckpt inside the run folder (a copied folder syncs whole), not a copy
    staged = Path(entry["local_path"])
    assert staged.parent == artifacts_dir(run_dir) and staged.samefile(run_dir / "checkpoints" / "last.ckpt")
    assert int(entry["size"]) == staged.stat().st_size and staged.stat().st_nlink == 2
    assert artifacts[f"run-{run_id}-layer_responses"]["type"] == "run_table"


@pytest.mark.slow
def test_wandb_watch_logs_gradient_histograms(tmp_path: Path, cifar_dir: Path) -> None:
    args = [
        "fit",
        "--config",
        TABLE6,
        "--model.arch=resnet8",
        "--experiment=quick",
        f"--runs_dir={tmp_path}",
        f"--data.init_args.data_dir={cifar_dir}",
        "--data.init_args.batch_size=64",
        "--trainer.max_steps=4",
        "--trainer.log_every_n_steps=2",
        "--trainer.limit_val_batches=1",
        "--test_after_fit=false",
        "--wandb_watch=gradients",
    ]
    subprocess.run(
        [sys.executable, "-m", "lightning_resnet", *args], cwd=tmp_path, capture_output=True, timeout=300, check=True
    )
    history = read_wandb_history(offline_folder(tmp_path / "quick" / "resnet8-s0"))
    assert any(key.startswith("gradients/fc.weight") for row in history for key in row)


@pytest.mark.slow
def test_the_wandb_report_shows_the_pages_figures_from_a_run_it_queries(tmp_path: Path, no_internet: None) -> None:
    import shutil

    import wandb_workspaces.reports.v2 as wr

    reports = Path(__file__).resolve().parents[1] / "reports"
    page = tmp_path / "fig1-paper.md"
    shutil.copy(reports / "fig1-paper.md", page)
    shutil.copytree(reports / "figures", tmp_path / "figures")
    keys = log_figures(page, entity=None, project="lightning-resnet", folder=tmp_path)
    assert keys == ["figures/fig1-paper_errors", "figures/fig1-paper_errors_full"]  # the figures the page shows
    folder = next((tmp_path / "wandb").glob("offline-run-*"))
    logged = read_wandb_history(folder)
    assert any(row.get("figures/fig1-paper_errors._type") == "image-file" for row in logged)
    config = wandb_config_of(folder)
    report = build_wandb_report(spec_for("fig1"), [], "someone", "lightning-resnet", "paper", figures=keys)
    grid = [b for b in report.blocks if isinstance(b, wr.PanelGrid)][-1]
    assert isinstance(grid.panels[0], wr.MediaBrowser) and grid.panels[0].media_keys == keys
    assert selects(grid.runsets[0].filters, config)  # the Report queries the figures run by what it logged ...
    assert not selects(grid.runsets[0].filters, {**config, "report": "fig7-smoke"})  # ... and only that page's


def test_the_wandb_report_links_to_the_page_on_the_repository_host(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "reports").mkdir()
    page = tmp_path / "reports" / "fig1-smoke.md"
    page.write_text("# page\n")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "page"], check=True)
    assert repository_page_url(page) is None  # no remote: nothing to link to
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:someone/lightning-resnet.git"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert (
        repository_page_url(page) == f"https://github.com/someone/lightning-resnet/blob/{commit}/reports/fig1-smoke.md"
    )


@pytest.mark.slow  # starts W&B's service process
def test_a_wandb_server_that_accepts_but_never_answers_means_offline_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_internet: None
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes connections; nothing ever reads or answers
    try:
        monkeypatch.delenv("WANDB_MODE")
        monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
        monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        start = time.monotonic()
        loggers = make_loggers(RunAddress(tmp_path, "quick", "run"), [], "lightning-resnet", resuming=False)
        assert time.monotonic() - start < 10 and loggers[1]._offline
    finally:
        silent.close()


REPORTS = Path(__file__).resolve().parents[1] / "reports"
# every id and preset with committed records (a page of an id whose runs never ran here has no curves to plot)
COMMITTED_PAGES = sorted(
    page
    for page in REPORTS.glob("*-*.md")
    if (REPORTS / "records" / spec_for(page.stem.partition("-")[0]).groups(page.stem.partition("-")[2])[0]).is_dir()
)


def logged_keys(runs_dir: Path, group: str) -> tuple[set[str], set[str]]:
    """The history keys (metrics.csv: what the loggers received) and the top-level W&B config keys (run.json: the
    record RunRecord logs as hyper-parameters) of a group's runs."""
    history, config = set(), set()
    for run in load_runs(runs_dir, group):
        history |= set(run.curves)
        config |= {key for key, value in RunFolder(run.path).read().items() if value is not None}
    return history, config


@pytest.mark.slow
@pytest.mark.parametrize("page", COMMITTED_PAGES, ids=[p.stem for p in COMMITTED_PAGES])
def test_the_wandb_report_dry_run_of_every_committed_page_plots_logged_keys(page: Path, tmp_path: Path) -> None:
    report_id, _, preset = page.stem.partition("-")
    records = page.parent / "records"
    preset_args = ["--preset", preset] if preset else []
    main(["report", report_id, *preset_args, f"--runs_dir={records}", f"--reports_dir={tmp_path}", "--wandb_dry_run"])
    report = json.loads((tmp_path / f"{page.stem}.wandb-report.json").read_text())  # the view spec save uploads
    spec = spec_for(report_id)
    history, config = logged_keys(records, spec.groups(preset or None)[0])
    grids = [b["metadata"] for b in report["spec"]["blocks"] if b["type"] == "panel-grid"]
    panels = [p for g in grids for p in g["panelBankSectionConfig"]["panels"]]
    plots = [p["config"] for p in panels if p["viewType"] == "Run History Line Plot"]
    assert len(plots) == len(spec.panels) * (2 if spec.split_metrics else 1)
    runs = [r for r in load_runs(records, spec.groups(preset or None)[0]) if r.network in spec.networks]
    ids = {run.record.wandb["id"] for run in runs}
    # the page's figure and the Report share the y-range: the paper's 0-20% unless no curve reaches it
    drawn = drawn_range(spec.error_range, runs, "test_curve/top1_error")
    assert (drawn is not None) == ("as in the paper](figures/" in page.read_text())
    for plot in plots:
        assert set(plot["metrics"]) <= history and plot["xAxis"] == "trainer/global_step"
        assert plot["yAxisMin"] == 0 and plot.get("yAxisMax") == (drawn or (0, None))[1]
        styled = [*plot.get("overrideMarks", {}), *plot.get("overrideLineWidths", {})]
        assert {key.partition(":")[0] for key in styled} <= ids  # "{runId}:{metric}" of the panel's runs
        assert {key.partition(":")[2] for key in styled} <= set(plot["metrics"])
    assert not plots or any(plot.get("overrideMarks") for plot in plots)  # every committed run has a W&B id
    if spec.responses:
        assert [p["viewType"] for p in panels].count("Weave") == 1  # the layer-response table
    for grid in grids:
        for runset in grid["runSets"]:
            project = {"entityName": DRY_RUN_ENTITY, "name": "lightning-resnet", "id": OFFLINE_PROJECT_ID}
            assert runset["project"] == project
            keys = {f["key"]["name"] for f in runset["filters"]["filters"] if f["key"]["section"] == "config"}
            assert keys <= config | {"report"}, runset["filters"]  # report: the page's figures run (log_figures)


COMMITTED = sorted(p for p in (Path(__file__).resolve().parents[1] / "reports").glob("*.md") if p.name != "README.md")


@pytest.mark.parametrize("page", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_the_wandb_report_of_every_committed_page_builds_without_a_server(page: Path) -> None:
    """Built, not saved: Figure 7's layer-response table included (its panel once failed to build)."""
    import wandb_workspaces.reports.v2 as wr

    from lightning_resnet.runs import load_runs

    report_id, _, preset = page.stem.partition("-")
    spec = spec_for(report_id)
    runs = [r for group in spec.groups(preset or None) for r in load_runs(page.parent / "records", group)]
    report = build_wandb_report(spec, runs, "someone", "lightning-resnet", preset or None)
    panels = [p for b in report.blocks if isinstance(b, wr.PanelGrid) for p in b.panels]
    tables = [p.table_name for p in panels if isinstance(p, wr.WeavePanelSummaryTable)]
    assert tables == (["layer_responses"] if spec.responses else [])
    assert len([p for p in panels if isinstance(p, wr.LinePlot)]) == len(spec.panels) * (2 if spec.split_metrics else 1)


def test_pages_are_built_from_sections_that_name_no_pool_or_network() -> None:
    import inspect

    from lightning_resnet.models import list_models
    from lightning_resnet.paper import POOLS, SPECS
    from lightning_resnet.reporting import markdown

    source = inspect.getsource(markdown)
    for name in [*POOLS, *list_models()]:
        assert f'"{name}"' not in source, f"reporting/markdown.py names {name!r}: it belongs in paper/"
    assert {spec.kind for spec in SPECS.values()} == set(markdown.SECTIONS)


def test_a_page_of_a_users_experiment_takes_the_pool_of_the_dataset_its_runs_recorded() -> None:
    from lightning_resnet.paper import pool_of
    from lightning_resnet.paper.pools import DEFAULT_POOL

    assert pool_of(None, {"ImageNet"}).name == "imagenet" and pool_of(None, {"CIFAR-10"}).name == "cifar10"
    assert pool_of(None, {None}).name == DEFAULT_POOL and pool_of("voc", {"CIFAR-10"}).name == "voc"


@pytest.mark.parametrize(
    ("lowest", "figures"), [(12.5, ["fig1-short_errors", "fig1-short_errors_full"]), (21.0, ["fig1-short_errors"])]
)
def test_curves_use_the_papers_range_only_when_some_curve_reaches_it(
    lowest: float, figures: list[str], tmp_path: Path
) -> None:
    from lightning_resnet.reporting.markdown import Page, curves

    runs = [fake_run("plain20", lowest), fake_run("plain56", 60.0)]
    runs[0].curves["test_curve/top1_error"] = [(50, 80.0), (100, lowest + 1)]
    lines = curves(Page(spec_for("fig1"), runs, tmp_path, preset="short"))
    text = "\n".join(lines)
    assert re.findall(r"\(figures/([^)]+)\.png\)", text) == figures
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.png")) == figures
    assert ("0-20% as in the paper" in text) is (lowest < 20)
    assert ("no curve of these runs gets there (the lowest is 21.00%)" in text) is (lowest >= 20)
