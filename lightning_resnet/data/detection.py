"""PASCAL VOC and COCO for Faster R-CNN (Section 4.3), in the layouts torchvision's datasets read.

* VOC: ``<data_dir>/VOCdevkit/VOC2007/{Annotations,ImageSets/Main,JPEGImages}`` and ``VOC2012`` likewise
  (:class:`torchvision.datasets.VOCDetection`). The paper's training sets: ``07+12`` = 2007 trainval + 2012
  trainval (tested on 2007 test), ``07++12`` = 2007 trainval and test + 2012 trainval (tested on 2012 test,
  whose annotations only the evaluation server holds).
* COCO: ``<data_dir>/{train2014,val2014}/`` with ``annotations/instances_{train2014,val2014}.json``
  (:class:`torchvision.datasets.CocoDetection`): the paper trains on the 80k train images and evaluates on
  the 40k val images.

Targets are torchvision's: ``boxes`` (x1, y1, x2, y2 in pixels, continuous), ``labels`` (VOC: 1-20 in
:data:`VOC_CLASSES` order; COCO: the category ids 1-90, 80 in use), plus ``difficult`` (VOC) or ``iscrowd``
(COCO), which the metrics ignore. Images are resized (shorter side 600) and normalised by the detector itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.datasets import CocoDetection, VOCDetection, wrap_dataset_for_transforms_v2
from torchvision.transforms import v2

from ..errors import MissingFileError
from .base import DATA_DIR_ENV, DatasetError, data_root
from .distributed import per_device_batch_size

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC_TEST_SERVER = ("2012-test",)  # annotations held by the evaluation server
COCO_CLASSES_IN_USE, COCO_LABEL_SPACE = 80, 91  # category ids run to 90; 0 is the background


def collate(batch: list[tuple[Any, dict]]) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Images of different sizes stay a list, as torchvision's detection models take them."""
    images, targets = zip(*batch)
    return list(images), list(targets)


def transforms(train: bool) -> v2.Compose:
    """Random horizontal flip in training (boxes flipped with the image), float pixels in [0, 1]."""
    flip = [v2.RandomHorizontalFlip(0.5)] if train else []
    return v2.Compose([v2.ToImage(), *flip, v2.ToDtype(torch.float32, scale=True), v2.ToPureTensor()])


def voc_target(annotation: dict, canvas: tuple[int, int]) -> dict[str, Any]:
    """VOC's parsed XML as torchvision targets. VOC boxes count pixels from 1, inclusive: (x1 - 1, y1 - 1, x2, y2)
    gives continuous coordinates whose areas are VOC's."""
    objects = annotation["annotation"].get("object", [])
    corners = [[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")] for o in objects]
    boxes = torch.tensor(corners, dtype=torch.float32).reshape(-1, 4) - torch.tensor([1.0, 1.0, 0.0, 0.0])
    return {
        "boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas),
        "labels": torch.tensor([VOC_CLASSES.index(o["name"]) + 1 for o in objects], dtype=torch.int64),
        "difficult": torch.tensor([o.get("difficult", "0") == "1" for o in objects], dtype=torch.bool),
    }


class VOCSet(Dataset):
    """One VOC image set (``2007-trainval``, ``2012-trainval``, ``2007-test``) as (image, target) pairs."""

    def __init__(self, root: Path, name: str, train: bool) -> None:
        year, _, image_set = name.partition("-")
        self.voc = VOCDetection(str(root), year=year, image_set=image_set)
        self.transform = transforms(train)

    def __len__(self) -> int:
        return len(self.voc)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, annotation = self.voc[index]
        target = voc_target(annotation, (image.height, image.width))
        return self.transform(image, target)


class DetectionDataModule(pl.LightningDataModule):
    """What the VOC and COCO DataModules share: loaders, batching of image lists, the evaluation protocol."""

    protocol = "voc07"  # the metric of the test set (detection.metrics.PROTOCOLS)
    num_classes = len(VOC_CLASSES) + 1

    def __init__(self, batch_size: int = 1, eval_batch_size: int = 1, num_workers: int = 2) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        self.train_set: Dataset | None = None
        self.test_set: Dataset | None = None

    def _loader(self, dataset: Dataset | None, train: bool) -> DataLoader:
        if dataset is None:
            raise DatasetError("the DataModule is not set up: call setup() first")
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=per_device_batch_size(self.hparams.batch_size, self.trainer)
            if train
            else self.hparams.eval_batch_size,
            shuffle=train,
            drop_last=train,
            num_workers=workers,
            persistent_workers=workers > 0,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, train=True)

    def val_dataloader(self) -> DataLoader:  # the test set's curve, as the paper's CIFAR figures show it
        return self._loader(self.test_set, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, train=False)

    def fingerprint(self) -> dict[str, Any]:
        """Image counts and a hash of each split's image ids."""

        def digest(dataset: Dataset | None) -> str | None:
            return (
                None
                if dataset is None
                else hashlib.sha256("\n".join(self.image_ids(dataset)).encode()).hexdigest()[:16]
            )

        return {
            "name": type(self).__name__.removesuffix("DataModule"),
            "path": str(self.root.resolve()),
            "images": {"train": len(self.train_set or ()), "test": len(self.test_set or ())},
            "sha256": {"train": digest(self.train_set), "test": digest(self.test_set)},
        }


class VOCDataModule(DetectionDataModule):
    """PASCAL VOC (Table 7).

    Args:
        data_dir: the folder holding ``VOCdevkit/`` (default ``$LIGHTNING_RESNET_DATA/voc``).
        train_sets: image sets trained on together (the paper's 07+12 by default).
        test_set: ``2007-test`` (VOC 2007 11-point mAP) or ``2012-test`` (evaluation server only).
        batch_size: images per iteration over all devices (Faster R-CNN: 1 on 1 GPU; COCO in the paper: 8 on 8).
        eval_batch_size: images per device per evaluation step.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        train_sets: list[str] = ["2007-trainval", "2012-trainval"],  # noqa: B006 (jsonargparse reads the default)
        test_set: str = "2007-test",
        batch_size: int = 1,
        eval_batch_size: int = 1,
        num_workers: int = 2,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers)
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        self.root = data_root(data_dir, "voc")

    def _check(self, name: str) -> None:
        year, _, image_set = name.partition("-")
        folder = self.root / "VOCdevkit" / f"VOC{year}"
        if name in VOC_TEST_SERVER:
            raise DatasetError(
                f"VOC {year} test annotations are held by the evaluation server (host.robots.ox.ac.uk:8080), which "
                "scores submitted detections; test locally with --data.init_args.test_set 2007-test"
            )
        if not (folder / "ImageSets" / "Main" / f"{image_set}.txt").is_file():
            raise MissingFileError(
                f"PASCAL VOC {name} not found: expected {folder}/ImageSets/Main/{image_set}.txt with Annotations/ "
                f"and JPEGImages/ beside it; point data_dir (or ${DATA_DIR_ENV}, whose voc/ subfolder is the "
                "default) at the folder holding VOCdevkit/"
            )

    def prepare_data(self) -> None:
        for name in (*self.hparams.train_sets, self.hparams.test_set):
            self._check(name)

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_set is None:
            self.train_set = ConcatDataset([VOCSet(self.root, name, train=True) for name in self.hparams.train_sets])
        if self.test_set is None:
            self.test_set = VOCSet(self.root, self.hparams.test_set, train=False)

    def image_ids(self, dataset: Dataset) -> list[str]:
        sets = dataset.datasets if isinstance(dataset, ConcatDataset) else [dataset]
        return [str(Path(path).relative_to(self.root)) for s in sets for path in s.voc.images]


class COCODataModule(DetectionDataModule):
    """COCO (Table 8): the paper's 80k train / 40k val split is COCO 2014's train and val.

    Training skips images without any non-crowd object (they give Faster R-CNN nothing to learn), as
    torchvision's detection reference does; evaluation keeps every image.
    """

    protocol = "coco"
    num_classes = COCO_LABEL_SPACE

    def __init__(
        self,
        data_dir: str | None = None,
        train_split: str = "train2014",
        test_split: str = "val2014",
        batch_size: int = 1,
        eval_batch_size: int = 1,
        num_workers: int = 2,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers)
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        self.root = data_root(data_dir, "coco")

    def _paths(self, split: str) -> tuple[Path, Path]:
        return self.root / split, self.root / "annotations" / f"instances_{split}.json"

    def prepare_data(self) -> None:
        for split in (self.hparams.train_split, self.hparams.test_split):
            images, annotations = self._paths(split)
            if not images.is_dir() or not annotations.is_file():
                raise MissingFileError(
                    f"COCO {split} not found: expected {images}/ and {annotations}; point data_dir (or "
                    f"${DATA_DIR_ENV}, whose coco/ subfolder is the default) at the folder holding them"
                )

    def _dataset(self, split: str, train: bool) -> Dataset:
        images, annotations = self._paths(split)
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its indexing steps
            coco = CocoDetection(str(images), str(annotations), transforms=transforms(train))
        dataset = wrap_dataset_for_transforms_v2(coco, target_keys={"boxes", "labels", "image_id", "iscrowd"})
        if not train:
            return dataset
        objects = coco.coco.imgToAnns
        kept = [i for i, image_id in enumerate(coco.ids) if any(not a["iscrowd"] for a in objects[image_id])]
        return torch.utils.data.Subset(_TrainingTargets(dataset), kept)

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.train_set is None:
            self.train_set = self._dataset(self.hparams.train_split, train=True)
        if self.test_set is None:
            self.test_set = _EvaluationTargets(self._dataset(self.hparams.test_split, train=False))

    def image_ids(self, dataset: Dataset) -> list[str]:
        while not hasattr(dataset, "ids"):  # Subset / wrappers around CocoDetection
            dataset = dataset.dataset
        return [f"{Path(dataset.root).name}/{i}" for i in dataset.ids]


def coco_target(target: dict[str, Any]) -> dict[str, torch.Tensor]:
    """torchvision's wrapped COCO target as float boxes, int64 labels and a crowd flag per box; an image without
    annotations (the wrapper leaves it bare) gets empty ones."""
    if "boxes" not in target:
        empty = torch.zeros(0, dtype=torch.int64)
        return {"boxes": torch.zeros(0, 4), "labels": empty, "iscrowd": empty}
    return {
        "boxes": target["boxes"].as_subclass(torch.Tensor).float(),
        "labels": target["labels"].to(torch.int64),
        "iscrowd": torch.as_tensor(target["iscrowd"], dtype=torch.int64),
    }


class _TrainingTargets(Dataset):
    """COCO training targets without crowd regions (Faster R-CNN learns from single objects)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, target = self.dataset[index]
        target = coco_target(target)
        single = target["iscrowd"] == 0
        return image, {"boxes": target["boxes"][single], "labels": target["labels"][single]}


class _EvaluationTargets(_TrainingTargets):
    """COCO evaluation targets: every box, crowd regions flagged for the metric (which ignores them)."""

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, target = self.dataset[index]
        return image, coco_target(target)
