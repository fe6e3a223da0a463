"""LightningDataModules for the paper's datasets and the batched transforms they share."""

from .cifar10 import CIFAR10DataModule, load_cifar10
from .transforms import crop_at, random_hflip, random_pad_crop

__all__ = ["CIFAR10DataModule", "load_cifar10", "crop_at", "random_hflip", "random_pad_crop"]
