"""lightning-resnet: the networks and experiments of He et al., "Deep Residual Learning for Image Recognition".

What a user imports: the networks by name, the LightningModule with the paper's recipe, the DataModules,
and the pieces that make the recipe the paper's (Caffe's SGD, BN over the paper's per-GPU batch).
"""

from .data import CIFAR10DataModule, COCODataModule, ImageNetDataModule, VOCDataModule
from .detection import ObjectDetector
from .export import TrainedNetwork, load_network
from .models import create_model, list_models, register_model
from .models.batchnorm import GhostBatchNorm2d, use_ghost_batch_norm
from .module import ImageClassifier
from .optim import CaffeSGD

__version__ = "0.1.0"
__all__ = [
    "CIFAR10DataModule",
    "COCODataModule",
    "CaffeSGD",
    "GhostBatchNorm2d",
    "ImageClassifier",
    "ImageNetDataModule",
    "ObjectDetector",
    "TrainedNetwork",
    "VOCDataModule",
    "__version__",
    "create_model",
    "list_models",
    "load_network",
    "register_model",
    "use_ghost_batch_norm",
]
