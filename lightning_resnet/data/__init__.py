"""LightningDataModules for the paper's datasets and the transforms they use."""

from .cifar10 import CIFAR10DataModule, load_cifar10
from .detection import COCODataModule, VOCDataModule
from .imagenet import ImageNetDataModule
from .transforms import crop_at, random_hflip, random_pad_crop
from .views import center_view, multiscale_views, ten_crop_views, train_view

__all__ = [
    "CIFAR10DataModule",
    "ImageNetDataModule",
    "VOCDataModule",
    "COCODataModule",
    "load_cifar10",
    "crop_at",
    "random_hflip",
    "random_pad_crop",
    "center_view",
    "multiscale_views",
    "ten_crop_views",
    "train_view",
]
