"""Detection metrics as the paper reports them, on torchmetrics' ``MeanAveragePrecision`` (COCO's evaluation code).

* COCO (Table 8): mAP@.5 and mAP@[.5, .95], COCO's own protocol (101 recall points, crowd regions ignored).
* PASCAL VOC 2007 test (Table 7): AP at IoU 0.5 by the VOC 2007 11-point metric (precision's maximum at recall
  >= 0, 0.1, ..., 1, averaged), objects marked ``difficult`` ignored: neither counted as objects to find nor
  counting a detection that hits one (its best-overlapping ground truth) as a false positive.

One difference from VOC's ``voc_eval.py`` remains: a detection whose best-overlapping object is already taken
counts there as a false positive, while COCO's matching gives it to the next object it overlaps by >= 0.5.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import box_iou

VOC_IOU = 0.5
VOC07_RECALL_POINTS = [i / 10 for i in range(11)]


class VOC07MeanAveragePrecision(MeanAveragePrecision):
    """VOC 2007 test mAP (11-point, IoU 0.5, difficult objects ignored) in ``map``, as a fraction.

    Targets may carry ``difficult`` (bool per box); predictions ``boxes``, ``scores``, ``labels`` as torchmetrics'.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            iou_thresholds=[VOC_IOU],
            rec_thresholds=VOC07_RECALL_POINTS,
            max_detection_thresholds=[1, 100, 10_000],  # VOC has no limit per image; COCO needs three
            **kwargs,
        )

    def update(self, preds: list[dict[str, torch.Tensor]], target: list[dict[str, torch.Tensor]]) -> None:
        kept = [_without_difficult(p, t) for p, t in zip(preds, target)]
        super().update([p for p, _ in kept], [t for _, t in kept])


def _without_difficult(
    pred: dict[str, torch.Tensor], target: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Drop difficult objects, and the detections whose best match (IoU >= 0.5, same class) is one of them."""
    difficult = target.get("difficult")
    if difficult is None or not difficult.any():
        return pred, {k: v for k, v in target.items() if k != "difficult"}
    difficult = difficult.bool()
    same_class = pred["labels"][:, None] == target["labels"][None, :]
    iou = torch.where(same_class, box_iou(pred["boxes"], target["boxes"]), torch.zeros(()))
    best, index = (
        iou.max(dim=1) if iou.numel() else (iou.new_zeros(len(iou)), iou.new_zeros(len(iou), dtype=torch.long))
    )
    ignored = (best >= VOC_IOU) & difficult[index]
    pred = {k: v[~ignored] for k, v in pred.items()}
    target = {k: v[~difficult] for k, v in target.items() if k != "difficult"}
    return pred, target


def coco_mean_average_precision(**kwargs: Any) -> MeanAveragePrecision:
    """COCO's mAP@[.5, .95] (``map``) and mAP@.5 (``map_50``)."""
    return MeanAveragePrecision(iou_type="bbox", **kwargs)


PROTOCOLS = {"voc07": VOC07MeanAveragePrecision, "coco": coco_mean_average_precision}
