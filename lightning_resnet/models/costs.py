"""What a network costs: parameters, multiply-adds of a forward pass, and the FLOPs of training it.

Counted on the models themselves (``torch.utils.flop_counter``), so Table 1's and Table 6's complexity
columns can be checked against the paper and cost estimates need no hand-kept numbers.
"""

from __future__ import annotations

from functools import cache

import torch
from torch.utils.flop_counter import FlopCounterMode

from .registry import create_model


@cache
def parameters(arch: str, shortcut: str | None = None) -> int:
    """Trainable parameters of a registered network (``resnet56``; ``resnet34`` with shortcut ``B``)."""
    return sum(p.numel() for p in create_model(arch, shortcut=shortcut).parameters())


@cache
def forward_macs(arch: str, shortcut: str | None = None, size: int = 32) -> float:
    """Multiply-adds of one forward pass of one ``size`` x ``size`` image."""
    net = create_model(arch, shortcut=shortcut).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() / 2


def training_flops(arch: str, shortcut: str | None, images: int, size: int = 32) -> float:
    """FLOPs of training on ``images`` images: forward + backward ~ 3 forward passes, 2 FLOPs per multiply-add."""
    return 3 * 2 * forward_macs(arch, shortcut, size) * images
