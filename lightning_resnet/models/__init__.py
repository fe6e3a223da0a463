"""The paper's networks by name: ``create_model("resnet56")``, ``create_model("resnet34", shortcut="B")``.

Names are ``plain<depth>`` (no shortcuts) or ``resnet<depth>``; CIFAR depths are 6n+2
(20, 32, 44, 56, 110, 1202, ...), ImageNet depths 18, 34, 50, 101, 152.
"""

from __future__ import annotations

import difflib
import re

from torch import nn

from .blocks import SHORTCUT_OPTIONS, BasicBlock, Bottleneck, ZeroPadShortcut, make_shortcut
from .cifar import CIFAR_DEPTHS, CifarResNet
from .imagenet import IMAGENET_DEPTHS, ImageNetResNet
from .responses import layer_response_std, recording_responses, response_layers

__all__ = [
    "SHORTCUT_OPTIONS", "BasicBlock", "Bottleneck", "ZeroPadShortcut", "make_shortcut",
    "CIFAR_DEPTHS", "CifarResNet", "IMAGENET_DEPTHS", "ImageNetResNet",
    "layer_response_std", "recording_responses", "response_layers",
    "create_model", "list_models", "is_cifar_model",
]

_NAME = re.compile(r"^(plain|resnet)(\d+)$")


def list_models() -> list[str]:
    """Every registered name: the paper's CIFAR and ImageNet depths, plain and residual."""
    return [f"{kind}{depth}" for depth in CIFAR_DEPTHS + IMAGENET_DEPTHS for kind in ("plain", "resnet")]


def _parse(name: str) -> tuple[str, int]:
    match = _NAME.match(name)
    depth = int(match.group(2)) if match else -1
    valid_cifar = depth >= 8 and (depth - 2) % 6 == 0
    if not match or not (valid_cifar or depth in IMAGENET_DEPTHS):
        close = difflib.get_close_matches(name, list_models(), n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Names are plain<depth> or resnet<depth> with a CIFAR depth 6n+2 "
            f"({', '.join(map(str, CIFAR_DEPTHS))}, ...) or an ImageNet depth ({', '.join(map(str, IMAGENET_DEPTHS))})."
        )
    return match.group(1), depth


def is_cifar_model(name: str) -> bool:
    """True for the 6n+2 CIFAR family (32x32 inputs), False for the ImageNet family."""
    return _parse(name)[1] not in IMAGENET_DEPTHS


def create_model(
    name: str,
    num_classes: int | None = None,
    shortcut: str | None = None,
    stride_on_3x3: bool = False,
) -> nn.Module:
    """Build a network by name.

    ``shortcut`` overrides the residual nets' option (default: A for CIFAR, as in the paper;
    B for ImageNet, the paper's choice for 50/101/152). Plain nets take no shortcut.
    ``num_classes`` defaults to 10 for CIFAR and 1000 for ImageNet.
    """
    kind, depth = _parse(name)
    if kind == "plain":
        if shortcut not in (None, "none"):
            raise ValueError(f"{name} is a plain network and has no shortcuts; drop shortcut={shortcut!r} or use resnet{depth}")
        shortcut = "none"
    if is_cifar_model(name):
        if stride_on_3x3:
            raise ValueError("stride_on_3x3 applies to ImageNet bottleneck nets only")
        return CifarResNet(depth, shortcut=shortcut or "A", num_classes=num_classes or 10)
    return ImageNetResNet(depth, shortcut=shortcut or "B", num_classes=num_classes or 1000, stride_on_3x3=stride_on_3x3)
