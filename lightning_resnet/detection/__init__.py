"""Object detection (Section 4.3, Tables 7 and 8): Faster R-CNN with the paper's backbones."""

from .metrics import VOC07MeanAveragePrecision, coco_mean_average_precision
from .model import faster_rcnn, freeze_batch_norm
from .module import ObjectDetector

__all__ = [
    "ObjectDetector",
    "VOC07MeanAveragePrecision",
    "coco_mean_average_precision",
    "faster_rcnn",
    "freeze_batch_norm",
]
