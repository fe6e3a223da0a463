"""Scores averaged over test views, as the paper tests: 10-crop (Tables 2-3) and multi-scale (Table 4).

A batch of images comes in one of three shapes:

* ``(B, 3, H, W)``: one view per image;
* ``(B, V, 3, H, W)``: ``V`` views of one size per image (10-crop);
* a list of ``B`` lists of ``(3, H, W)`` views of any sizes (multi-scale): each view is scored by the
  network applied fully-convolutionally. With global average pooling before the classifier, averaging
  the classifier's spatial score map equals classifying the pooled features, so this is one forward pass
  of the whole view.

Every view gets equal weight; the softmax is averaged over an image's views.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# The paper's evaluation protocols: one centre crop, 10-crop (Tables 2-3), multi-scale (Table 4)
PROTOCOLS: tuple[str, ...] = ("center", "ten_crop", "multiscale")

Net = Callable[[torch.Tensor], torch.Tensor]
Views = torch.Tensor | list[list[torch.Tensor]]


def _image_probabilities(net: Net, views: list[torch.Tensor]) -> torch.Tensor:
    by_shape: dict[torch.Size, list[torch.Tensor]] = {}
    for view in views:  # a view and its flip share a shape: one forward pass for both
        by_shape.setdefault(view.shape, []).append(view)
    return torch.cat([net(torch.stack(group)).float().softmax(-1) for group in by_shape.values()]).mean(0)


def view_log_probabilities(net: Net, images: Views) -> torch.Tensor:
    """``(B, classes)``: log of the softmax averaged over each image's views (log-softmax for one view)."""
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        return net(images).float().log_softmax(-1)
    if isinstance(images, torch.Tensor):
        batch, views = images.shape[:2]
        probabilities = net(images.flatten(0, 1)).float().softmax(-1).view(batch, views, -1).mean(1)
    else:
        probabilities = torch.stack([_image_probabilities(net, views) for views in images])
    return probabilities.clamp_min(torch.finfo(torch.float32).tiny).log()
