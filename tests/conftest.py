"""Shared fixtures: the real CIFAR-10 (from ../shared, $LIGHTNING_RESNET_DATA, or downloaded once) and tiny data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lightning_resnet.data import CIFAR10DataModule
from lightning_resnet.data.synthetic import write_image_tree

REPO = Path(__file__).resolve().parents[1]


def cifar_root() -> Path:
    """The folder holding ``cifar-10-batches-py``: the env variable, the shared copy beside the repo, or a user
    cache."""
    if os.environ.get("LIGHTNING_RESNET_DATA"):
        return Path(os.environ["LIGHTNING_RESNET_DATA"])
    shared = REPO.parent / "shared" / "data" / "cifar10"
    return shared if shared.is_dir() else Path.home() / ".cache" / "lightning_resnet"


@pytest.fixture(scope="session")
def cifar_dir() -> Path:
    return cifar_root()


@pytest.fixture(scope="session")
def cifar(cifar_dir: Path) -> CIFAR10DataModule:
    """The real CIFAR-10 with the paper's 45k/5k split, loaded once for the session."""
    dm = CIFAR10DataModule(data_dir=str(cifar_dir))
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.fixture
def images() -> torch.Tensor:
    """A small float batch with distinct values everywhere, so any crop or flip is identifiable."""
    return torch.arange(6 * 3 * 8 * 8, dtype=torch.float32).reshape(6, 3, 8, 8) + 1


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch):
    """``devices(cuda=..., mps=...)`` makes this machine look as if it had (or lacked) a CUDA GPU or Apple's MPS to
    torch and Lightning (whose MPS check is cached, and counts MPS only on Apple silicon)."""
    import platform

    from lightning_fabric.accelerators.mps import MPSAccelerator

    def set_devices(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(platform, "processor", lambda: "arm" if mps else platform.machine())
        MPSAccelerator.is_available.cache_clear()

    yield set_devices
    monkeypatch.undo()
    MPSAccelerator.is_available.cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _wandb_offline() -> None:
    """No test talks to a W&B server, whatever the developer's login."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True, scope="session")
def _runs_in_the_default_folder() -> None:
    """The tests say where their runs go; a developer's ``$LIGHTNING_RESNET_RUNS`` (the evidence queue's folder) must
    neither move them nor receive them."""
    os.environ.pop("LIGHTNING_RESNET_RUNS", None)


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ImageNet-layout tree at ImageNet's image sizes (3 classes, 12 train and 6 val images)."""
    return write_image_tree(tmp_path_factory.mktemp("imagenet"))


TABLE6 = str(REPO / "reproductions" / "table6.yaml")


def tiny_fit(cifar_dir: Path, *extra: str) -> list[str]:
    """A ``fit`` of the paper recipe shrunk for tests: ResNet-8, batches of 32 (BN over 16), the real CIFAR-10."""
    return [
        "fit",
        "--config",
        TABLE6,
        "--model.arch=resnet8",
        "--model.bn_batch=16",
        "--data.init_args.batch_size=32",
        f"--data.init_args.data_dir={cifar_dir}",
        *extra,
    ]
