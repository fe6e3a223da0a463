"""Classification error in percent, the quantity the paper reports and plots."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy


class ErrorRate(MulticlassAccuracy):
    """Top-k classification error in percent: ``100 * (1 - top-k accuracy)``, micro-averaged over images."""

    higher_is_better = False

    def __init__(self, num_classes: int, top_k: int = 1, **kwargs) -> None:
        super().__init__(num_classes=num_classes, top_k=top_k, average="micro", **kwargs)

    def compute(self) -> torch.Tensor:
        return 100.0 * (1.0 - super().compute())


def error_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """Top-1 error, plus top-5 error when there are more than 10 classes (ImageNet; on CIFAR-10 it says little)."""
    metrics = {"top1_error": ErrorRate(num_classes, top_k=1)}
    if num_classes > 10:
        metrics["top5_error"] = ErrorRate(num_classes, top_k=5)
    return MetricCollection(metrics, prefix=prefix)
