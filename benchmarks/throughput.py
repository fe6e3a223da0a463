"""Images/second of CIFAR-10 training: the data pipeline alone, a Lightning training step, and a plain PyTorch loop.

Same network, data, batch and optimizer in (b) and (c), so (b) - (c) is Lightning's overhead and
(a) shows how much of a step the data pipeline could take. Prints a Markdown table.

    python benchmarks/throughput.py --data-dir ../shared/data/cifar10
    python benchmarks/throughput.py --archs resnet20 --precisions bf16-mixed --device cuda --steps 200
"""

from __future__ import annotations

import argparse
import platform
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from timing import sgd_images_per_second, sync

from lightning_resnet import CIFAR10DataModule, ImageClassifier


class _FakeTrainer:
    training = True


def batches(dm: CIFAR10DataModule, device: torch.device):
    """Endless augmented batches on ``device``: exactly what the training step receives."""
    dm.trainer = _FakeTrainer()
    while True:
        for batch in dm.train_dataloader():
            batch = [t.to(device, non_blocking=True) for t in batch]
            yield dm.on_after_batch_transfer(batch, 0)


def data_pipeline(dm: CIFAR10DataModule, device: torch.device, steps: int) -> float:
    stream = batches(dm, device)
    next(stream)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        images, _ = next(stream)
    sync(device)
    return steps * images.shape[0] / (time.perf_counter() - start)


def plain_loop(
    dm: CIFAR10DataModule, arch: str, precision: str, device: torch.device, steps: int, warmup: int
) -> float:
    module = ImageClassifier(arch, channels_last=precision != "32-true").to(device)
    return sgd_images_per_second(module, batches(dm, device), precision, device, steps, warmup)


class StepTimer(Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, 0.0, 0.0

    def on_train_batch_start(self, trainer: pl.Trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            sync(trainer.strategy.root_device)
            self.start = time.perf_counter()

    def on_train_end(self, trainer: pl.Trainer, *args) -> None:
        sync(trainer.strategy.root_device)
        self.end = time.perf_counter()


def lightning_loop(
    dm: CIFAR10DataModule, arch: str, precision: str, device: torch.device, steps: int, warmup: int
) -> float:
    dm.trainer = None
    timer = StepTimer(warmup)
    trainer = pl.Trainer(
        accelerator=device.type,
        devices=1,
        precision=precision,
        max_steps=warmup + steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(ImageClassifier(arch, channels_last=precision != "32-true"), datamodule=dm)
    return steps * dm.hparams.batch_size / (timer.end - timer.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir", default=None, help="folder holding cifar-10-batches-py (default: $LIGHTNING_RESNET_DATA)"
    )
    parser.add_argument("--archs", nargs="+", default=["resnet20", "resnet56", "resnet110"])
    parser.add_argument(
        "--precisions", nargs="+", default=["32-true", "bf16-mixed"], help="bf16-mixed runs channels_last"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    device = torch.device(args.device)
    pl.seed_everything(0, verbose=False)
    dm = CIFAR10DataModule(data_dir=args.data_dir, batch_size=args.batch_size)
    dm.prepare_data()
    dm.setup("fit")
    hardware = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"# CIFAR-10 training throughput, batch {args.batch_size}, {args.steps} timed steps after {args.warmup}; "
        f"{hardware}; torch {torch.__version__}\n"
    )
    print(
        "(a) data pipeline alone (gather + mean + pad-crop + flip): "
        f"{data_pipeline(dm, device, max(args.steps, 20) * 5):,.0f} images/s\n"
    )
    print("| network | precision | (b) Lightning step, img/s | (c) plain PyTorch loop, img/s | Lightning overhead |")
    print("|---|---|---|---|---|")
    for arch in args.archs:
        for precision in args.precisions:
            plain = plain_loop(dm, arch, precision, device, args.steps, args.warmup)
            light = lightning_loop(dm, arch, precision, device, args.steps, args.warmup)
            layout = " + channels_last" if precision != "32-true" else ""
            print(
                f"| {arch} | {precision}{layout} | {light:,.0f} | {plain:,.0f} | {100 * (plain / light - 1):+.1f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
