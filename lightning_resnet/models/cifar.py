"""The CIFAR-10 networks of Section 4.2: 6n+2 weighted layers on 32x32 inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .blocks import BasicBlock, conv_bn, init_he_, make_stage
from .registry import register_plain_and_residual

CIFAR_DEPTHS: tuple[int, ...] = (20, 32, 44, 56, 110, 1202)  # the paper's (Table 6, Figure 6)
SMALLEST = 8  # n = 1: the smallest member, registered for quick checks and tests


class CifarResNet(nn.Module):
    """3x3 conv (16) -> three stages of ``n`` basic blocks (16/32/64 filters on 32/16/8 maps) -> avg pool -> fc.

    ``depth`` must be 6n+2. ``shortcut="none"`` gives the plain network; option A (the paper's
    choice for CIFAR) keeps plain and residual nets at identical parameter counts.
    """

    def __init__(
        self,
        depth: int = 20,
        shortcut: str = "A",
        num_classes: int = 10,
        widths: tuple[int, int, int] = (16, 32, 64),
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(
                f"CIFAR depth must be 6n+2 with n >= 1 (e.g. {', '.join(map(str, CIFAR_DEPTHS))}), got {depth}"
            )
        n = (depth - 2) // 6
        self.depth, self.shortcut = depth, shortcut
        self.stem = conv_bn(in_channels, widths[0], 3)
        channels = widths[0]
        stages = []
        for i, width in enumerate(widths):
            stage, channels = make_stage(BasicBlock, channels, width, n, stride=1 if i == 0 else 2, shortcut=shortcut)
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(channels, num_classes)
        init_he_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(F.relu(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def cifar_network(
    depth: int, residual: bool, num_classes: int | None = None, shortcut: str | None = None, stride_on_3x3: bool = False
) -> CifarResNet:
    """``resnet<depth>`` (option A unless ``shortcut`` says otherwise) or ``plain<depth>`` (no shortcuts)."""
    if stride_on_3x3:
        raise ConfigError("stride_on_3x3 applies to ImageNet bottleneck nets only")
    if not residual and shortcut not in (None, "none"):
        raise ConfigError(
            f"plain{depth} is a plain network and has no shortcuts; drop shortcut={shortcut!r} or use resnet{depth}"
        )
    return CifarResNet(depth, shortcut=(shortcut or "A") if residual else "none", num_classes=num_classes or 10)


register_plain_and_residual((SMALLEST, *CIFAR_DEPTHS), cifar_network, family="cifar", input_size=32)
