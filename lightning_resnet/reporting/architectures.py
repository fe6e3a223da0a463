"""Table 1 from the models themselves: each ImageNet network's stages, measured multiply-adds and parameters."""

from __future__ import annotations

import torch

from ..models.costs import forward_macs, parameters, skeleton
from ..paper.numbers import TABLE1_GMACS

STAGES = ("conv2_x", "conv3_x", "conv4_x", "conv5_x")


def stage_shapes(name: str) -> list[tuple[str, int, int, int]]:
    """Per stage of ``name`` at 224x224: (block type, blocks, output channels, output side), read off a forward pass."""
    net = skeleton(name).eval()
    shapes: list[torch.Size] = []
    hooks = [stage.register_forward_hook(lambda _m, _i, out: shapes.append(out.shape)) for stage in net.stages]
    with torch.no_grad():
        net(torch.zeros(1, 3, 224, 224, device=next(net.parameters()).device))
    for hook in hooks:
        hook.remove()
    return [(type(stage[0]).__name__, len(stage), shape[1], shape[2]) for stage, shape in zip(net.stages, shapes)]


def architecture_table() -> list[str]:
    """Table 1 as measured: one column per network, as the paper lays it out, and the paper's FLOPs beside ours."""
    names = list(TABLE1_GMACS)
    layouts = {name: stage_shapes(name) for name in names}
    lines = [
        "| stage (output) | " + " | ".join(f"{name[6:]}-layer" for name in names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for i, stage in enumerate(STAGES):
        side = layouts[names[0]][i][3]
        cells = [
            f"{kind.replace('Block', '').lower()} x{count} (out {channels})"
            for kind, count, channels, _ in (layouts[name][i] for name in names)
        ]
        lines.append(f"| {stage} ({side}x{side}) | " + " | ".join(cells) + " |")
    lines.append("| paper FLOPs (multiply-adds) | " + " | ".join(f"{TABLE1_GMACS[n]:.1f} x 10^9" for n in names) + " |")
    lines.append(
        "| measured multiply-adds | "
        + " | ".join(f"{forward_macs(n, size=224) / 1e9:.2f} x 10^9" for n in names)
        + " |"
    )
    lines.append("| measured parameters | " + " | ".join(f"{parameters(n) / 1e6:.2f} M" for n in names) + " |")
    return lines


ARCHITECTURE_NOTE = (
    "Measured on the networks of `lightning_resnet.models` (option B shortcuts, the stride of a bottleneck stage on "
    "its first 1x1 convolution as in the paper's models): blocks and output shapes from a forward pass of one "
    "224x224 image, multiply-adds of convolutions and the fc layer counted with `torch.utils.flop_counter`, "
    "parameters counted on the model. The paper gives no parameter counts for ImageNet. No training is involved, so "
    "this page needs no runs."
)
