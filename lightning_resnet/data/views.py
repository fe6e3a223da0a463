"""The ImageNet views of Section 3.4: the training crop, and the test views of Tables 2-4.

All functions take and return uint8 ``(3, H, W)`` tensors on any device (CPU in DataLoader workers, the
GPU when JPEGs are decoded there), so the same code serves both decoding paths. Mean subtraction and the
colour augmentation run later, on the whole batch (:func:`normalize`, :func:`pca_lighting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from ..multiview import PROTOCOLS  # noqa: F401 (re-exported: the names the DataModule accepts)

Protocol = Literal["center", "ten_crop", "multiscale"]

# Per-channel mean of the ImageNet training pixels, in [0, 1] units (the values torchvision's models use).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
# AlexNet's "PCA colour augmentation": eigenvalues and eigenvectors (columns) of the 3x3 covariance of
# ImageNet RGB pixels in [0, 1] units, with a per-image N(0, 0.1) draw per component. These are the
# constants of fb.resnet.torch, the Torch reproduction the paper's authors endorsed.
PCA_EIGENVALUES = (0.2175, 0.0188, 0.0045)
PCA_EIGENVECTORS = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
PCA_ALPHA_STD = 0.1
# column j = eigenvector j scaled by its eigenvalue: the RGB offset is PCA_BASIS @ alpha
PCA_BASIS = torch.tensor(PCA_EIGENVECTORS) * torch.tensor(PCA_EIGENVALUES)
MULTISCALE_SIDES = (224, 256, 384, 480, 640)


def train_view(scale: Sequence[int] = (256, 480), crop: int = 224) -> v2.Compose:
    """Shorter side resized to a uniform random length in ``scale`` (inclusive), random ``crop`` square, random flip."""
    low, high = scale
    return v2.Compose([v2.RandomResize(low, high + 1, antialias=True), v2.RandomCrop(crop), v2.RandomHorizontalFlip()])


def center_view(image: torch.Tensor, side: int = 256, crop: int = 224) -> torch.Tensor:
    """The single centre crop used for validation during training (Figure 4's validation curves)."""
    return F.center_crop(F.resize(image, side, antialias=True), crop)


def ten_crop_views(image: torch.Tensor, side: int = 256, crop: int = 224) -> torch.Tensor:
    """Tables 2-3: shorter side ``side``, the four corner and the centre crops and their flips: ``(10, 3, crop,
    crop)``."""
    return torch.stack(F.ten_crop(F.resize(image, side, antialias=True), [crop, crop]))


def multiscale_views(
    image: torch.Tensor, sides: Sequence[int] = MULTISCALE_SIDES, flips: bool = False
) -> list[torch.Tensor]:
    """Table 4 (Section 3.4): the whole image at each shorter side, for fully-convolutional scoring; with ``flips``
    also each one's mirror image (the paper names no flips for this protocol, unlike 10-crop)."""
    views = []
    for side in sides:
        resized = F.resize(image, side, antialias=True)
        views += [resized, resized.flip(-1)] if flips else [resized]
    return views


def normalize(images: torch.Tensor | list, mean: torch.Tensor) -> torch.Tensor | list:
    """uint8 -> float in [0, 1] minus the per-channel ``mean`` (no division by a std, as in the paper).

    Works on any leading dimensions, and on (nested) lists of views of different sizes. Pass ``mean``
    already on the images' device to spare a copy per batch.
    """
    if isinstance(images, (list, tuple)):
        return [normalize(view, mean) for view in images]
    return images.float().div_(255.0).sub_(mean.to(images.device).view(3, 1, 1))


def pca_lighting(
    images: torch.Tensor,
    basis: torch.Tensor | None = None,
    alpha_std: float = PCA_ALPHA_STD,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add AlexNet's PCA colour noise to a ``(B, 3, H, W)`` float batch: one RGB offset per image.

    ``basis`` is :data:`PCA_BASIS`; pass it already on the batch's device to spare a copy per batch.
    """
    basis = PCA_BASIS if basis is None else basis
    alpha = torch.randn(
        images.shape[0], 3, generator=generator, device=generator.device if generator else images.device
    )
    offset = (alpha.to(images.device) * alpha_std) @ basis.to(images.device).T  # (B, 3)
    return images + offset[:, :, None, None].to(images.dtype)
