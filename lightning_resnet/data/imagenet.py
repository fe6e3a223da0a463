"""ImageNet (ILSVRC-2012) as in Section 3.4, for Tables 2-4 and Figure 4.

Layouts read:

* class folders: ``<data_dir>/train/<wnid>/*.JPEG`` and ``<data_dir>/val/<wnid>/*.JPEG``;
* torchvision's ``ImageNet`` layout: ``ILSVRC2012_devkit_t12.tar.gz`` (or the ``meta.bin`` torchvision
  makes from it) beside ``ILSVRC2012_img_train.tar``/``ILSVRC2012_img_val.tar`` or their extracted
  folders; torchvision sorts the flat validation images into class folders on first use.

Training (Section 3.4): shorter side resized to a random length in [256, 480], a random 224x224 crop,
random horizontal flip, mean subtraction and AlexNet's PCA colour augmentation. The paper subtracts a
"per-pixel mean"; under scale augmentation a crop can come from any position of an image of any size,
so a mean *image* has no fixed pixel grid to align with. We subtract the per-channel mean of the
ImageNet training pixels (0.485, 0.456, 0.406 in [0, 1] units) and divide by no std, as the paper
divides by none; the PCA constants are AlexNet's as used by fb.resnet.torch (see ``views.py``).

Evaluation, on the 50k validation images (the paper reports on them): ``center`` (shorter side 256,
centre 224 crop; validation during training, Figure 4), ``ten_crop`` (Tables 2-3) and ``multiscale``
(whole image at shorter sides 224-640 and flips, Table 4), chosen by ``val_protocol``/``test_protocol``.
The model averages the softmax over the views (:mod:`lightning_resnet.multiview`).

Workers decode JPEGs with torchvision (libjpeg-turbo) and crop; only uint8 crops cross to the device,
where the batch is normalised and colour-augmented. With ``decode_on_device`` workers only read the
files, and decoding (nvJPEG on a GPU) and cropping happen on the training device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data._utils.collate import default_collate
from torchvision.io import ImageReadMode, decode_image, decode_jpeg, read_file

from ..errors import ConfigError, MissingFileError
from .base import DATA_DIR_ENV, DatasetError, data_root
from .distributed import per_device_batch_size
from .stream import run_seed, stream_key
from .views import (
    IMAGENET_MEAN,
    MULTISCALE_SIDES,
    PCA_BASIS,
    PROTOCOLS,
    Protocol,
    center_view,
    multiscale_views,
    normalize,
    pca_lighting,
    ten_crop_views,
    train_view,
)

TORCHVISION_ARCHIVES = ("ILSVRC2012_devkit_t12.tar.gz", "meta.bin")
LAYOUT_HELP = (
    "expected either class folders {root}/train/<wnid>/*.JPEG and {root}/val/<wnid>/*.JPEG, or torchvision's "
    "ImageNet layout: {root}/ILSVRC2012_devkit_t12.tar.gz (or meta.bin) with ILSVRC2012_img_train.tar and "
    "ILSVRC2012_img_val.tar (or the train/ and val/ folders extracted from them)"
)


def find_layout(root: Path) -> str | None:
    """``"folders"``, ``"torchvision"`` or None when ``root`` holds no ImageNet."""
    if any((root / name).is_file() for name in TORCHVISION_ARCHIVES):
        return "torchvision"
    if all((root / split).is_dir() and any(p.is_dir() for p in (root / split).iterdir()) for split in ("train", "val")):
        return "folders"
    return None


def read_image(path: str) -> torch.Tensor:
    """A file as a decoded uint8 RGB ``(3, H, W)`` tensor (grey and CMYK JPEGs converted)."""
    try:
        return decode_image(read_file(path), mode=ImageReadMode.RGB)
    except RuntimeError as err:
        raise DatasetError(
            f"cannot decode {path} ({err}); delete or replace this file, then resume with --ckpt_path last"
        ) from err


def image_folder(
    root: Path, layout: str, split: str, loader: Callable[[str], torch.Tensor], transform: Callable | None
) -> Dataset:
    from torchvision.datasets import ImageFolder, ImageNet

    if layout == "torchvision":
        return ImageNet(str(root), split=split, loader=loader, transform=transform)
    return ImageFolder(str(root / split), loader=loader, transform=transform)


def collate_views(batch: list[tuple[Any, int]]) -> tuple[torch.Tensor | list, torch.Tensor]:
    """Stack images of one shape; keep a list where shapes differ (multi-scale views, undecoded JPEGs)."""
    images = [image for image, _ in batch]
    labels = torch.tensor([label for _, label in batch])
    if all(isinstance(i, torch.Tensor) and i.ndim >= 3 for i in images) and len({i.shape for i in images}) == 1:
        return default_collate(images), labels
    return images, labels


def decode_batch(data: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Decode a batch of JPEG byte tensors on ``device`` (nvJPEG on CUDA); other formats fall back to the CPU."""
    try:
        return list(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
    except RuntimeError:  # a PNG or CMYK file inside ImageNet's .JPEGs: decode one by one
        return [decode_image(d.cpu(), mode=ImageReadMode.RGB).to(device) for d in data]


class ImageNetDataModule(pl.LightningDataModule):
    """ILSVRC-2012 with the paper's augmentation and its three test protocols.

    Args:
        data_dir: folder that holds ImageNet in one of the layouts above (default: ``$LIGHTNING_RESNET_DATA/imagenet``
            or ``./data/imagenet``).
        batch_size: the global batch (the paper: 256), split evenly over all devices and nodes.
        eval_batch_size: images per device per evaluation step (10-crop makes 10 views of each).
        num_workers: DataLoader workers per device that decode and crop.
        train_scale: the range of the shorter side before the random crop (the paper: 256-480).
        crop_size: training and test crop (224).
        test_side: shorter side for the centre and 10-crop views (256).
        multiscale_sides: shorter sides of the multi-scale protocol (224, 256, 384, 480, 640).
        multiscale_flips: also score the mirror image at each scale (off: Section 3.4 names no flips).
        val_protocol, test_protocol: ``center``, ``ten_crop`` or ``multiscale``.
        color_augmentation: AlexNet's PCA lighting noise during training.
        decode_on_device: decode JPEGs on the training device (the GPU) instead of in the workers.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 256,
        eval_batch_size: int = 50,
        num_workers: int = 8,
        train_scale: tuple[int, int] = (256, 480),
        crop_size: int = 224,
        test_side: int = 256,
        multiscale_sides: Sequence[int] = MULTISCALE_SIDES,
        multiscale_flips: bool = False,
        val_protocol: Protocol = "center",
        test_protocol: Protocol = "ten_crop",
        color_augmentation: bool = True,
        decode_on_device: bool = False,
    ) -> None:
        super().__init__()
        for name, protocol in (("val_protocol", val_protocol), ("test_protocol", test_protocol)):
            if protocol not in PROTOCOLS:
                raise ConfigError(f"{name} must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        if not crop_size <= train_scale[0] <= train_scale[1]:
            raise ConfigError(f"train_scale {tuple(train_scale)} must be ordered and at least crop_size {crop_size}")
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        self.data_dir = data_root(data_dir, "imagenet")
        self.mean, self.pca_basis = torch.tensor(IMAGENET_MEAN), PCA_BASIS  # moved to the training device once
        self.train_set = self.val_set = self.test_set = None
        self.classes: list[str] = []

    def views(self, stage: str) -> Callable[[torch.Tensor], Any]:
        """The per-image transform of a stage: the training crop, or the view(s) of the stage's protocol."""
        hp = self.hparams
        if stage == "train":
            return train_view(hp.train_scale, hp.crop_size)
        protocol = hp.val_protocol if stage == "val" else hp.test_protocol
        if protocol == "multiscale":
            return partial(multiscale_views, sides=tuple(hp.multiscale_sides), flips=hp.multiscale_flips)
        return partial(ten_crop_views if protocol == "ten_crop" else center_view, side=hp.test_side, crop=hp.crop_size)

    def prepare_data(self) -> None:
        if find_layout(self.data_dir) is None:
            raise MissingFileError(
                f"ImageNet not found under {self.data_dir}: {LAYOUT_HELP.format(root=self.data_dir)}. Point data_dir "
                f"(or ${DATA_DIR_ENV}, whose imagenet/ subfolder is the default) at it; ImageNet cannot be downloaded "
                "automatically (it needs an account at image-net.org)."
            )

    def _dataset(self, split: str, stage: str) -> Dataset:
        layout = find_layout(self.data_dir)
        if self.hparams.decode_on_device:
            return image_folder(
                self.data_dir, layout, split, read_file, transform=None
            )  # raw bytes, decoded on the device
        return image_folder(self.data_dir, layout, split, read_image, transform=self.views(stage))

    def setup(self, stage: str | None = None) -> None:
        self.prepare_data()
        if self.val_set is None:  # the paper evaluates on the 50k validation images
            self.val_set = self._dataset("val", "val")
            self.test_set = self._dataset("val", "test")
            self.classes = list(self.val_set.classes)
        if stage in (None, "fit") and self.train_set is None:  # scanning 1.28M files only when training
            self.train_set = self._dataset("train", "train")
            if list(self.train_set.classes) != self.classes:
                raise DatasetError(
                    f"{self.data_dir}/train and {self.data_dir}/val have different class folders; "
                    "both need the same classes"
                )

    def fingerprint(self) -> dict[str, object]:
        """What data a run used: image counts and a hash of each split's file list and labels."""

        def digest(dataset: Dataset) -> str:
            h = hashlib.sha256()
            for path, label in dataset.samples:
                h.update(f"{Path(path).relative_to(self.data_dir)}:{label}\n".encode())
            return h.hexdigest()[:16]

        return {
            "name": "ImageNet",
            "path": str(self.data_dir.resolve()),
            "layout": find_layout(self.data_dir),
            "classes": len(self.classes),
            "train_images": len(self.train_set) if self.train_set else None,
            "val_images": len(self.val_set),
            "sha256": {"val": digest(self.val_set), **({"train": digest(self.train_set)} if self.train_set else {})},
            "test_protocol": self.hparams.test_protocol,
        }

    def _loader(self, dataset: Dataset, batch_size: int, train: bool) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=workers,
            collate_fn=collate_views,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, per_device_batch_size(self.hparams.batch_size, self.trainer), train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.hparams.eval_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self.hparams.eval_batch_size, train=False)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def _stage(self) -> str:
        trainer = self.trainer
        if trainer is not None and trainer.training:
            return "train"
        return "val" if trainer is None else "test" if trainer.testing or trainer.predicting else "val"

    def on_after_batch_transfer(self, batch: tuple[Any, torch.Tensor], dataloader_idx: int) -> tuple[Any, torch.Tensor]:
        if isinstance(batch, torch.Tensor):  # the model's example input (for the summary's FLOP count): as is
            return batch
        images, labels = batch
        stage = self._stage()
        if self.hparams.decode_on_device:
            views = self.views(stage)
            images = collate_views([(views(image), 0) for image in decode_batch(images, labels.device)])[0]
        if self.mean.device != labels.device:
            self.mean, self.pca_basis = self.mean.to(labels.device), self.pca_basis.to(labels.device)
        images = normalize(images, self.mean)
        if stage == "train" and self.hparams.color_augmentation:
            images = pca_lighting(images, self.pca_basis, generator=self._noise_generator(labels.device))
        return images, labels

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        """The colour noise of this batch: drawn from (seed, rank, batch), so DDP ranks never repeat each other's
        noise and a resumed run draws what an uninterrupted one would (crops and flips come from Lightning's
        per-rank, per-worker seeding)."""
        trainer = self.trainer
        batch = trainer.fit_loop.epoch_loop.total_batch_idx if isinstance(trainer, pl.Trainer) else 0
        key = stream_key(run_seed(), getattr(trainer, "global_rank", 0), batch)
        return torch.Generator(device).manual_seed(key)

    @property
    def num_classes(self) -> int:
        """Class folders under ``val/`` of the class-folder layout (a subset in tests), else ImageNet's 1000."""
        val = self.data_dir / "val"
        if find_layout(self.data_dir) == "folders":
            return sum(1 for p in val.iterdir() if p.is_dir())
        return 1000
