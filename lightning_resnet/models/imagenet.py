"""The ImageNet networks of Table 1: 18/34 with basic blocks, 50/101/152 with bottlenecks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .blocks import BasicBlock, Bottleneck, conv_bn, init_he_, make_stage
from .registry import register_plain_and_residual

# depth -> (block, blocks per stage conv2_x..conv5_x), as in Table 1
IMAGENET_LAYOUTS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}
IMAGENET_DEPTHS: tuple[int, ...] = tuple(IMAGENET_LAYOUTS)


class ImageNetResNet(nn.Module):
    """7x7/2 conv (64) -> 3x3/2 max pool -> conv2_x..conv5_x (widths 64..512) -> avg pool -> fc.

    ``shortcut`` is A, B (the paper's choice for 50/101/152), C or ``"none"`` (plain).
    ``stride_on_3x3`` only affects bottleneck nets; see :class:`Bottleneck`.
    """

    def __init__(
        self,
        depth: int = 50,
        shortcut: str = "B",
        num_classes: int = 1000,
        stride_on_3x3: bool = False,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if depth not in IMAGENET_LAYOUTS:
            raise ConfigError(f"ImageNet depth must be one of {', '.join(map(str, IMAGENET_DEPTHS))}, got {depth}")
        block, counts = IMAGENET_LAYOUTS[depth]
        self.depth, self.shortcut = depth, shortcut
        block_kwargs = {"shortcut": shortcut}
        if block is Bottleneck:
            block_kwargs["stride_on_3x3"] = stride_on_3x3
        self.stem = conv_bn(in_channels, 64, 7, stride=2)
        channels = 64
        stages = []
        for i, (width, count) in enumerate(zip((64, 128, 256, 512), counts)):
            stage, channels = make_stage(block, channels, width, count, stride=1 if i == 0 else 2, **block_kwargs)
            stages.append(stage)
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(channels, num_classes)
        init_he_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(x)), kernel_size=3, stride=2, padding=1)
        x = self.stages(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def imagenet_network(
    depth: int, residual: bool, num_classes: int | None = None, shortcut: str | None = None, stride_on_3x3: bool = False
) -> ImageNetResNet:
    """``resnet<depth>`` (option B unless ``shortcut`` says otherwise) or ``plain<depth>`` (no shortcuts)."""
    if not residual and shortcut not in (None, "none"):
        raise ConfigError(
            f"plain{depth} is a plain network and has no shortcuts; drop shortcut={shortcut!r} or use resnet{depth}"
        )
    kind = (shortcut or "B") if residual else "none"
    return ImageNetResNet(depth, shortcut=kind, num_classes=num_classes or 1000, stride_on_3x3=stride_on_3x3)


register_plain_and_residual(IMAGENET_DEPTHS, imagenet_network, family="imagenet", input_size=224)
