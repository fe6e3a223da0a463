"""Which precision and memory layout train fastest on this machine, and whether the speed presets pick it.

For ResNet-20 at batch 128 (CIFAR-10, the real augmented stream) it times the plain training loop in fp32 and
bf16-mixed, each contiguous (NCHW) and channels-last, round-robin in blocks of ``--block`` iterations so the
machine's drift slows all alike, and a single 3x3 convolution (batch 128, 16 channels, 32x32) forward in fp32 and
bf16. It then asks :func:`lightning_resnet.speed.resolve` what ``fastest`` resolves to here and saves, per machine
(``benchmarks/results/precision.json``): the images/s of every setting, the pick, and the pick's rate over the
fastest (the target: at least 0.95).

    python benchmarks/precision.py
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/precision.py     # this CPU as one without native bf16
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import pytorch_lightning as pl
import torch
from throughput import batches
from timing import RESULTS_DIR, PlainLoop, hardware_name, merge_results, sync

from lightning_resnet import CIFAR10DataModule, ImageClassifier
from lightning_resnet.hardware import machine
from lightning_resnet.speed import FASTEST, resolve

RESULTS = RESULTS_DIR / "precision.json"
SETTINGS = [(p, cl) for p in ("32-true", "bf16-mixed") for cl in (False, True)]


def conv_gflops(dtype: torch.dtype | None, device: torch.device, repeats: int = 10) -> float:
    """GFLOP/s of one 3x3 convolution forward (batch 128, 16 -> 16 channels, 32x32), under autocast to ``dtype``."""
    conv = torch.nn.Conv2d(16, 16, 3, padding=1).to(device)
    x = torch.randn(128, 16, 32, 32, device=device)
    flops = 2 * 128 * 16 * 16 * 9 * 32 * 32
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        conv(x)
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            conv(x)
        sync(device)
    return flops * repeats / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="folder holding cifar-10-batches-py")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--block", type=int, default=5, help="iterations per setting and round")
    parser.add_argument("--rounds", type=int, default=4, help="round-robin rounds (timed; one more untimed first)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    pl.seed_everything(0, verbose=False)
    dm = CIFAR10DataModule(data_dir=args.data_dir, batch_size=128)
    dm.prepare_data()
    dm.setup("fit")
    loops = {
        (precision, layout): PlainLoop(
            ImageClassifier("resnet20", channels_last=layout, bn_batch=64).to(device),
            batches(dm, device),
            precision,
            device,
        )
        for precision, layout in SETTINGS
    }
    seconds = dict.fromkeys(loops, 0.0)
    images = dict.fromkeys(loops, 0)
    for round_ in range(args.rounds + 1):
        for key, loop in loops.items():
            sync(device)
            start = time.perf_counter()
            seen = loop.run(args.block)
            sync(device)
            if round_:  # the first round warms every setting up
                seconds[key] += time.perf_counter() - start
                images[key] += seen
    rates = {key: images[key] / seconds[key] for key in loops}
    pick = resolve(FASTEST, FASTEST, device.type)
    best = max(rates, key=rates.get)
    picked = rates[(pick.precision, pick.channels_last)]
    conv = {"fp32": conv_gflops(None, device), "bf16": conv_gflops(torch.bfloat16, device)}
    hardware = hardware_name(device)
    print(f"# ResNet-20 training, batch 128, {args.rounds} x {args.block} timed iterations per setting; {hardware}\n")
    print("| precision | layout | images/s |\n|---|---|---|")
    for (precision, layout), rate in rates.items():
        print(f"| {precision} | {'channels-last' if layout else 'NCHW'} | {rate:,.0f} |")
    print(f"\n3x3 conv forward: fp32 {conv['fp32']:.1f} GFLOP/s, bf16 {conv['bf16']:.1f} GFLOP/s")
    print(
        f"`fastest` resolves to {pick.precision}, channels_last={pick.channels_last} ({pick.device}): "
        f"{picked / rates[best]:.3f} of the fastest setting ({best[0]}, channels_last={best[1]})"
    )
    entry = {
        "hardware": hardware,
        "device": device.type,
        "machine": machine(),
        "network": "resnet20",
        "batch": 128,
        "timed_iterations": args.rounds * args.block,
        "images_per_second": {f"{p}{' channels_last' if cl else ''}": round(r, 1) for (p, cl), r in rates.items()},
        "conv3x3_gflops": {k: round(v, 2) for k, v in conv.items()},
        "resolved": {"precision": pick.precision, "channels_last": pick.channels_last, "device_kind": pick.device},
        "resolved_over_fastest": round(picked / rates[best], 4),
        "torch": torch.__version__,
        "date": date.today().isoformat(),
    }
    if not args.no_save:
        merge_results([entry], RESULTS, lambda e: (e["hardware"],))
        print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main()
