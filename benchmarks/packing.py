"""Images/second of N CIFAR-10 runs trained at once (``reproduce --jobs N``) against one run alone: the gain of
packing small runs onto one GPU, or of splitting this CPU's threads between them.

Each measurement is the real command, ``python -m lightning_resnet reproduce table6 --networks resnet20
--seeds N --jobs N`` shortened to ``--steps`` iterations, in a fresh runs folder. Two aggregate rates per N:

- *wall*: N x steps x 128 images over the whole command (process start, data loading, compilation where the preset
  compiles, the validation, the final test and the report included): what a user waits for;
- *training*: the same images over the longest run's ``train_seconds`` in its run record (its fit alone).

Prints a Markdown table and merges it into ``benchmarks/results/packing.json`` with the hardware.

    python benchmarks/packing.py                                   # CPU: paper preset, 200 iterations, N = 1, 2
    python benchmarks/packing.py --preset fast --steps 2000 --jobs 1 2 4   # one GPU
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from timing import RESULTS_DIR, hardware_name, merge_results

from lightning_resnet.runs import RunFolder

RESULTS = RESULTS_DIR / "packing.json"
BATCH = 128  # the paper's CIFAR-10 batch, which every preset keeps


def packed(jobs: int, preset: str, network: str, steps: int, folder: Path) -> dict:
    """Train ``jobs`` seeds of ``network`` at once for ``steps`` iterations; their wall and training seconds."""
    command = [
        sys.executable, "-m", "lightning_resnet", "reproduce", "table6", f"--preset={preset}",
        f"--networks={network}", f"--seeds={jobs}", f"--jobs={jobs}", f"--runs_dir={folder}",
        f"--reports_dir={folder / 'reports'}", "--",
        f"--trainer.max_steps={steps}", f"--trainer.val_check_interval={steps}",
        "--trainer.enable_progress_bar=false",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "WANDB_MODE": "offline"})
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    records = [RunFolder(path.parent).read() for path in folder.glob("*/*/run.json")]
    if len(records) != jobs or any(r.get("global_step") != steps for r in records):
        raise RuntimeError(f"expected {jobs} runs of {steps} iterations under {folder}, found {len(records)}")
    return {"wall_seconds": wall, "train_seconds": [r["train_seconds"] for r in records]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="runs at once, one measurement each")
    parser.add_argument("--preset", default="paper", help="a CIFAR-10 preset (fast: the GPU speed preset)")
    parser.add_argument("--network", default="resnet20")
    parser.add_argument("--steps", type=int, default=200, help="iterations of each run")
    parser.add_argument("--no-save", action="store_true", help=f"print only; do not update {RESULTS.name}")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    hardware = hardware_name(device)
    print(f"# {args.network}, preset {args.preset}, {args.steps} iterations per run; {hardware}\n")
    print("| runs at once | wall s | images/s, wall | images/s, training | training gain over the first row |")
    print("|---|---|---|---|---|")
    base = None
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory() as folder:
            seconds = packed(jobs, args.preset, args.network, args.steps, Path(folder))
        images = jobs * args.steps * BATCH
        wall_rate, train_rate = images / seconds["wall_seconds"], images / max(seconds["train_seconds"])
        base = base or train_rate
        print(
            f"| {jobs} | {seconds['wall_seconds']:.1f} | {wall_rate:,.0f} | {train_rate:,.0f} | "
            f"{train_rate / base:.2f} |",
            flush=True,
        )
        entry = {
            "jobs": jobs,
            "network": args.network,
            "preset": args.preset,
            "hardware": hardware,
            "steps": args.steps,
            "batch": BATCH,
            "wall_seconds": round(seconds["wall_seconds"], 2),
            "train_seconds": [round(s, 2) for s in seconds["train_seconds"]],
            "wall_images_per_second": round(wall_rate, 1),
            "train_images_per_second": round(train_rate, 1),
            "torch": torch.__version__,
            "date": date.today().isoformat(),
        }
        if not args.no_save:  # after each measurement, so a time limit loses only the one it stopped
            merge_results([entry], RESULTS, lambda e: (e["hardware"], e["preset"], e["network"], e["jobs"]))
    if not args.no_save:
        print(f"\nsaved to {RESULTS}")


if __name__ == "__main__":
    main()
