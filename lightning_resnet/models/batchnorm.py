"""Batch normalisation over a fixed sub-batch ("ghost" BN), so statistics do not depend on the hardware.

The paper normalises per GPU: 64 images on each of its 2 GPUs for CIFAR-10 (batch 128), 32 on each of
8 for ImageNet (batch 256). One GPU with the whole batch, or eight with a slice each, would otherwise
normalise over another number of images than the paper did.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError


class GhostBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` that, in training, normalises each consecutive ``sub_batch`` images on their own.

    The output and the running statistics equal those of calling ``BatchNorm2d`` on each sub-batch in
    turn. ``sub_batch=None`` is plain ``BatchNorm2d``. Evaluation uses the running statistics, as usual.
    """

    def __init__(self, num_features: int, sub_batch: int | None = None, **kwargs) -> None:
        super().__init__(num_features, **kwargs)
        self.sub_batch = sub_batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.sub_batch
        if not (self.training and size) or len(x) == size:
            return super().forward(x)
        if len(x) % size:
            raise ConfigError(
                f"BN sub-batch {size} does not divide the per-device batch of {len(x)} images: choose a batch size "
                f"(per device, after accumulation) that is a multiple of {size}, or set model.bn_batch to null."
            )
        return torch.cat([super(GhostBatchNorm2d, self).forward(part) for part in x.split(size)])

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sub_batch={self.sub_batch}"


def use_ghost_batch_norm(net: nn.Module, sub_batch: int | None) -> nn.Module:
    """Replace every ``BatchNorm2d`` of ``net`` by a :class:`GhostBatchNorm2d` with the same state."""
    for parent in list(net.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.BatchNorm2d:
                ghost = GhostBatchNorm2d(child.num_features, sub_batch, eps=child.eps, momentum=child.momentum)
                ghost.load_state_dict(child.state_dict())
                setattr(parent, name, ghost.to(child.weight.device))
    return net
