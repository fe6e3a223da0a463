"""CIFAR-10 as in Section 4.2: 45k/5k split, per-pixel mean image, pad-4 random crop and flip.

The whole split lives in memory as one uint8 tensor (150 MB for 50k images). The DataLoader gathers
a batch of indices in one indexing operation, and :meth:`CIFAR10DataModule.on_after_batch_transfer`
subtracts the mean image and augments the whole batch on the training device.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ConfigError, MissingFileError
from .base import DATA_DIR_ENV, DatasetError, data_root
from .distributed import per_device_batch_size
from .stream import StepBatches, StepBatchLoader
from .transforms import random_hflip, random_pad_crop

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
NUM_TRAIN, NUM_TEST = 50_000, 10_000
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DOWNLOAD_TIMEOUT = 30.0  # seconds without an answer before a download attempt gives up
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def image_files(source: str) -> list[Path]:
    """The image files of ``source``: one file, or every image under a folder (sorted)."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else []
    if not files:
        raise MissingFileError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) at {path}: give an image file or a folder of them"
        )
    return files


def read_test_view(path: Path, size: int = 32) -> torch.Tensor:
    """Any image file as CIFAR-10's test view: RGB uint8, resized to ``size`` x ``size`` (antialiased)."""
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2 import functional as TF

    try:
        image = decode_image(str(path), mode=ImageReadMode.RGB)
    except RuntimeError as err:
        raise DatasetError(f"cannot read {path} as an image ({err}); remove it or convert it to PNG/JPEG") from err
    return TF.resize(image, [size, size], antialias=True)


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` if given, else ``$LIGHTNING_RESNET_DATA``, else ``./data``."""
    return data_root(data_dir)


def cifar10_present(root: Path) -> bool:
    return all((root / FOLDER / name).is_file() for name in TRAIN_FILES + TEST_FILES)


def load_cifar10(root: str | os.PathLike, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the "python version" pickles under ``root/cifar-10-batches-py``.

    Returns ``(images, labels)``: uint8 ``(N, 3, 32, 32)`` and int64 ``(N,)``, in the files' order.
    No md5 check: re-pickled copies with identical pixels are valid; the arrays are checked instead.
    """
    folder = Path(root) / FOLDER
    images, labels = [], []
    for name in TRAIN_FILES if train else TEST_FILES:
        path = folder / name
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            data = torch.as_tensor(entry["data"], dtype=torch.uint8).reshape(-1, 3, 32, 32)
            target = torch.as_tensor(entry["labels"], dtype=torch.int64)
        except FileNotFoundError:
            raise
        except Exception as err:  # truncated file, wrong format, missing keys, bad shape
            raise DatasetError(
                f"CIFAR-10 file {path} is corrupted or not in the 'python version' format "
                f"({type(err).__name__}: {err}). Delete {folder} and let the DataModule download it again, or "
                "replace it with the original files."
            ) from err
        if len(data) != len(target) or (target.numel() and (target.min() < 0 or target.max() > 9)):
            raise DatasetError(
                f"CIFAR-10 file {path} has inconsistent images/labels; replace it with the original file."
            )
        images.append(data)
        labels.append(target)
    images_t, labels_t = torch.cat(images), torch.cat(labels)
    expected = NUM_TRAIN if train else NUM_TEST
    if len(images_t) != expected:
        raise DatasetError(
            f"CIFAR-10 under {folder} has {len(images_t)} {'train' if train else 'test'} images, expected {expected}."
        )
    return images_t, labels_t


class IndexedImages(Dataset):
    """Images and labels held as tensors; ``__getitems__`` gathers a whole batch with one index operation."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices)
        return self.images[index], self.labels[index]


def _already_batched(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    return batch


class CIFAR10DataModule(pl.LightningDataModule):
    """CIFAR-10 with the paper's protocol.

    Args:
        data_dir: folder that holds ``cifar-10-batches-py/`` (default: ``$LIGHTNING_RESNET_DATA`` or ``./data``).
        batch_size: images per training step over all devices (the paper: 128), split evenly across them.
        val_size: images held out of the 50k training set for validation (the paper: 5k). ``0`` trains on
            all 50k and validates on the 10k test set, as most reproductions do.
        split_seed: seed of the train/val split, independent of the training seed.
        augment: pad-and-crop plus horizontal flip for training.
        padding: zero padding of the random crop (the paper: 4).
        download: fetch the dataset through torchvision when it is missing.
        num_workers: DataLoader workers for evaluation; 0 is fastest, since a batch is a single index operation.
        predict_images: an image file or folder of images (any size) to classify with ``predict``, in the test view
            (resized to 32x32, the training mean image subtracted); by default ``predict`` uses the test set.
        on_device: keep the dataset (150 MB as uint8) on the training device: batches are drawn and augmented
            there, with no host-to-device copy per step (a GPU speed setting; on a CPU it changes nothing).
        test_curve: also evaluate the test set at every validation (a second stream, ``test_curve/``), for the
            paper's test-error curves of Figures 1 and 6; off when ``val_size`` is 0 (validation is the test set).

    Training batches follow :mod:`~lightning_resnet.data.stream`: a function of the run's seed and step.
    """

    num_classes = 10

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 128,
        val_size: int = 5000,
        split_seed: int = 0,
        augment: bool = True,
        padding: int = 4,
        download: bool = True,
        num_workers: int = 0,
        on_device: bool = False,
        test_curve: bool = True,
        predict_images: str | None = None,
    ) -> None:
        super().__init__()
        if not 0 <= val_size < NUM_TRAIN:
            raise ConfigError(f"val_size must be in [0, {NUM_TRAIN}), got {val_size}")
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        self.data_dir = resolve_data_dir(data_dir)
        self.mean_image: torch.Tensor | None = None
        self._mean_cache: dict[torch.device, torch.Tensor] = {}
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        predicting_own = self.hparams.predict_images and self.trainer is not None and self.trainer.predicting
        if predicting_own or cifar10_present(self.data_dir):
            return
        missing_msg = (
            f"CIFAR-10 not found: expected {self.data_dir / FOLDER}/ with {', '.join(TRAIN_FILES + TEST_FILES)}. "
            f"Put the 'python version' files there, or point data_dir (or ${DATA_DIR_ENV}) at the folder that holds "
            f"{FOLDER}/"
        )
        if not self.hparams.download:
            raise MissingFileError(missing_msg + ", or set download=true.")
        import socket

        from torchvision.datasets import CIFAR10

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # a proxy that accepts and never answers must not hang the run
        try:
            CIFAR10(str(self.data_dir), train=True, download=True)
        except Exception as err:  # no network, a silent proxy (timeout), disk full...
            raise MissingFileError(f"{missing_msg}. Downloading it failed ({type(err).__name__}: {err}).") from err
        finally:
            socket.setdefaulttimeout(previous)

    classes = CLASSES

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The normalisation state, saved in checkpoints: predicting and testing need no training data."""
        return {"mean_image": self.mean_image.cpu()} if self.mean_image is not None else {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "mean_image" in state:
            self.mean_image = state["mean_image"]
            self._mean_cache.clear()

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.hparams.predict_images:  # the user's images: no CIFAR-10 files needed
            files = image_files(self.hparams.predict_images)
            labels = [CLASSES.index(f.parent.name) if f.parent.name in CLASSES else -1 for f in files]
            self.predict_files = files
            self.predict_set = IndexedImages(torch.stack([read_test_view(f) for f in files]), torch.tensor(labels))
            if cifar10_present(self.data_dir):  # the training mean, unless the checkpoint brings it (it wins)
                self._load_splits()
            return
        if self.train_set is not None:
            return
        if not cifar10_present(self.data_dir):
            self.prepare_data()
        self._load_splits()

    def _load_splits(self) -> None:
        images, labels = load_cifar10(self.data_dir, train=True)
        order = torch.randperm(NUM_TRAIN, generator=torch.Generator().manual_seed(self.hparams.split_seed))
        val_idx, train_idx = order[: self.hparams.val_size], order[self.hparams.val_size :]
        self.train_set = IndexedImages(images[train_idx], labels[train_idx])
        self.test_set = IndexedImages(*load_cifar10(self.data_dir, train=False))
        self.val_set = IndexedImages(images[val_idx], labels[val_idx]) if len(val_idx) else self.test_set
        if self.hparams.on_device and self.trainer is not None:
            device = self.trainer.strategy.root_device
            for split in {id(s): s for s in (self.train_set, self.val_set, self.test_set)}.values():
                split.images, split.labels = split.images.to(device), split.labels.to(device)
        # The paper subtracts the per-pixel mean of the training images (a 3x32x32 mean image).
        self.mean_image = self.train_set.images.float().mean(0)
        self._mean_cache.clear()

    def fingerprint(self) -> dict[str, object]:
        """What data a run actually used: split sizes and a hash of each split's pixels and labels."""
        if self.hparams.predict_images and getattr(self, "predict_set", None) is not None:  # predicting own images
            return {
                "name": "images to classify",
                "path": str(self.hparams.predict_images),
                "images": len(self.predict_set),
            }

        def digest(split: IndexedImages) -> str:
            h = hashlib.sha256(split.images.cpu().numpy().tobytes())
            h.update(split.labels.cpu().numpy().tobytes())
            return h.hexdigest()[:16]

        return {
            "name": "CIFAR-10",
            "path": str(self.data_dir.resolve() / FOLDER),
            "train_images": len(self.train_set),
            "val_images": len(self.val_set),
            "test_images": len(self.test_set),
            "val_is_test": self.val_set is self.test_set,
            "sha256": {"train": digest(self.train_set), "val": digest(self.val_set), "test": digest(self.test_set)},
        }

    def _loader(self, dataset: IndexedImages) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=per_device_batch_size(self.hparams.batch_size, self.trainer, training=False),
            num_workers=self.hparams.num_workers,
            collate_fn=_already_batched,
            pin_memory=torch.cuda.is_available() and not self.hparams.on_device,
            persistent_workers=self.hparams.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        per_device_batch_size(self.hparams.batch_size, self.trainer)  # refuses a batch that does not divide
        return StepBatchLoader(
            StepBatches(self.train_set.images, self.train_set.labels, self.hparams.batch_size, self.trainer)
        )

    @property
    def has_test_curve(self) -> bool:
        return self.hparams.test_curve and self.val_set is not self.test_set

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """The held-out split and, with ``test_curve``, the test set (module.EVAL_STREAMS, in that order)."""
        return (
            [self._loader(self.val_set), self._loader(self.test_set)]
            if self.has_test_curve
            else self._loader(self.val_set)
        )

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set if self.hparams.predict_images else self.test_set)

    def predict_names(self) -> list[str]:
        """A name per predicted image: its file, or its index in the test set."""
        if self.hparams.predict_images:
            return [str(f) for f in self.predict_files]
        return [f"test_batch[{i}]" for i in range(len(self.test_set))]

    def predict_labels(self) -> list[int]:
        """The known label of each predicted image (from a folder named after a class), -1 where unknown."""
        return (self.predict_set if self.hparams.predict_images else self.test_set).labels.tolist()

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float, mean image subtracted, scaled by 1/255 (a unit choice; no std division)."""
        mean = self._mean_cache.get(images.device)
        if mean is None and self.mean_image is None:
            raise DatasetError(
                "the training mean image is unknown: this checkpoint predates stored normalisation; point "
                "data_dir at CIFAR-10 so it can be computed, or use a checkpoint trained by this version"
            )
        if mean is None:
            mean = self._mean_cache.setdefault(images.device, self.mean_image.to(images.device))
        return (images.float() - mean) / 255.0

    def on_after_batch_transfer(self, batch: tuple, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalise; training batches (which carry their augmentation key) are also padded, cropped and flipped."""
        if isinstance(batch, torch.Tensor):  # the model's example input (for the summary's FLOP count): as is
            return batch
        images, labels, *key = batch
        images = self.normalize(images)
        # Zero padding happens after mean subtraction, so the padded border is the mean colour.
        if key and self.hparams.augment:
            # CUDA draws on the device; elsewhere (CPU, and MPS, whose generator lacks ops) the CPU draws
            generator = torch.Generator(images.device if images.device.type == "cuda" else "cpu").manual_seed(key[0])
            images = random_hflip(random_pad_crop(images, self.hparams.padding, generator), generator=generator)
        return images, labels
