"""Faster R-CNN with the paper's backbones (Section 4.3, Appendix A), from torchvision's detection blocks.

ResNet-101 ("C4"): conv1 to conv4_x run once over the whole image (stride 16, 1024 channels); RoI pooling
sits before conv5_1; conv5_x and the global average pool run per region, in the role of VGG-16's fc layers;
sibling classification and box-regression layers end the head. BN layers are frozen into fixed affine layers
(:class:`torchvision.ops.FrozenBatchNorm2d`) holding the ImageNet statistics. VGG-16: its 13 conv layers shared
(stride 16, pool5 removed), 7x7 RoI pooling, fc6 and fc7 per region, as in Faster R-CNN.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
from torchvision.ops import FrozenBatchNorm2d, MultiScaleRoIAlign, roi_pool

from ..data.views import IMAGENET_MEAN
from ..errors import ConfigError, MissingFileError
from ..models import create_model
from ..models.imagenet import ImageNetResNet

FEATURE_STRIDE = 16  # conv4_x (ResNet) and conv5_3 (VGG-16) see the image at 1/16
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
BACKBONES = ("resnet50", "resnet101", "resnet152", "vgg16")


@dataclass(frozen=True)
class Backbone:
    """A backbone split for Faster R-CNN: the shared trunk, the per-region head, and the input normalisation."""

    trunk: nn.Module
    head: nn.Module
    head_channels: int
    pool_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


class RoIMaxPool(MultiScaleRoIAlign):
    """RoI max pooling (Fast R-CNN's, which the paper uses) on the stride-16 feature map, where torchvision's
    ``FasterRCNN`` takes its ``MultiScaleRoIAlign``."""

    def __init__(self, output_size: int, spatial_scale: float = 1 / FEATURE_STRIDE) -> None:
        super().__init__(["0"], output_size, sampling_ratio=0)
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(
        self, features: dict[str, torch.Tensor], proposals: list[torch.Tensor], image_shapes: list
    ) -> torch.Tensor:
        return roi_pool(features["0"], proposals, self.output_size, self.spatial_scale)


def freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Every ``BatchNorm2d`` replaced by a fixed affine layer with its statistics (Appendix A: BN frozen)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
        else:
            freeze_batch_norm(child)
    return module


def calibrate_batch_norm(net: nn.Module, images: int = 8, size: int = 128) -> nn.Module:
    """BN statistics of an untrained network measured on random images, so that frozen BN keeps activations at unit
    scale. Without ImageNet weights a frozen BN holds mean 0 and variance 1, under which a He-initialised
    ResNet-101's activations grow past 1e5 and the first step diverges. This is for smoke runs only: the paper's
    frozen statistics are ImageNet's."""
    batch_norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in batch_norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the calibration batch
    generator = torch.Generator().manual_seed(0)
    net.train()
    with torch.no_grad():
        net(torch.rand(images, 3, size, size, generator=generator) - 0.5)  # as the detector normalises [0, 1] pixels
    for bn in batch_norms:
        bn.momentum = 0.1
    return net.eval()


def _with_out_channels(trunk: nn.Sequential, channels: int) -> nn.Sequential:
    trunk.out_channels = channels  # what FasterRCNN reads to size the RPN
    return trunk


def resnet_c4(net: ImageNetResNet) -> Backbone:
    """conv1..conv4_x shared; conv5_x + average pool per 14x14 region (conv5_1's stride makes it 7x7, the map
    conv5_x saw in ImageNet training)."""
    conv2, conv3, conv4, conv5 = net.stages
    trunk = nn.Sequential(net.stem, nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1), conv2, conv3, conv4)
    head = nn.Sequential(conv5, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Backbone(
        _with_out_channels(trunk, 1024), head, 2048, 14, IMAGENET_MEAN, (1.0, 1.0, 1.0)
    )  # the suite's ImageNet normalisation: x/255 minus the channel mean, no std


def vgg16(weights: str | None) -> Backbone:
    """torchvision's VGG-16: conv1_1..conv5_3 shared (pool5 dropped), fc6/fc7 per 7x7 region."""
    net = torchvision.models.vgg16(weights="IMAGENET1K_V1" if weights == "torchvision" else None)
    if weights not in (None, "torchvision"):
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    head = nn.Sequential(nn.Flatten(), *list(net.classifier)[:-1])  # fc6, relu, dropout, fc7, relu, dropout
    return Backbone(_with_out_channels(net.features[:-1], 512), head, 4096, 7, TORCHVISION_MEAN, TORCHVISION_STD)


def resnet(arch: str, shortcut: str | None, weights: str | None) -> Backbone:
    """One of this suite's ImageNet ResNets: random, from a trained checkpoint of the suite, or ``torchvision``'s
    weights (the same layout as option B with the stride on the 3x3: torchvision's "v1.5")."""
    if weights is None:
        return resnet_c4(calibrate_batch_norm(create_model(arch, shortcut=shortcut)))
    if weights == "torchvision":
        net = create_model(arch, shortcut=shortcut or "B", stride_on_3x3=True)
        source = getattr(torchvision.models, arch)(weights="IMAGENET1K_V1").state_dict()
        net.load_state_dict(from_torchvision(arch, source))
        return resnet_c4(net)
    from ..export import load_network

    trained = load_network(weights)
    if trained.arch != arch:
        raise ConfigError(
            f"{weights} holds a {trained.arch}, not the {arch} backbone asked for: pass a {arch} checkpoint"
        )
    return resnet_c4(trained.net)


def from_torchvision(arch: str, source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvision ResNet's state dict under this suite's module names (both list tensors in the same order)."""
    target = create_model(arch, shortcut="B", stride_on_3x3=True).state_dict()
    shapes = [tuple(v.shape) for v in target.values()], [tuple(v.shape) for v in source.values()]
    if shapes[0] != shapes[1]:
        raise ConfigError(f"torchvision's {arch} does not map onto this suite's {arch}")
    return OrderedDict((name, value) for name, value in zip(target, source.values()))


def build_backbone(arch: str, shortcut: str | None = None, weights: str | None = None) -> Backbone:
    if arch not in BACKBONES:
        raise ConfigError(f"unknown detection backbone {arch!r}; choose one of {', '.join(BACKBONES)}")
    if weights not in (None, "torchvision") and not Path(weights).is_file():
        raise MissingFileError(f"no backbone weights at {weights}: pass a trained ImageNet checkpoint of this suite")
    if arch == "vgg16":
        if shortcut is not None:
            raise ConfigError("vgg16 has no shortcuts; drop --model.shortcut")
        return vgg16(weights)
    return resnet(arch, shortcut, weights)


def frozen_prefix(trunk: nn.Module, arch: str, stages: int) -> None:
    """Fix the first ``stages`` stages' weights (conv1, conv2_x; VGG: conv1_x, conv2_x), as Faster R-CNN fine-tunes."""
    if stages <= 0:
        return
    modules = list(trunk.children())
    if arch == "vgg16":  # conv blocks end at each max pool
        ends = [i for i, m in enumerate(modules) if isinstance(m, nn.MaxPool2d)]
        fixed = modules[: ends[stages - 1] + 1]
    else:  # stem, relu, pool, conv2_x, ...
        fixed = modules[: 3 + stages - 1]
    for module in fixed:
        module.requires_grad_(False)


def faster_rcnn(
    arch: str = "resnet101",
    num_classes: int = 21,
    shortcut: str | None = None,
    weights: str | None = None,
    frozen_stages: int = 2,
    min_size: int = 600,
    max_size: int = 1000,
    proposals: int = 300,
) -> FasterRCNN:
    """Faster R-CNN as in Appendix A, on torchvision's ``FasterRCNN`` (RPN, RoI heads, transform).

    Faster R-CNN's settings where the paper defers to it: shorter side 600 (longer at most 1000), 3 scales x 3
    aspect ratios of anchors, 256 anchors and 128 RoIs sampled per image, ``proposals`` (300) RPN proposals
    kept after NMS at test time.
    """
    backbone = build_backbone(arch, shortcut, weights)
    freeze_batch_norm(backbone.trunk)
    freeze_batch_norm(backbone.head)
    frozen_prefix(backbone.trunk, arch, frozen_stages)
    detector = FasterRCNN(
        backbone.trunk,
        num_classes=None,
        min_size=min_size,
        max_size=max_size,
        image_mean=list(backbone.mean),
        image_std=list(backbone.std),
        rpn_anchor_generator=AnchorGenerator(((128, 256, 512),), ((0.5, 1.0, 2.0),)),
        rpn_pre_nms_top_n_train=12000,
        rpn_pre_nms_top_n_test=6000,
        rpn_post_nms_top_n_test=proposals,
        box_roi_pool=RoIMaxPool(backbone.pool_size),
        box_head=backbone.head,
        box_predictor=FastRCNNPredictor(backbone.head_channels, num_classes),
        box_batch_size_per_image=128,
        box_detections_per_img=100,
    )
    return detector.train()  # a loaded or calibrated backbone comes in eval mode


@cache
def detector_macs(arch: str, height: int = 600, width: int = 1000, regions: int = 300) -> float:
    """Multiply-adds of the backbone's part of one test forward pass: the shared trunk over a ``height`` x ``width``
    image plus the per-region head over ``regions`` RoIs (the RPN and the sibling layers add little), counted by
    ``torch.utils.flop_counter`` on meta tensors (no arithmetic is done)."""
    with torch.device("meta"):
        backbone = vgg16(None) if arch == "vgg16" else resnet_c4(create_model(arch))
        image = torch.zeros(1, 3, height, width)
        rois = torch.zeros(regions, backbone.trunk.out_channels, backbone.pool_size, backbone.pool_size)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            backbone.trunk(image)
            backbone.head(rois)
    return counter.get_total_flops() / 2
