"""The speed presets resolve to what the device computes natively, and a resumed run keeps its settings.

The capability is forced both ways (``hardware.native_bf16`` patched), so every machine checks both paths.
"""

from __future__ import annotations

import signal
import warnings
from pathlib import Path

import pytest
from conftest import REPO, TABLE6, tiny_fit
from test_cli import StopAt

from lightning_resnet import hardware, speed
from lightning_resnet.cli import ResNetCLI, default_callbacks, main, run_command
from lightning_resnet.runs import RunFolder

SMOKE = str(REPO / "reproductions" / "presets" / "smoke.yaml")


@pytest.fixture
def native(monkeypatch: pytest.MonkeyPatch):
    """``native(cpu=..., cuda=...)`` forces what :func:`hardware.native_bf16` answers."""

    def force(cpu: bool = False, cuda: bool = False) -> None:
        monkeypatch.setattr(hardware, "native_bf16", lambda device="cpu": {"cpu": cpu, "cuda": cuda}.get(device, False))

    return force


@pytest.mark.parametrize(
    ("accelerator", "cpu", "cuda", "expected"),
    [
        ("cpu", True, False, ("bf16-mixed", True, "cpu-bf16")),
        ("cpu", False, False, ("32-true", False, "cpu")),
        ("cuda", False, True, ("bf16-mixed", True, "cuda-bf16")),
        ("cuda", False, False, ("16-mixed", True, "cuda")),
        ("mps", False, False, ("32-true", False, "mps")),
    ],
)
def test_fastest_resolves_by_the_devices_native_precision(native, accelerator, cpu, cuda, expected) -> None:
    native(cpu=cpu, cuda=cuda)
    settings = speed.resolve(speed.FASTEST, speed.FASTEST, accelerator)
    assert (settings.precision, settings.channels_last, settings.device) == expected
    assert settings.source == "device" and settings.asked == {"precision": "fastest", "channels_last": "fastest"}


def test_explicit_values_win_and_bf16_where_it_is_emulated_warns_once(native) -> None:
    native(cpu=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert speed.resolve("32-true", False, "cpu") is None  # nothing to resolve, nothing to say
        assert speed.resolve("bf16-mixed", True, "cpu") is None
        mixed = speed.resolve("bf16-mixed", speed.FASTEST, "cpu")  # the layout alone is resolved
    assert mixed.precision == "bf16-mixed" and mixed.channels_last is False
    emulated = [w for w in caught if "emulated" in str(w.message)]
    assert len(emulated) == 1 and "32-true" in str(emulated[0].message)
    native(cpu=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        speed.resolve("bf16-mixed", True, "cpu")  # native: no warning


def test_a_resumed_run_keeps_its_settings_and_says_when_this_machine_cannot_run_them(native) -> None:
    native(cpu=False)
    saved = {"trainer.precision": "bf16-mixed", "model.channels_last": True}
    with pytest.warns(UserWarning, match="as it was started.*--override_precision true"):
        kept = speed.resolve(speed.FASTEST, speed.FASTEST, "cpu", saved)
    assert (kept.precision, kept.channels_last, kept.source) == ("bf16-mixed", True, "checkpoint")
    with pytest.raises(speed.UnsupportedPrecisionError, match="needs a CUDA GPU.*--override_precision true"):
        speed.resolve(speed.FASTEST, speed.FASTEST, "cpu", {"trainer.precision": "16-mixed", "model.channels_last": 1})


@pytest.mark.slow
def test_a_smoke_fit_records_its_resolution_and_a_resume_on_another_machine_keeps_it(
    cifar_dir: Path, tmp_path: Path, native, caplog: pytest.LogCaptureFixture
) -> None:
    args = [
        *tiny_fit(cifar_dir, "--config", SMOKE, f"--runs_dir={tmp_path}"),
        "--trainer.max_steps=4",
        "--trainer.val_check_interval=2",
        "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1",
        "--trainer.enable_progress_bar=false",
    ]
    native(cpu=False)  # started on a CPU without native bf16: fp32, contiguous; stopped after 2 iterations
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), StopAt(2)]})
    finally:
        signal.signal(signal.SIGINT, handler)
    folder = tmp_path / "cifar10-smoke" / "resnet8-s0"
    record = RunFolder(folder).read()
    assert record["precision"] == "32-true" and record["config"]["model"]["channels_last"] is False
    assert record["speed"]["device"] == "cpu" and record["speed"]["asked"]["precision"] == "fastest"
    assert "no native bf16" in record["hardware"] and record["machine"]["cpu"]["model"]
    assert "speed: 32-true, contiguous (NCHW) (the fastest on cpu)" in caplog.messages
    native(cpu=True)  # resumed on one with: the run stays as it started, and the definition check agrees
    main([*args, "--ckpt_path=last"])
    record = RunFolder(folder).read()
    assert record["status"] == "finished" and record["global_step"] == 4
    assert record["precision"] == "32-true" and record["speed"]["source"] == "checkpoint"
    assert [s["from_step"] for s in record["segments"]] == [0, 2]
    assert "native bf16" in record["segments"][1]["hardware"] and "no native" in record["segments"][0]["hardware"]


def test_cli_resolves_before_anything_is_built(tmp_path: Path, native) -> None:
    native(cpu=True)
    cli = ResNetCLI(args=["--config", TABLE6, "--config", SMOKE, f"--runs_dir={tmp_path}"])
    assert cli.trainer.precision == "bf16-mixed" and cli.model.hparams.channels_last is True
    assert cli.speed.line() == "speed: bf16-mixed, channels-last (the fastest on cpu-bf16)"


def test_the_speed_settings_are_resolved_for_the_device_lightning_picks(devices) -> None:
    for cuda, mps, expected in ((True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")):
        devices(cuda=cuda, mps=mps)
        assert speed.device_type("auto") == expected and speed.device_type(None) == expected
    assert speed.device_type("cpu") == "cpu" and speed.device_type("CUDA") == "cuda"


@pytest.mark.slow
def test_the_on_device_data_path_trains_on_what_auto_picks(cifar_dir: Path, tmp_path: Path) -> None:
    main(
        [
            *tiny_fit(cifar_dir, "--config", SMOKE, f"--runs_dir={tmp_path}"),
            "--trainer.accelerator=auto",
            "--data.init_args.on_device=true",
            "--trainer.max_steps=3",
            "--trainer.limit_val_batches=1",
            "--trainer.limit_test_batches=1",
            "--trainer.enable_progress_bar=false",
        ]
    )
    record = RunFolder(tmp_path / "cifar10-smoke" / "resnet8-s0").read()
    assert record["status"] == "finished" and record["global_step"] == 3
    assert record["speed"]["device"].split("-")[0] == speed.device_type("auto")


def test_records_name_the_cpus_family_and_model_where_a_vm_reports_a_generic_name(tmp_path: Path) -> None:
    block = (
        "processor\t: {i}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\nstepping\t: 1\n"
    )
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("\n".join(block.format(i=i) for i in range(2)))
    assert hardware.cpu_id(cpuinfo) == "AuthenticAMD family 25 model 17 stepping 1"
    assert hardware.cpu_id(tmp_path / "absent") is None  # macOS, Windows: not said
    assert "id" in hardware.machine()["cpu"]  # every record carries it (None off Linux)
