"""What a network costs: parameters, multiply-adds of a forward pass, and the FLOPs of training it.

Counted on the models themselves (``torch.utils.flop_counter``), so Table 1's and Table 6's complexity
columns can be checked against the paper and cost estimates need no hand-kept numbers.
"""

from __future__ import annotations

from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from .registry import create_model, model_entry


def skeleton(arch: str, **kwargs) -> torch.nn.Module:
    """The network to count on: ImageNet-sized ones on the meta device, where initialising their weights is most
    of a build (ResNet-152: 0.13 s instead of about 1 s), CIFAR ones for real, whose many small layers build and
    run faster on the CPU than through meta kernels (ResNet-1202: 0.6 s vs 1.2 s to build)."""
    if model_entry(arch).input_size < 224:
        return create_model(arch, **kwargs)
    with torch.device("meta"):
        return create_model(arch, **kwargs)


@cache
def parameters(arch: str, shortcut: str | None = None) -> int:
    """Trainable parameters of a registered network (``resnet56``; ``resnet34`` with shortcut ``B``)."""
    return sum(p.numel() for p in skeleton(arch, shortcut=shortcut).parameters())


@cache
def forward_macs(arch: str, shortcut: str | None = None, size: int = 32) -> float:
    """Multiply-adds of one forward pass of one ``size`` x ``size`` image."""
    net = skeleton(arch, shortcut=shortcut).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, size, size, device=next(net.parameters()).device))
    return counter.get_total_flops() / 2


def training_flops(arch: str, shortcut: str | None, images: int, size: int = 32) -> float:
    """FLOPs of training on ``images`` images: forward + backward ~ 3 forward passes, 2 FLOPs per multiply-add."""
    return 3 * 2 * forward_macs(arch, shortcut, size) * images
