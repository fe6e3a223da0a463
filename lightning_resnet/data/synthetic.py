"""Small ImageNet-layout trees of real JPEGs, for trying the ImageNet pipeline (and the CLI) without ImageNet.

Tests and ``benchmarks/imagenet_decode.py`` use them; so can anyone checking a set-up before the real data
arrives: ``python -c "from lightning_resnet.data.synthetic import write_image_tree; write_image_tree('tree')"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

# (height, width): landscape, portrait, square and a panorama, as ImageNet has; 500x375 is its commonest size
IMAGE_SIZES: tuple[tuple[int, int], ...] = ((300, 400), (375, 500), (480, 360), (256, 256), (200, 600))
WNIDS: tuple[str, ...] = ("n01440764", "n01443537", "n01484850", "n01491361", "n01494475")


def write_image_tree(
    root: str | os.PathLike,
    classes: int = 3,
    per_class: Mapping[str, int] = {"train": 4, "val": 2},  # noqa: B006 (read only)
    sizes: Sequence[tuple[int, int]] = IMAGE_SIZES,
    quality: int = 90,
    seed: int = 0,
) -> Path:
    """Write ``root/<split>/<wnid>/<wnid>_<split>_<i>.JPEG`` and return ``root``.

    Each image is a smooth random pattern (so JPEG compresses it like a photo, not like noise) tinted
    by its class; image ``i`` of class ``c`` has size ``sizes[(c + i) % len(sizes)]``.
    """
    from torchvision.io import write_jpeg

    if classes > len(WNIDS):
        raise ValueError(f"at most {len(WNIDS)} classes, got {classes}")
    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    for split, count in per_class.items():
        for c, wnid in enumerate(WNIDS[:classes]):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                h, w = sizes[(c + i) % len(sizes)]
                coarse = torch.randint(0, 256, (1, 3, max(h // 8, 1), max(w // 8, 1)), generator=generator).float()
                image = F.interpolate(coarse, size=(h, w), mode="bilinear")[0]
                image[c % 3] = image[c % 3] * 0.5 + 127
                write_jpeg(
                    image.clamp(0, 255).to(torch.uint8), str(folder / f"{wnid}_{split}_{i}.JPEG"), quality=quality
                )
    return root
