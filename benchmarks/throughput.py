"""Images/second of CIFAR-10 training: the suite's real ``fit`` against a tight plain PyTorch loop, in one process.

(a) the data pipeline alone; (b) ``python -m lightning_resnet fit`` as a user runs it (LightningCLI, the paper
recipe, CSV and offline W&B loggers, checkpoint callbacks, progress lines), timed over its steady-state training
steps; (c) a plain loop with the same network, data, batch, augmentation and optimizer. (b) and (c) interleave
in blocks of ``--block`` iterations inside one fit (a callback runs the plain loop's block on a twin network
between the suite's blocks), so both meet the machine at the same moments: a CPU or GPU whose speed drifts
over a minute, as this 2-core VM's does by several percent, slows both alike. Each of ``--repeats`` fits gives one
ratio (b)/(c); they are printed and saved, with the hardware and the precision the speed presets resolve to on it
(``preset_precision``), to ``benchmarks/results/cifar10_throughput.json`` (entries of the same network, precision and
machine replaced).

    python benchmarks/throughput.py --data-dir ../shared/data/cifar10
    python benchmarks/throughput.py --archs resnet20 resnet56 resnet110 --device cuda --steps 300
    python benchmarks/throughput.py --compile --precisions bf16-mixed     # torch.compile in both
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from timing import RESULTS_DIR, PlainLoop, hardware_name, merge_results, sync

from lightning_resnet import CIFAR10DataModule, ImageClassifier
from lightning_resnet.cli import default_callbacks, run_command
from lightning_resnet.paper import config_path
from lightning_resnet.speed import FASTEST, resolve

RESULTS = RESULTS_DIR / "cifar10_throughput.json"


class _FakeTrainer:
    training = True


def batches(dm: CIFAR10DataModule, device: torch.device):
    """Endless augmented batches on ``device``: exactly what the training step receives."""
    dm.trainer = _FakeTrainer()
    while True:
        for batch in dm.train_dataloader():
            images, labels, key = batch
            batch = (images.to(device, non_blocking=True), labels.to(device, non_blocking=True), key)
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
    dm: CIFAR10DataModule, arch: str, precision: str, device: torch.device, compile: bool = False
) -> PlainLoop:
    module = ImageClassifier(arch, channels_last=precision != "32-true", bn_batch=64, compile=compile).to(device)
    return PlainLoop(module, batches(dm, device), precision, device)


class InterleavedTimer(Callback):
    """Times the suite's training steps ``warmup`` to ``warmup + steps`` and, before each ``block`` of them,
    ``block`` steps of the plain loop (after ``warmup`` untimed ones); the suite's time excludes the plain loop's."""

    def __init__(self, plain: PlainLoop, warmup: int, steps: int, block: int) -> None:
        self.plain, self.warmup, self.last, self.block = plain, warmup, warmup + steps, block
        self.start = self.suite_seconds = self.plain_seconds = 0.0
        self.plain_images = 0

    def on_train_start(self, trainer: pl.Trainer, *args) -> None:
        self.plain.run(self.warmup)

    def on_train_batch_start(self, trainer: pl.Trainer, *args) -> None:
        step, device = trainer.global_step, trainer.strategy.root_device
        if step == self.warmup:
            sync(device)
            self.start = time.perf_counter()
        if self.warmup <= step < self.last and (step - self.warmup) % self.block == 0:
            sync(device)
            began = time.perf_counter()
            self.plain_images += self.plain.run(min(self.block, self.last - step))
            sync(device)
            self.plain_seconds += time.perf_counter() - began

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:
        if trainer.global_step == self.last:
            sync(trainer.strategy.root_device)
            self.suite_seconds = time.perf_counter() - self.start - self.plain_seconds


def suite_and_plain(
    data_dir: str | None,
    arch: str,
    precision: str,
    plain: PlainLoop,
    steps: int,
    warmup: int,
    block: int,
    compile: bool = False,
) -> tuple[float, float]:
    """Images/s of ``python -m lightning_resnet fit --config table6.yaml`` (loggers, callbacks, progress lines,
    in-process) and of the plain loop interleaved with it."""
    timer = InterleavedTimer(plain, warmup, steps, block)
    device = plain.device
    with tempfile.TemporaryDirectory() as runs:
        args = [
            "fit",
            "--config",
            str(config_path("table6.yaml")),
            f"--model.arch={arch}",
            f"--model.channels_last={precision != '32-true'}",
            f"--model.compile={compile}",
            f"--trainer.precision={precision}",
            f"--trainer.accelerator={device.type}",
            f"--trainer.max_steps={warmup + steps}",
            "--trainer.limit_val_batches=0",
            "--test_after_fit=false",
            f"--runs_dir={runs}",
        ]
        if data_dir:
            args.append(f"--data.init_args.data_dir={data_dir}")
        cli = run_command(args, trainer_defaults={"callbacks": [*default_callbacks(), timer]})
        batch = cli.datamodule.hparams.batch_size
    return steps * batch / timer.suite_seconds, timer.plain_images / timer.plain_seconds


def result_key(entry: dict) -> tuple:
    return entry["network"], entry["precision"], entry.get("compile", False), entry["hardware"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir", default=None, help="folder holding cifar-10-batches-py (default: $LIGHTNING_RESNET_DATA)"
    )
    parser.add_argument("--archs", nargs="+", default=["resnet20"])
    parser.add_argument(
        "--precisions", nargs="+", default=["32-true", "bf16-mixed"], help="bf16-mixed runs channels_last"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--block", type=int, default=10, help="iterations of each interleaved block")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network in both (model.compile)")
    parser.add_argument("--repeats", type=int, default=3, help="fits (measurements) of each setting")
    parser.add_argument("--no-save", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")

    device = torch.device(args.device)
    pl.seed_everything(0, verbose=False)
    dm = CIFAR10DataModule(data_dir=args.data_dir, batch_size=128)
    dm.prepare_data()
    dm.setup("fit")
    hardware = hardware_name(device)
    picked = resolve(FASTEST, FASTEST, device.type)  # what the speed presets train in on this machine
    print(
        f"# CIFAR-10 training, batch 128, {args.steps} timed steps after {args.warmup}, {args.repeats} repeats, "
        f"suite and plain loop interleaved in blocks of {args.block}; "
        f"{hardware}; torch {torch.__version__}\n"
    )
    print(f"(a) data pipeline alone: {data_pipeline(dm, device, max(args.steps, 20) * 5):,.0f} images/s\n")
    print("| network | precision | (b) suite fit, img/s | (c) plain loop, img/s | (b)/(c) per repeat | median |")
    print("|---|---|---|---|---|---|")
    for arch in args.archs:
        for precision in args.precisions:
            plain, suite = [], []
            for _ in range(args.repeats):
                loop = plain_loop(dm, arch, precision, device, args.compile)
                rates = suite_and_plain(
                    args.data_dir, arch, precision, loop, args.steps, args.warmup, args.block, args.compile
                )
                suite.append(rates[0])
                plain.append(rates[1])
            ratios = [s / p for s, p in zip(suite, plain)]
            layout = (" + channels_last" if precision != "32-true" else "") + (" + compile" if args.compile else "")
            print(
                f"| {arch} | {precision}{layout} | {statistics.median(suite):,.0f} | {statistics.median(plain):,.0f} | "
                f"{', '.join(f'{r:.3f}' for r in ratios)} | {statistics.median(ratios):.3f} |",
                flush=True,
            )
            entry = {
                "network": arch,
                "precision": precision,
                "compile": args.compile,
                "hardware": hardware,
                "device": device.type,
                "preset_precision": picked.precision,  # `fastest` here; compare its row with the others
                "preset_channels_last": picked.channels_last,
                "suite_images_per_second": [round(v, 1) for v in suite],
                "plain_images_per_second": [round(v, 1) for v in plain],
                "ratios": [round(r, 4) for r in ratios],
                "batch": 128,
                "steps": args.steps,
                "warmup": args.warmup,
                "interleaved_block": args.block,
                "torch": torch.__version__,
                "date": date.today().isoformat(),
            }
            if not args.no_save:  # after each setting, so a time limit loses only the one it stopped
                merge_results([entry], RESULTS, result_key)
    if not args.no_save:
        print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main()
