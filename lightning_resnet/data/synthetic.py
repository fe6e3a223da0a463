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


def _scene(height: int, width: int, boxes: Sequence[tuple[int, int, int, int]], generator: torch.Generator):
    """A smooth background with each box painted as a bright rectangle (something a detector can find)."""
    coarse = torch.randint(0, 120, (1, 3, max(height // 8, 1), max(width // 8, 1)), generator=generator).float()
    image = F.interpolate(coarse, size=(height, width), mode="bilinear")[0]
    for x1, y1, x2, y2 in boxes:
        image[:, y1:y2, x1:x2] = 230.0
    return image.clamp(0, 255).to(torch.uint8)


# per image: (height, width) and objects (class name, x1, y1, x2, y2 in VOC's 1-based inclusive pixels, difficult)
VOC_SCENES: tuple[tuple[tuple[int, int], tuple[tuple[str, int, int, int, int, bool], ...]], ...] = (
    ((96, 128), (("dog", 11, 21, 60, 80, False), ("person", 71, 11, 120, 50, False))),
    ((120, 100), (("car", 21, 31, 80, 100, False),)),
    ((100, 100), (("dog", 41, 41, 90, 90, False), ("cat", 5, 5, 30, 30, True))),
)


def write_voc_tree(root: str | os.PathLike, sets: Mapping[str, Sequence[int]] | None = None, seed: int = 0) -> Path:
    """Write ``root/VOCdevkit/VOC<year>/{Annotations,ImageSets/Main,JPEGImages}`` as PASCAL VOC lays them out.

    ``sets`` maps ``<year>-<image set>`` to the :data:`VOC_SCENES` its images show (default: 2007 trainval and
    test, 2012 trainval). Returns ``root``.
    """
    from torchvision.io import write_jpeg

    sets = sets or {"2007-trainval": (0, 1), "2007-test": (2, 0), "2012-trainval": (1, 2)}
    root, generator = Path(root), torch.Generator().manual_seed(seed)
    for name, scenes in sets.items():
        year, _, image_set = name.partition("-")
        base = root / "VOCdevkit" / f"VOC{year}"
        for folder in ("Annotations", "ImageSets/Main", "JPEGImages"):
            (base / folder).mkdir(parents=True, exist_ok=True)
        ids = []
        for i, scene in enumerate(scenes):
            (height, width), objects = VOC_SCENES[scene]
            image_id = f"{year}_{image_set}_{i:04d}"
            ids.append(image_id)
            pixels = [(x1 - 1, y1 - 1, x2, y2) for _, x1, y1, x2, y2, _ in objects]
            write_jpeg(_scene(height, width, pixels, generator), str(base / "JPEGImages" / f"{image_id}.jpg"))
            entries = "".join(
                f"<object><name>{label}</name><difficult>{int(hard)}</difficult><bndbox><xmin>{x1}</xmin>"
                f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
                for label, x1, y1, x2, y2, hard in objects
            )
            (base / "Annotations" / f"{image_id}.xml").write_text(
                f"<annotation><filename>{image_id}.jpg</filename><size><width>{width}</width><height>{height}"
                f"</height><depth>3</depth></size>{entries}</annotation>"
            )
        (base / "ImageSets" / "Main" / f"{image_set}.txt").write_text("\n".join(ids) + "\n")
    return root


# per image: (height, width) and objects (category id, x, y, w, h, iscrowd); COCO's category ids skip numbers
COCO_SCENES: tuple[tuple[tuple[int, int], tuple[tuple[int, int, int, int, int, int], ...]], ...] = (
    ((96, 128), ((18, 10, 20, 50, 60, 0), (1, 70, 10, 50, 40, 0))),
    ((120, 100), ((3, 20, 30, 60, 70, 0), (1, 0, 0, 30, 30, 1))),
    ((100, 100), ()),
)


def write_coco_tree(root: str | os.PathLike, splits: Mapping[str, Sequence[int]] | None = None, seed: int = 0) -> Path:
    """Write ``root/<split>/*.jpg`` and ``root/annotations/instances_<split>.json`` as COCO lays them out
    (default splits train2014 and val2014). Returns ``root``."""
    import json

    from torchvision.io import write_jpeg

    splits = splits or {"train2014": (0, 1, 2), "val2014": (1, 0, 2)}
    root, generator = Path(root), torch.Generator().manual_seed(seed)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]
    for split, scenes in splits.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i, scene in enumerate(scenes):
            (height, width), objects = COCO_SCENES[scene]
            name = f"COCO_{split}_{i:012d}.jpg"
            pixels = [(x, y, x + w, y + h) for _, x, y, w, h, _ in objects]
            write_jpeg(_scene(height, width, pixels, generator), str(root / split / name))
            images.append({"id": i + 1, "file_name": name, "height": height, "width": width})
            for category, x, y, w, h, crowd in objects:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": i + 1,
                        "category_id": category,
                        "bbox": [x, y, w, h],
                        "area": w * h,
                        "iscrowd": crowd,
                        "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                    }
                )
        document = {"images": images, "annotations": annotations, "categories": categories}
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(document))
    return root
