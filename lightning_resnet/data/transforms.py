"""Whole-batch augmentation on the training device: no per-image PIL work.

Images are ``(B, C, H, W)`` tensors. The pad-and-crop of the paper is a random translation with
zero fill; the flip is a masked ``flip``. Both take an optional ``torch.Generator`` so tests and
benchmarks can draw the same augmentation twice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_at(padded: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    """Crop a ``size x size`` window from each padded image at its ``(dy, dx)`` offset (``offsets``: ``(B, 2)``)."""
    batch = padded.shape[0]
    span = torch.arange(size, device=padded.device)
    rows = (offsets[:, 0, None] + span)[:, :, None]  # (B, size, 1)
    cols = (offsets[:, 1, None] + span)[:, None, :]  # (B, 1, size)
    index = torch.arange(batch, device=padded.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)  # (B, C, size, size)


def random_pad_crop(images: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero-pad by ``padding`` on each side and take a random crop of the original size (Section 4.2)."""
    batch, _, height, width = images.shape
    if height != width:
        raise ValueError(f"random_pad_crop expects square images, got {height}x{width}")
    padded = F.pad(images, (padding,) * 4)
    offsets = torch.randint(
        0, 2 * padding + 1, (batch, 2), generator=generator, device=generator.device if generator else "cpu"
    )
    return crop_at(padded, offsets.to(images.device), height)


def random_hflip(images: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image horizontally with probability ``p``."""
    draw = torch.rand(images.shape[0], generator=generator, device=generator.device if generator else "cpu")
    flip = (draw < p).to(images.device)[:, None, None, None]
    return torch.where(flip, images.flip(-1), images)
