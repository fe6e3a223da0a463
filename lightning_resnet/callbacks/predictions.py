"""Predictions that land: class probabilities and the top classes of every image, written to the run folder."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from pytorch_lightning.utilities import rank_zero_info

from ..data.base import NamedPredictions

PREDICTIONS_FILE = "predictions.csv"


class PredictionWriter(BasePredictionWriter):
    """Write ``<run_dir>/predictions.csv``: per image its name, known label, top-``k`` classes with names and
    probabilities, and the probability of every class. The DataModule names the images and classes."""

    def __init__(self, top_k: int = 5) -> None:
        super().__init__(write_interval="epoch")
        self.top_k = top_k

    def write_on_epoch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, predictions: list[Any], batch_indices: list[Any]
    ) -> None:
        if not predictions or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        probabilities = torch.cat([p.float().cpu() for p in predictions])
        order = [
            i
            for batch in (
                batch_indices[0] if batch_indices and isinstance(batch_indices[0][0], list) else batch_indices
            )
            for i in batch
        ]
        named = isinstance(datamodule, NamedPredictions)
        names = datamodule.predict_names() if named else [str(i) for i in order]
        labels = datamodule.predict_labels() if named else [-1] * len(names)
        classes = list(getattr(datamodule, "classes", [])) or [str(c) for c in range(probabilities.shape[1])]
        k = min(self.top_k, probabilities.shape[1])
        top_p, top_c = probabilities.topk(k, dim=1)
        path = Path(trainer.default_root_dir) / PREDICTIONS_FILE
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            header = ["image", "label", "label_name"]
            header += [c for j in range(1, k + 1) for c in (f"top{j}", f"top{j}_name", f"top{j}_probability")]
            writer.writerow(header + [f"p_{c}" for c in classes])
            for row, index in enumerate(order):
                label = labels[index]
                cells = [names[index], label if label >= 0 else "", classes[label] if label >= 0 else ""]
                for p, c in zip(top_p[row].tolist(), top_c[row].tolist()):
                    cells += [c, classes[c], f"{p:.6f}"]
                writer.writerow(cells + [f"{p:.6f}" for p in probabilities[row].tolist()])
        rank_zero_info(f"wrote {len(order)} predictions to {path}")
