"""Training images/second of the ImageNet networks at 224x224: the measured rate behind the GPU-hour
(or CPU-hour) estimates in the reports of Tables 2-4 and Figure 4.

One SGD step of the paper's recipe on a synthetic batch already on the device, so this is the network's
speed alone (``imagenet_decode.py`` measures the input pipeline). Prints a Markdown table and merges the
figures into ``benchmarks/results/training_throughput.json`` (one entry per network, machine and
precision), which ``python -m lightning_resnet report <id>`` reads.

    python benchmarks/imagenet_training.py                          # every Table 2-4 network, on the GPU if any
    python benchmarks/imagenet_training.py --networks resnet50 --precision bf16-mixed --batch-size 256
"""

from __future__ import annotations

import argparse
import itertools
from datetime import date

import torch
from timing import RESULTS_DIR, hardware_name, merge_results, sgd_images_per_second

from lightning_resnet import ImageClassifier
from lightning_resnet.models.costs import forward_macs
from lightning_resnet.paper.experiments import TABLE2_NETS, TABLE3_NETS
from lightning_resnet.runs import split_network

RESULTS = RESULTS_DIR / "training_throughput.json"


def training_rate(network: str, device: torch.device, precision: str, batch: int, steps: int, warmup: int) -> float:
    """Images/second of forward + backward + SGD step on one synthetic batch that stays on the device."""
    arch, shortcut = split_network(network)
    module = ImageClassifier(arch, num_classes=1000, shortcut=shortcut, channels_last=precision != "32-true").to(device)
    batch_ = (torch.randn(batch, 3, 224, 224, device=device), torch.randint(0, 1000, (batch,), device=device))
    return sgd_images_per_second(module, itertools.repeat(batch_), precision, device, steps, warmup)


def result_key(entry: dict) -> tuple:
    return entry["hardware"], entry["precision"], entry["network"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=list(dict.fromkeys(TABLE2_NETS + TABLE3_NETS)))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--precision", default="32-true", choices=["32-true", "bf16-mixed"], help="bf16-mixed runs channels_last"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: 256 on a GPU (the paper's batch), 16 on a CPU"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 20 on a GPU, 3 on a CPU)")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps first (default: 5 on a GPU, 1 on a CPU)"
    )
    parser.add_argument("--no-save", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = parser.parse_args()

    device = torch.device(args.device)
    gpu = device.type == "cuda"
    batch = args.batch_size or (256 if gpu else 16)
    steps, warmup = args.steps or (20 if gpu else 3), args.warmup if args.warmup is not None else (5 if gpu else 1)
    hardware = hardware_name(device)
    torch.backends.cudnn.benchmark = True
    print(
        f"# ImageNet training throughput at 224x224, batch {batch}, {args.precision}, {steps} timed steps after "
        f"{warmup}; {hardware}; torch {torch.__version__}\n"
    )
    print("| network | forward GMACs | images/s | achieved TFLOP/s (3 x forward) |")
    print("|---|---|---|---|")
    entries = []
    for network in args.networks:
        torch.manual_seed(0)
        rate = training_rate(network, device, args.precision, batch, steps, warmup)
        macs = forward_macs(*split_network(network), size=224)
        print(f"| {network} | {macs / 1e9:.2f} | {rate:,.1f} | {rate * 6 * macs / 1e12:.2f} |", flush=True)
        entries.append(
            {
                "network": network,
                "hardware": hardware,
                "device": device.type,
                "precision": args.precision,
                "batch": batch,
                "steps": steps,
                "images_per_second": round(rate, 2),
                "torch": torch.__version__,
                "date": date.today().isoformat(),
            }
        )
        if gpu:
            torch.cuda.empty_cache()
    if not args.no_save:
        merge_results(entries, RESULTS, result_key)
        print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main()
