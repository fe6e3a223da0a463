"""Residual building blocks of the paper, with the shortcut option as a parameter.

``shortcut`` is one of:

* ``"A"``: identity; where the shape changes, stride-2 subsampling plus zero-padded channels (no parameters).
* ``"B"``: identity; a 1x1 projection (conv + BN) only where the shape changes.
* ``"C"``: a 1x1 projection on every shortcut.
* ``"none"``: no shortcut at all, i.e. the "plain" network of the same depth.

Every convolution is followed by BN before the activation; the ReLU comes after the addition
(the paper's post-activation block).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

ShortcutOption = Literal["A", "B", "C", "none"]
SHORTCUT_OPTIONS: tuple[str, ...] = ("A", "B", "C", "none")


def conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """A bias-free convolution followed by BN (the paper puts BN right after every convolution)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class ZeroPadShortcut(nn.Module):
    """Option A: parameter-free identity that subsamples by ``stride`` and zero-pads the new channels.

    The extra channels are split evenly before and after the existing ones, as in the common
    CIFAR implementations; the paper only says that "extra zero entries" are padded.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ConfigError(f"option A cannot reduce channels ({in_channels} -> {out_channels})")
        self.stride = stride
        self.pad_before = (out_channels - in_channels) // 2
        self.pad_after = out_channels - in_channels - self.pad_before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad_before or self.pad_after:
            x = F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_before}, {self.pad_after})"


def make_shortcut(option: str, in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The shortcut branch of one block, or ``None`` for a plain block."""
    if option not in SHORTCUT_OPTIONS:
        raise ConfigError(f"unknown shortcut option {option!r}; choose one of {', '.join(SHORTCUT_OPTIONS)}")
    if option == "none":
        return None
    reshapes = stride != 1 or in_channels != out_channels
    if option == "C" or (option == "B" and reshapes):
        return conv_bn(in_channels, out_channels, kernel_size=1, stride=stride)
    if option == "A" and reshapes:
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions (Fig. 2 / Fig. 5 left); ``out_channels`` is also the block's width."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1, shortcut: str = "A") -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = conv_bn(in_channels, width, 3, stride)
        self.conv2 = conv_bn(width, out_channels, 3)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = self.conv2(out)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand by 4 (Fig. 5 right).

    The paper's models put a down-sampling block's stride on the first 1x1 convolution
    (3.8 GFLOPs for ResNet-50); ``stride_on_3x3=True`` moves it to the 3x3 convolution as
    torchvision ("ResNet v1.5") does, which costs 4.1 GFLOPs.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        shortcut: str = "B",
        stride_on_3x3: bool = False,
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        stride_1x1, stride_3x3 = (1, stride) if stride_on_3x3 else (stride, 1)
        self.conv1 = conv_bn(in_channels, width, 1, stride_1x1)
        self.conv2 = conv_bn(width, width, 3, stride_3x3)
        self.conv3 = conv_bn(width, out_channels, 1)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = F.relu(self.conv2(out))
        out = self.conv3(out)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return F.relu(out)


def make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_channels: int,
    width: int,
    num_blocks: int,
    stride: int,
    **block_kwargs,
) -> tuple[nn.Sequential, int]:
    """``num_blocks`` blocks of one width; only the first one changes resolution. Returns the stage and its
    output channels."""
    blocks = []
    for i in range(num_blocks):
        blocks.append(block(in_channels, width, stride if i == 0 else 1, **block_kwargs))
        in_channels = width * block.expansion
    return nn.Sequential(*blocks), in_channels


def init_he_(module: nn.Module) -> None:
    """He et al. (2015) initialisation for convolutions (fan-in, as the paper's Caffe "msra" filler); BN as identity."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
