"""Images/second of ImageNet input processing per CPU core: JPEG decoding (torchvision, libjpeg-turbo)
alone, then with each view of Section 3.4 (the training crop, the centre crop, 10-crop, multi-scale),
then the DataModule's training loader with all cores as workers.

Runs on generated JPEGs at ImageNet's commonest size (500x375, quality 90) unless --data-dir points at a
folder of class folders (e.g. an ImageNet train/ split); real photos decode somewhat slower than these
smooth synthetic ones.

    python benchmarks/imagenet_decode.py
    python benchmarks/imagenet_decode.py --data-dir /datasets/imagenet --images 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lightning_resnet.data import ImageNetDataModule
from lightning_resnet.data.imagenet import read_image
from lightning_resnet.data.synthetic import write_image_tree
from lightning_resnet.data.views import center_view, multiscale_views, ten_crop_views, train_view


def per_core_rate(paths: list[str], work: Callable[[str], object]) -> float:
    """Images/second of ``work`` over ``paths`` in this process, on one thread (after one untimed image)."""
    work(paths[0])
    start = time.perf_counter()
    for path in paths:
        work(path)
    return len(paths) / (time.perf_counter() - start)


def loader_rate(data_dir: Path, workers: int, batches: int, batch_size: int) -> float:
    """Images/second of the DataModule's training loader (decode + scale + crop + flip) with ``workers`` workers."""
    dm = ImageNetDataModule(data_dir=str(data_dir), batch_size=batch_size, num_workers=workers)
    dm.setup("fit")
    loader = iter(dm.train_dataloader())
    next(loader)  # start the workers
    start = time.perf_counter()
    seen = 0
    for _ in range(batches):
        try:
            images, _ = next(loader)
        except StopIteration:
            loader = iter(dm.train_dataloader())
            images, _ = next(loader)
        seen += len(images)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir", default=None, help="an ImageNet folder with train/<wnid>/ (default: generated JPEGs)"
    )
    parser.add_argument("--images", type=int, default=300, help="images timed per measurement")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count(), help="DataLoader workers for the loader measurement"
    )
    args = parser.parse_args()

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.data_dir:
            root = Path(args.data_dir)
        else:
            root = write_image_tree(
                Path(tmp) / "imagenet",
                classes=3,
                per_class={"train": args.images // 3 + 1, "val": 1},
                sizes=[(375, 500)],
            )
        paths = sorted(str(p) for p in (root / "train").rglob("*") if p.is_file())[: args.images]
        augment = train_view()
        print(
            f"# ImageNet decode + augment, {len(paths)} images from "
            f"{'generated 500x375 JPEGs' if not args.data_dir else root}; "
            f"{platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}\n"
        )
        print("| work per image | images/s per core |")
        print("|---|---|")
        for name, work in (
            ("decode only", read_image),
            ("decode + training view (scale 256-480, 224 crop, flip)", lambda p: augment(read_image(p))),
            ("decode + centre crop (validation)", lambda p: center_view(read_image(p))),
            ("decode + 10 crops (Tables 2-3)", lambda p: ten_crop_views(read_image(p))),
            ("decode + 5 scales x 2 flips (Table 4)", lambda p: multiscale_views(read_image(p))),
        ):
            print(f"| {name} | {per_core_rate(paths, work):,.0f} |", flush=True)
        rate = loader_rate(root, args.workers, batches=max(len(paths) // 32, 4), batch_size=32)
        print(
            f"\nTraining DataLoader, {args.workers} workers (batch 32): {rate:,.0f} images/s in all, "
            f"{rate / max(args.workers, 1):,.0f} per worker."
        )
        print(
            "At that rate, one GPU that trains ResNet-50 at N images/s needs about N / "
            f"{rate / max(args.workers, 1):,.0f} such cores."
        )


if __name__ == "__main__":
    main()
