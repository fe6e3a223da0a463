"""Activation checkpointing over the residual stages: each block's activations are recomputed in the backward
pass instead of kept, so only the blocks' inputs stay in memory (ResNet-1202 at batch 128 fits a 16 GB GPU).

The recomputation runs BN in training mode on the same input, so it normalises exactly as the first forward
did; it must not update the running statistics a second time, so during it every BN's momentum is 0 and its
batch counter is restored. The module tree (and so every state_dict key) is unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def frozen_running_stats(module: nn.Module) -> Iterator[None]:
    """BN layers of ``module`` normalise with batch statistics as usual but leave their running statistics alone."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(m.momentum, m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            m.num_batches_tracked.copy_(count)


class CheckpointedStage(nn.Sequential):
    """A stage (``nn.Sequential`` of blocks) whose blocks are each checkpointed while training with gradients."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self:
            if self.training and torch.is_grad_enabled():
                x = checkpoint(
                    block,
                    x,
                    use_reentrant=False,
                    context_fn=lambda block=block: (contextlib.nullcontext(), frozen_running_stats(block)),
                )
            else:
                x = block(x)
        return x


def checkpoint_activations(net: nn.Module) -> nn.Module:
    """Checkpoint every block of ``net.stages`` (the CIFAR and ImageNet families); returns ``net``."""
    stages = getattr(net, "stages", None)
    if not isinstance(stages, nn.Sequential):
        raise ValueError(f"{type(net).__name__} has no residual stages (net.stages) to checkpoint")
    for stage in stages:
        stage.__class__ = CheckpointedStage
    return net
