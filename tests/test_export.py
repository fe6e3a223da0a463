"""Trained networks leave Lightning: predictions on the user's images, ``load_network`` and ``torch.hub``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

from lightning_resnet import load_network
from lightning_resnet.cli import ResNetCLI
from lightning_resnet.data.cifar10 import CLASSES, load_cifar10

REPO = Path(__file__).resolve().parents[1]
TABLE6 = str(REPO / "reproductions" / "table6.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, cifar_dir: Path) -> Path:
    """A 30-iteration ResNet-8 on the real CIFAR-10; its run folder."""
    runs = tmp_path_factory.mktemp("runs")
    ResNetCLI(
        args=[
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
            "--trainer.limit_test_batches=2",
            "--trainer.enable_progress_bar=false",
            f"--runs_dir={runs}",
        ]
    )
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
    ResNetCLI(
        args=[
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
