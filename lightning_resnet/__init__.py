"""lightning-resnet: the networks and experiments of He et al., "Deep Residual Learning for Image Recognition"
(2015)."""

from .data import CIFAR10DataModule, ImageNetDataModule
from .models import create_model, list_models
from .module import ImageClassifier

__version__ = "0.1.0"
__all__ = ["CIFAR10DataModule", "ImageNetDataModule", "ImageClassifier", "create_model", "list_models", "__version__"]
