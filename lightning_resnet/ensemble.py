"""Table 5: ensembles. The softmax of several trained classifiers averaged, each scored under the test protocol."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import nn

from .metrics import error_metrics
from .module import ImageClassifier
from .multiview import view_log_probabilities

PREFIX = "test/ensemble/"


class Ensemble(pl.LightningModule):
    """Averages the class probabilities of ``checkpoints`` (each one's views averaged first, as its protocol says)."""

    def __init__(self, checkpoints: list[str]) -> None:
        super().__init__()
        self.members = nn.ModuleList(
            [ImageClassifier.load_from_checkpoint(c, map_location="cpu").eval() for c in checkpoints]
        )
        self.metrics = error_metrics(self.members[0].hparams.num_classes, prefix=PREFIX)

    def probabilities(self, images) -> torch.Tensor:
        return torch.stack([view_log_probabilities(m, images).exp() for m in self.members]).mean(0)

    def test_step(self, batch, batch_idx: int) -> None:
        images, labels = batch
        log_probabilities = self.probabilities(images).clamp_min(torch.finfo(torch.float32).tiny).log()
        self.metrics.update(log_probabilities, labels)
        log = {"on_epoch": True, "batch_size": len(labels)}
        self.log_dict(self.metrics, **log)
        self.log(f"{PREFIX}images", float(len(labels)), reduce_fx="sum", sync_dist=True, **log)
