"""The paper's networks by name: ``create_model("resnet56")``, ``create_model("resnet34", shortcut="B")``.

Each family registers its names (:mod:`.registry`): ``plain<depth>`` and ``resnet<depth>`` for the CIFAR depths
6n+2 of the paper (20, 32, 44, 56, 110, 1202, and 8 for quick checks) and the ImageNet depths 18, 34, 50, 101, 152.
"""

from __future__ import annotations

from .blocks import SHORTCUT_OPTIONS, BasicBlock, Bottleneck, ZeroPadShortcut, make_shortcut
from .cifar import CIFAR_DEPTHS, CifarResNet
from .imagenet import IMAGENET_DEPTHS, ImageNetResNet
from .registry import create_model, is_cifar_model, list_models, model_entry, register_model
from .responses import layer_response_std, recording_responses, response_layers

__all__ = [
    "SHORTCUT_OPTIONS",
    "BasicBlock",
    "Bottleneck",
    "ZeroPadShortcut",
    "make_shortcut",
    "CIFAR_DEPTHS",
    "CifarResNet",
    "IMAGENET_DEPTHS",
    "ImageNetResNet",
    "create_model",
    "is_cifar_model",
    "list_models",
    "model_entry",
    "register_model",
    "layer_response_std",
    "recording_responses",
    "response_layers",
]
