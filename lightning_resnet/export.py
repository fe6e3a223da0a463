"""Trained networks outside Lightning: a plain ``nn.Module`` with its weights and its preprocessing."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data.cifar10 import CLASSES, CIFAR10DataModule
from .data.views import IMAGENET_MEAN
from .errors import ConfigError, MissingFileError
from .models import create_model, list_models, model_entry


class TrainedNetwork(nn.Module):
    """uint8 RGB images ``(B, 3, H, W)`` of any size in, class logits out: resized to the network's input size
    (CIFAR-10: 32x32; ImageNet nets are fully convolutional and take the size given), then normalised as in training
    (CIFAR-10: the training mean image, /255; ImageNet: /255, minus the per-channel mean)."""

    def __init__(
        self, net: nn.Module, mean: torch.Tensor, image_size: int | None, classes: tuple[str, ...], arch: str = ""
    ) -> None:
        super().__init__()
        self.net, self.image_size, self.classes, self.arch = net, image_size, classes, arch
        self.register_buffer("mean", mean)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.image_size and x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        if self.mean.ndim == 3:  # CIFAR-10's mean image, in pixel units
            return (x - self.mean) / 255.0
        return x / 255.0 - self.mean.view(3, 1, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(self.preprocess(images))


def read_checkpoint(path: str | Path) -> dict:
    """A Lightning checkpoint of this suite, or one clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated, empty or not a checkpoint
        raise ConfigError(
            f"{path} is not a readable checkpoint ({type(err).__name__}); it may be truncated: use "
            "another checkpoint of the run (checkpoints/last.ckpt or interrupted.ckpt)"
        ) from err
    if "state_dict" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise ConfigError(f"{path} is not a lightning-resnet checkpoint (no state_dict and hyper_parameters)")
    return checkpoint


def load_network(source: str | Path, weights: str | None = None, weights_dir: Path | None = None) -> TrainedNetwork:
    """A trained network with the preprocessing it was trained with: ``load_network("resnet20", weights="paper")``
    loads the released weights of a network by name (:mod:`lightning_resnet.weights`, SHA-256 checked);
    ``load_network(path)`` the network of a checkpoint of this suite."""
    from .release import PAPER, load_release

    if weights is not None:
        if weights != PAPER:
            raise ConfigError(f"unknown weights {weights!r}: the released weights are weights={PAPER!r}")
        name = str(source)
        state, mean = load_release(name, weights_dir)
        net = create_model(name)
        net.load_state_dict(state, strict=True)
        return TrainedNetwork(net.eval(), mean, model_entry(name).input_size, CLASSES, name)
    if str(source) in list_models() and not Path(source).is_file():
        raise ConfigError(f"{source!r} is a network name: load its released weights with weights={PAPER!r}")
    return load_checkpoint(source)


def load_checkpoint(checkpoint: str | Path) -> TrainedNetwork:
    """The network of a checkpoint, with its trained weights and the preprocessing it was trained with."""
    saved = read_checkpoint(checkpoint)
    hp = saved["hyper_parameters"]
    net = create_model(
        hp["arch"],
        num_classes=hp.get("num_classes"),
        shortcut=hp.get("shortcut"),
        stride_on_3x3=hp.get("stride_on_3x3", False),
    )
    net.load_state_dict({k.removeprefix("net."): v for k, v in saved["state_dict"].items() if k.startswith("net.")})
    if model_entry(hp["arch"]).family == "cifar":
        state = saved.get(CIFAR10DataModule.__qualname__, {})
        if "mean_image" not in state:
            raise ConfigError(
                f"{checkpoint} holds no training mean image (trained before it was stored); retrain or "
                "normalise yourself"
            )
        return TrainedNetwork(net.eval(), state["mean_image"], 32, CLASSES, hp["arch"])
    return TrainedNetwork(net.eval(), torch.tensor(IMAGENET_MEAN), None, (), hp["arch"])
