"""Peak training memory per network and batch, with and without activation checkpointing.

Each measurement is one training step (forward, backward, Caffe SGD; BN over 64 as the paper preset) of a fresh
network in its own process, so one setting's allocations cannot hide another's. CUDA: the allocator's
``max_memory_allocated`` over the step. CPU: the process's resident high-water mark (``VmHWM``) during the step
minus its resident size before it (network, optimizer and batch already allocated). Saved per machine to
``benchmarks/results/memory.json``.

    python benchmarks/memory.py                                   # ResNet-20/56/110/1202 at batch 128
    python benchmarks/memory.py --device cuda --networks resnet1202 --batches 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "memory.json"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}: the CPU measurement needs Linux")


def measure(network: str, batch: int, checkpointed: bool, device: str) -> dict:
    """One training step's peak memory in this process (call it in a fresh one)."""
    import time

    import torch
    import torch.nn.functional as F

    from lightning_resnet import ImageClassifier

    torch.manual_seed(0)
    module = ImageClassifier(network, bn_batch=64, checkpoint_activations=checkpointed).to(device)
    optimizer = module.configure_optimizers()["optimizer"]
    images = torch.randn(batch, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _status_kib("VmRSS") * 1024
    start = time.perf_counter()
    loss = F.cross_entropy(module(images), labels)
    loss.backward()
    optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = _status_kib("VmHWM") * 1024
    return {
        "network": network,
        "batch": batch,
        "checkpoint_activations": checkpointed,
        "device": device,
        "step_peak_mib": round((peak - before) / 2**20, 1),
        "step_seconds": round(time.perf_counter() - start, 2),
        "loss": loss.item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=["resnet20", "resnet56", "resnet110", "resnet1202"])
    parser.add_argument("--batches", nargs="+", type=int, default=[128])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--one", nargs=3, metavar=("NETWORK", "BATCH", "CHECKPOINTED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child: one measurement, as JSON
        network, batch, checkpointed = args.one
        print(json.dumps(measure(network, int(batch), checkpointed == "1", args.device)))
        return

    import torch
    from timing import hardware_name, merge_results

    from lightning_resnet.hardware import machine

    hardware = hardware_name(torch.device(args.device))
    print(f"# peak memory of one training step (BN over 64); {hardware}\n")
    print("| network | batch | checkpointed | peak MiB | step s | loss |\n|---|---|---|---|---|---|")
    entries = []
    for network in args.networks:
        for batch in args.batches:
            for checkpointed in (False, True):
                one = [sys.executable, __file__, "--device", args.device, "--one", network, str(batch)]
                done = subprocess.run([*one, str(int(checkpointed))], capture_output=True, text=True)
                if done.returncode:
                    print(f"| {network} | {batch} | {checkpointed} | failed: {done.stderr.strip()[-200:]} |")
                    continue
                entry = {**json.loads(done.stdout.splitlines()[-1]), "hardware": hardware}
                entries.append(entry)
                print(
                    f"| {network} | {batch} | {'yes' if checkpointed else 'no'} | {entry['step_peak_mib']:,.0f} | "
                    f"{entry['step_seconds']:.1f} | {entry['loss']:.4f} |",
                    flush=True,
                )
    for entry in entries:
        entry.update(machine=machine(), torch=torch.__version__, date=date.today().isoformat())
    if not args.no_save and entries:
        key = lambda e: (e["hardware"], e["network"], e["batch"], e["checkpoint_activations"])  # noqa: E731
        merge_results(entries, RESULTS, key)
        print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main()
