"""Layer responses for Figure 7: the output of each 3x3 convolution's BN, before ReLU or addition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


def response_layers(net: nn.Module) -> list[nn.BatchNorm2d]:
    """The BN layers that directly follow a 3x3 convolution, in forward order.

    Works for any network built from :func:`~lightning_resnet.models.blocks.conv_bn`, since each
    block registers its modules in the order it runs them.
    """
    layers: list[nn.BatchNorm2d] = []
    previous: nn.Module | None = None
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d) and isinstance(previous, nn.Conv2d) and previous.kernel_size == (3, 3):
            layers.append(module)
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
            previous = module
    return layers


@contextmanager
def recording_responses(net: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Within the block, every forward pass appends the responses of :func:`response_layers` to the yielded list."""
    responses: list[torch.Tensor] = []
    handles = [
        layer.register_forward_hook(lambda _m, _i, out: responses.append(out.detach()))
        for layer in response_layers(net)
    ]
    try:
        yield responses
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def layer_response_std(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Std of each layer's response over a batch (all elements of the response tensor), as plotted in Figure 7."""
    with recording_responses(net) as responses:
        net(images)
    return torch.stack([r.float().std() for r in responses])
