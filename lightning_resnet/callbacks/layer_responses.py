"""Figure 7 at the end of training: the std of each 3x3 convolution's BN output on validation images."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.trainer.states import RunningStage
from pytorch_lightning.utilities import rank_zero_warn

from ..models import recording_responses
from ..runs import RESPONSES_FILE, write_atomically


def response_std(net: torch.nn.Module, batches) -> torch.Tensor | None:
    """Std of every response layer over all elements of the given batches (accumulated in float64); None
    without batches."""
    total = sq = count = None
    for images in batches:
        with recording_responses(net) as responses:
            net(images)
        sums = torch.stack([r.double().sum() for r in responses])
        squares = torch.stack([r.double().square().sum() for r in responses])
        numel = torch.tensor([r.numel() for r in responses], dtype=torch.float64, device=sums.device)
        total, sq, count = (sums, squares, numel) if total is None else (total + sums, sq + squares, count + numel)
    if total is None:
        return None
    mean = total / count
    return ((sq / count - mean.square()) * count / (count - 1)).clamp_min(0).sqrt().float().cpu()


RESPONSE_IMAGES = 1000  # validation images the Figure 7 statistics are measured on


RESPONSES_TABLE = "layer_responses"  # the W&B table of a run's responses, which Figure 7's W&B Report shows
RESPONSE_COLUMNS = ("layer", "std")


def response_rows(std: list[float]) -> list[list[float]]:
    """The table's rows: each layer's response std, layers numbered from 1 in network order."""
    return [[index + 1, value] for index, value in enumerate(std)]


class LayerResponses(Callback):
    """Figure 7 at the end of training: ``layer_responses.csv`` (layer, std) and the W&B table ``layer_responses``.

    What is measured (the paper: "the output of each 3x3 layer, after BN and before other nonlinearity"): for each
    3x3 convolution in forward order, the output of the BN that follows it, before ReLU or the residual addition;
    the network in eval mode (BN with its running statistics); the first ``num_images`` images of the held-out
    validation split, normalised as for validation (no augmentation); one std over all elements of the responses
    (images x channels x positions), accumulated in float64. Eval mode and the all-element std give values in the
    0-3 range of the paper's figure (each BN output is scaled by its learned gamma).
    """

    def __init__(self, num_images: int = RESPONSE_IMAGES) -> None:
        self.num_images = num_images

    def _validation_images(self, trainer: pl.Trainer, pl_module: pl.LightningModule):
        datamodule = trainer.datamodule
        stage = trainer.state.stage
        trainer.state.stage = RunningStage.VALIDATING  # the DataModule must not augment these
        try:
            seen = 0
            loaders = datamodule.val_dataloader()
            for batch in loaders[0] if isinstance(loaders, list) else loaders:
                batch = datamodule.on_after_batch_transfer(
                    pl_module.transfer_batch_to_device(batch, pl_module.device, 0), 0
                )
                if not (isinstance(batch[0], torch.Tensor) and batch[0].ndim == 4):
                    rank_zero_warn(
                        "layer responses need single-view validation batches (val_protocol: center); skipped"
                    )
                    return
                images = batch[0][: self.num_images - seen]
                seen += len(images)
                yield images
                if seen >= self.num_images:
                    return
        finally:
            trainer.state.stage = stage

    @torch.no_grad()
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.datamodule is None or not trainer.is_global_zero:
            return
        net = getattr(pl_module, "net", pl_module)
        was_training = net.training
        net.eval()
        try:
            std = response_std(net, self._validation_images(trainer, pl_module))
        finally:
            net.train(was_training)
        if std is None:
            return
        rows = response_rows(std.tolist())
        path = Path(trainer.default_root_dir) / RESPONSES_FILE
        text = io.StringIO(newline="")
        csv.writer(text).writerows([list(RESPONSE_COLUMNS), *rows])
        advice = "then run the same command with --ckpt_path last (training is done; it only measures them again)"
        write_atomically(path, lambda f: f.write(text.getvalue().encode()), advice, "Figure 7 responses")
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table(key=RESPONSES_TABLE, columns=list(RESPONSE_COLUMNS), data=rows)
