"""The LightningModule: cross-entropy, SGD, the paper's iteration-based schedules, error metrics."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.wrappers import Running

from .compat import running_values_seen, set_running_values_seen
from .guard import NonFiniteGuard
from .metrics import ErrorRate, error_metrics
from .models import create_model, model_entry
from .models.batchnorm import use_ghost_batch_norm
from .models.checkpointing import checkpoint_activations as checkpoint_blocks
from .multiview import PROTOCOLS, Views, view_log_probabilities
from .optim import LR_KEY, make_sgd
from .speed import FASTEST, resolve

# Evaluation streams during training, in the order of the DataModule's val_dataloader(): the held-out
# split, then (where the DataModule offers it) the test set, evaluated at the same interval as the paper's
# bold test-error curves of Figures 1 and 6. The final test after training logs under ``test/``.
EVAL_STREAMS = ("val", "test_curve")


def metric_prefix(stage: str, protocol: str = "center") -> str:
    """``val/``, ``test/`` for single-view evaluation; ``test/ten_crop/``, ``test/multiscale/`` for the others."""
    return f"{stage}/" if protocol == "center" else f"{stage}/{protocol}/"


def set_tf32(allowed: bool) -> None:
    """TF32 for CUDA matmuls and convolutions: off means IEEE fp32 arithmetic (the paper's ``32-true``)."""
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed


class ImageClassifier(NonFiniteGuard):
    """Train one of the paper's networks with the paper's recipe.

    Args:
        arch: a registered network name (``resnet20``, ``plain56``, ``resnet34``, ...).
        num_classes: classes of the dataset (10 for CIFAR-10, 1000 for ImageNet).
        shortcut: override of the residual nets' shortcut option (A, B or C).
        stride_on_3x3: ImageNet bottlenecks only: torchvision's "v1.5" stride placement.
        lr, momentum, weight_decay: SGD, as in Sections 3.4 and 4.2.
        lr_schedule: ``multistep`` divides the LR by ``1/lr_decay`` at each of ``milestones`` (in iterations,
            the CIFAR recipe); ``plateau`` divides it when the validation error stops improving for
            ``plateau_patience`` validation rounds (the ImageNet recipe).
        train_error_window: the logged training error is the mean over this many recent iterations.
        channels_last: run the network in NHWC layout (faster convolutions on recent GPUs and on CPUs with native
            bf16); ``"fastest"``: where :mod:`lightning_resnet.speed` measured it faster (the CLI resolves it first).
        bn_batch: BN normalises over sub-batches of this many images in training, whatever the number of
            devices (the paper: 64 per GPU on CIFAR-10, 32 on ImageNet); ``None`` normalises each device's batch.
        momentum_form: ``caffe`` (the paper's framework: the LR scales the velocity's increment) or
            ``pytorch`` (``torch.optim.SGD``: the LR scales the velocity); they differ when the LR changes.
        allow_tf32: let CUDA run fp32 matmuls and convolutions in TF32 (off: IEEE fp32, as the paper).
        compile: run the network through ``torch.compile`` (same weights and checkpoints; numerics equal to float
            tolerance). ``compile_mode``: ``default``, ``reduce-overhead`` (CUDA graphs) or ``max-autotune``.
        checkpoint_activations: recompute each residual block's activations in the backward pass instead of
            keeping them (same losses and weights; less memory, ~1/3 more compute; ``benchmarks/memory.py``).
    """

    def advice(self, resumable: bool) -> str:
        full = (
            "--ckpt_path last --override_precision true --trainer.precision 32"
            if resumable
            else "--trainer.precision 32"
        )
        return f"{super().advice(resumable)}, or in full precision if you trained in reduced precision ({full})"

    def __init__(
        self,
        arch: str = "resnet20",
        num_classes: int = 10,
        shortcut: Literal["A", "B", "C"] | None = None,
        stride_on_3x3: bool = False,
        lr: float = 0.1,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        lr_schedule: Literal["multistep", "plateau"] = "multistep",
        milestones: list[int] = [32_000, 48_000],  # noqa: B006 (jsonargparse reads the default)
        lr_decay: float = 0.1,
        plateau_patience: int = 5,
        train_error_window: int = 50,
        channels_last: bool | Literal["fastest"] = False,
        bn_batch: int | None = None,
        momentum_form: Literal["caffe", "pytorch"] = "caffe",
        allow_tf32: bool = False,
        compile: bool = False,
        compile_mode: str | None = None,
        checkpoint_activations: bool = False,
    ) -> None:
        super().__init__()
        if channels_last == FASTEST:  # built in Python: resolved for the default device (the CLI resolves it first)
            channels_last = resolve(False, FASTEST, "auto").channels_last
        self.save_hyperparameters(logger=False)  # the run record logs the resolved config, once
        net = create_model(arch, num_classes=num_classes, shortcut=shortcut, stride_on_3x3=stride_on_3x3)
        self.net: nn.Module = use_ghost_batch_norm(net, bn_batch) if bn_batch else net
        if checkpoint_activations:
            checkpoint_blocks(self.net)
        size = model_entry(arch).input_size
        self.example_input_array = torch.zeros(1, 3, size, size)  # the model summary counts real multiply-adds
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # the window is part of the run's state (it decides the ResNet-110 warm-up): saved in checkpoints
        self.train_error = Running(ErrorRate(num_classes), window=train_error_window)
        self.train_error.persistent(True)
        # one set per stage and test protocol, so a run can hold its 10-crop and multi-scale results side by side
        stages = (*EVAL_STREAMS, "test")
        self.eval_metrics = nn.ModuleDict(
            {
                f"{stage}_{protocol}": error_metrics(num_classes, prefix=metric_prefix(stage, protocol))
                for stage in stages
                for protocol in PROTOCOLS
            }
        )

    def setup(self, stage: str) -> None:
        set_tf32(self.hparams.allow_tf32)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["train_error_seen"] = running_values_seen(self.train_error)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        set_running_values_seen(self.train_error, checkpoint.get("train_error_seen", 0))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.compiled_net(images) if self.hparams.compile else self.net(images)

    @property
    def compiled_net(self):
        """``torch.compile(self.net)``, built once and kept out of the module tree, so checkpoints are unchanged."""
        if "_compiled_net" not in self.__dict__:
            self.__dict__["_compiled_net"] = torch.compile(self.net, mode=self.hparams.compile_mode)
        return self.__dict__["_compiled_net"]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        self.watch_loss(loss)
        self.train_error.update(logits.detach(), labels)
        if self.logs_this_step():  # computing and logging the error cost ~1.5 ms, 2% of a CPU step: not every step
            # not on the progress bar: that would copy both values to the host at every step
            self.log("train/loss", loss, on_step=True)
            self.log("train/top1_error", self.train_error.compute(), on_step=True)
        return loss

    def protocol(self, stage: str) -> str:
        """The evaluation protocol of the DataModule for ``stage`` (``val``/``test``); ``center`` if it has none."""
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        return getattr(datamodule, "hparams", {}).get(f"{stage}_protocol", "center")

    def _evaluate(self, batch: tuple[Views, torch.Tensor], stage: str) -> None:
        images, labels = batch
        log_probabilities = view_log_probabilities(self, images)
        protocol = self.protocol(stage)
        metrics = self.eval_metrics[f"{stage}_{protocol}"]
        metrics.update(log_probabilities, labels)
        prefix = metric_prefix(stage, protocol)
        log = {"on_epoch": True, "batch_size": len(labels), "add_dataloader_idx": False}
        self.log(f"{prefix}loss", F.nll_loss(log_probabilities, labels), **log)
        self.log_dict(metrics, prog_bar=stage == "val", **log)
        # the images actually evaluated (a batch limit evaluates fewer than the dataset holds), over all devices
        self.log(f"{prefix}images", float(len(labels)), reduce_fx="sum", sync_dist=True, **log)

    def validation_step(self, batch: tuple[Views, torch.Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, EVAL_STREAMS[dataloader_idx])

    def test_step(self, batch: tuple[Views, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: tuple[Views, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Class probabilities of each image, averaged over its views under the test protocol."""
        return view_log_probabilities(self, batch[0]).exp()

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = make_sgd(
            self.parameters(), hp.momentum_form, lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
        )
        if hp.lr_schedule == "multistep":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(
                optimizer, milestones=list(hp.milestones), gamma=hp.lr_decay
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": LR_KEY},
            }
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=hp.lr_decay, patience=hp.plateau_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": "epoch",
                "monitor": "val/top1_error",
                "strict": True,
                "name": LR_KEY,
            },
        }
