"""The detection LightningModule: Faster R-CNN's four losses summed, SGD on the iteration schedule, mAP in percent."""

from __future__ import annotations

from typing import Literal

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import nn

from ..guard import NonFiniteGuard
from ..optim import LR_KEY, make_sgd
from .metrics import PROTOCOLS
from .model import faster_rcnn

Images = list[torch.Tensor]
Targets = list[dict[str, torch.Tensor]]


class ObjectDetector(NonFiniteGuard):
    """Faster R-CNN with one of the paper's backbones (Section 4.3, Appendix A), trained end to end.

    Args:
        arch: backbone: ``resnet101`` (the paper's), ``resnet50``/``resnet152``, or ``vgg16`` (the baseline).
        num_classes: detector classes including the background (VOC: 21; COCO: 91 label ids, 80 in use);
            set by the DataModule.
        shortcut: the ResNet's shortcut option (B by default).
        weights: the backbone's ImageNet weights: a checkpoint of this suite (``runs/imagenet-paper/resnet101-s0/
            checkpoints/last.ckpt``), ``torchvision`` (its weights, where downloaded), or ``None`` (untrained:
            smoke runs only).
        frozen_stages: leading stages whose weights stay fixed (conv1 and conv2_x), as Faster R-CNN fine-tunes.
        lr, momentum, weight_decay, milestones, lr_decay: SGD with the LR divided at ``milestones`` (iterations).
        min_size, max_size: images resized to this shorter side, the longer at most ``max_size``.
        proposals: RPN proposals kept at test time (300 in the paper).
    """

    def __init__(
        self,
        arch: Literal["resnet50", "resnet101", "resnet152", "vgg16"] = "resnet101",
        num_classes: int = 21,
        shortcut: Literal["A", "B", "C"] | None = None,
        weights: str | None = None,
        frozen_stages: int = 2,
        lr: float = 0.001,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        milestones: list[int] = [60_000],  # noqa: B006 (jsonargparse reads the default)
        lr_decay: float = 0.1,
        min_size: int = 600,
        max_size: int = 1000,
        proposals: int = 300,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        if weights is None:
            rank_zero_info(
                f"{arch} starts untrained (no --model.weights): the paper fine-tunes ImageNet weights; use this for "
                "smoke runs only"
            )
        self.detector = faster_rcnn(arch, num_classes, shortcut, weights, frozen_stages, min_size, max_size, proposals)
        self.metrics = nn.ModuleDict()

    def setup(self, stage: str) -> None:
        protocol = getattr(self.trainer.datamodule, "protocol", "voc07")
        self.metrics = nn.ModuleDict({s: PROTOCOLS[protocol]() for s in ("val", "test")})

    def forward(self, images: Images) -> Targets:
        return self.detector(images)

    def training_step(self, batch: tuple[Images, Targets], batch_idx: int) -> torch.Tensor:
        images, targets = batch
        losses = self.detector(images, targets)
        loss = sum(losses.values())
        self.watch_loss(loss)
        self.log("train/loss", loss, on_step=True, batch_size=len(images))
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, on_step=True, batch_size=len(images))
        return loss

    def _evaluate(self, batch: tuple[Images, Targets], stage: str) -> None:
        images, targets = batch
        self.metrics[stage].update(self.detector(images), targets)
        log = {"reduce_fx": "sum", "on_epoch": True, "batch_size": len(images), "sync_dist": True}
        self.log(f"{stage}/images", float(len(images)), **log)  # over all devices

    def _log_map(self, stage: str) -> None:
        """mAP in percent as the paper's tables: ``map_50`` (VOC's mAP; COCO's mAP@.5) and COCO's ``map``."""
        result = self.metrics[stage].compute()
        if self.trainer.datamodule.protocol == "voc07":  # IoU 0.5 only: its "map" is VOC's mAP@.5
            values = {"map_50": result["map"]}
        else:
            values = {"map_50": result["map_50"], "map": result["map"]}
        self.log_dict({f"{stage}/{k}": 100.0 * v.float() for k, v in values.items()}, sync_dist=True)
        self.metrics[stage].reset()

    def validation_step(self, batch: tuple[Images, Targets], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_map("val")

    def test_step(self, batch: tuple[Images, Targets], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._log_map("test")

    def predict_step(self, batch: tuple[Images, Targets], batch_idx: int) -> Targets:
        return self.detector(batch[0])

    def configure_optimizers(self):
        hp = self.hparams
        trainable = [p for p in self.parameters() if p.requires_grad]
        optimizer = make_sgd(trainable, "caffe", lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(hp.milestones), gamma=hp.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": LR_KEY}}
