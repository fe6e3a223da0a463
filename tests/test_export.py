"""Trained networks leave Lightning: predictions on the user's images, ``load_network`` and ``torch.hub``."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from lightning_resnet import create_model, load_network
from lightning_resnet.cli import main, run_command
from lightning_resnet.data.cifar10 import CLASSES, load_cifar10
from lightning_resnet.release import export_run, read_manifest
from lightning_resnet.runs import Run, RunFolder

REPO = Path(__file__).resolve().parents[1]
TABLE6 = str(REPO / "reproductions" / "table6.yaml")


def fit_resnet8(runs: Path, cifar_dir: Path, *extra: str) -> None:
    """Train a ResNet-8 for 30 iterations of 64 real CIFAR-10 images into ``runs``."""
    run_command(
        [
            "fit",
            "--config",
            TABLE6,
            "--model.arch=resnet8",
            "--model.bn_batch=32",
            f"--data.init_args.data_dir={cifar_dir}",
            "--data.init_args.batch_size=64",
            "--trainer.max_steps=30",
            "--trainer.val_check_interval=30",
            "--trainer.limit_val_batches=2",
            "--trainer.enable_progress_bar=false",
            f"--runs_dir={runs}",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cifar_dir: Path) -> Path:
    """A 30-iteration ResNet-8 on the real CIFAR-10; its run folder."""
    runs = tmp_path_factory.mktemp("runs")
    fit_resnet8(runs, cifar_dir, "--trainer.limit_test_batches=2")
    return runs / "table6" / "resnet8-s0"


@pytest.mark.slow
def test_predict_classifies_a_folder_of_images_without_the_training_data(
    trained: Path, tmp_path: Path, cifar_dir: Path
) -> None:
    images, labels = load_cifar10(cifar_dir, train=False)
    for i in range(6):  # CIFAR-10 test images as PNG files, in folders named after their class, at another size
        folder = tmp_path / "images" / CLASSES[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        write_png(
            torch.nn.functional.interpolate(images[i : i + 1].float(), size=64).to(torch.uint8)[0],
            str(folder / f"{i}.png"),
        )
    run_command(
        [
            "predict",
            "--config",
            TABLE6,
            "--model.arch=resnet8",
            "--model.bn_batch=32",
            "--data.init_args.data_dir=/nonexistent",
            f"--data.init_args.predict_images={tmp_path / 'images'}",
            f"--runs_dir={trained.parent.parent}",
            "--ckpt_path=last",
        ]
    )
    rows = list(csv.DictReader((trained / "predictions.csv").open()))
    assert len(rows) == 6 and {r["label_name"] for r in rows} == {CLASSES[y] for y in labels[:6].tolist()}
    for row in rows:
        probabilities = [float(row[f"p_{c}"]) for c in CLASSES]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row["top1_name"] == CLASSES[max(range(10), key=probabilities.__getitem__)]


@pytest.mark.slow
def test_load_network_and_torch_hub_give_the_trained_network_with_its_preprocessing(
    trained: Path, cifar_dir: Path
) -> None:
    network = load_network(trained / "checkpoints" / "last.ckpt")
    images, _ = load_cifar10(cifar_dir, train=False)
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=False)
    mean = checkpoint["CIFAR10DataModule"]["mean_image"]
    assert mean.shape == (3, 32, 32)
    expected = network.net((images[:8].float() - mean) / 255)
    assert torch.allclose(network(images[:8]), expected, atol=1e-5)
    assert network.classes == CLASSES
    hub = torch.hub.load(str(REPO), "resnet8", source="local", pretrained=str(trained / "checkpoints" / "last.ckpt"))
    assert torch.equal(hub(images[:8]), network(images[:8]))
    untrained = torch.hub.load(str(REPO), "resnet56", source="local")
    assert sum(p.numel() for p in untrained.parameters()) == 853_018


def test_a_corrupted_checkpoint_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "last.ckpt"
    broken.write_bytes(b"PK\x03\x04 not a checkpoint")
    with pytest.raises(ValueError, match=r"last.ckpt is not a readable checkpoint .* use another checkpoint"):
        load_network(broken)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, cifar_dir: Path) -> Path:
    """A 30-iteration ResNet-8 at the paper preset's folder, tested on all 10,000 test images; its run folder."""
    runs = tmp_path_factory.mktemp("runs")
    fit_resnet8(runs, cifar_dir, "--preset=paper")
    return runs / "cifar10-paper" / "resnet8-s0"


def top1_error_on_the_test_set(network: torch.nn.Module, cifar_dir: Path) -> float:
    """The top-1 error in percent of a TrainedNetwork on the 10,000 CIFAR-10 test images."""
    images, labels = load_cifar10(cifar_dir, train=False)
    with torch.no_grad():
        predicted = torch.cat([network(images[i : i + 1000]).argmax(1) for i in range(0, len(images), 1000)])
    return 100.0 * (predicted != labels).float().mean().item()


@pytest.mark.slow
def test_export_writes_a_release_that_loads_by_name_and_gives_the_records_test_error(
    finished: Path, tmp_path: Path, cifar_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["export", str(finished), f"--weights_dir={tmp_path}"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    release = manifest["resnet8"]
    record = RunFolder(finished).record()
    path = tmp_path / release["file"]
    assert release["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert release["file"] == f"resnet8-{release['sha256'][:8]}.pt"
    assert release["test_error"] == pytest.approx(record.final["test/top1_error"], abs=1e-4)
    assert (release["preset"], release["seed"], release["iterations"]) == ("paper", 0, 30)
    assert release["record"] == "reports/records/cifar10-paper/resnet8-s0"
    assert release["machine"] == Run.read(finished).hardware and "cores" in release["machine"]
    saved = torch.load(path, weights_only=True)  # plain tensors only
    assert saved["mean_image"].dtype == torch.float32 and saved["mean_image"].shape == (3, 32, 32)
    create_model("resnet8").load_state_dict(saved["state_dict"], strict=True)  # no ghost-BN or compile keys
    network = load_network("resnet8", weights="paper", weights_dir=tmp_path)
    assert top1_error_on_the_test_set(network, cifar_dir) == pytest.approx(release["test_error"], abs=0.01)
    monkeypatch.setattr("lightning_resnet.release.weights_dir", lambda: tmp_path)
    hub = torch.hub.load(str(REPO), "resnet8", source="local", pretrained=True)
    images, _ = load_cifar10(cifar_dir, train=False)
    assert torch.equal(hub(images[:8]), network(images[:8]))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte damaged
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        load_network("resnet8", weights="paper", weights_dir=tmp_path)


@pytest.mark.slow
def test_export_refuses_unfinished_runs_and_nonfinite_weights(finished: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "cifar10-paper" / "resnet8-s0"
    shutil.copytree(finished, run)
    folder = RunFolder(run)
    folder.update(status="interrupted", global_step=20)
    with pytest.raises(ValueError, match=r"is not finished \(interrupted, 20 of 30 iterations\)"):
        export_run(run, tmp_path / "weights")
    folder.update(status="finished", global_step=30)
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    key = next(k for k in checkpoint["state_dict"] if k.startswith("net.") and k.endswith("weight"))
    checkpoint["state_dict"][key] = torch.full_like(checkpoint["state_dict"][key], float("nan"))
    torch.save(checkpoint, run / "checkpoints" / "last.ckpt")
    with pytest.raises(ValueError, match="non-finite weights: nothing released"):
        export_run(run, tmp_path / "weights")
    assert not (tmp_path / "weights").exists()


def test_a_network_without_released_weights_is_one_line_naming_those_with_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no released weights for 'resnet1202'; networks with weights: "):
        load_network("resnet1202", weights="paper")
    with pytest.raises(ValueError, match=r"unknown weights 'imagenet'"):
        load_network("resnet20", weights="imagenet")
    with pytest.raises(ValueError, match=r"'resnet20' is a network name: load its released weights with"):
        load_network("resnet20")


RELEASES = read_manifest()


@pytest.mark.slow
@pytest.mark.parametrize("network", sorted(RELEASES))
def test_every_released_file_gives_the_test_error_of_its_record(network: str, cifar_dir: Path) -> None:
    release = RELEASES[network]
    record = RunFolder(REPO / release.record).record()
    assert release.test_error == pytest.approx(record.final["test/top1_error"], abs=1e-4)
    assert (release.iterations, release.preset) == (record.global_step, "paper") and record.status == "finished"
    error = top1_error_on_the_test_set(load_network(network, weights="paper"), cifar_dir)
    assert error == pytest.approx(release.test_error, abs=0.01)
