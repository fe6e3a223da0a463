"""Wall time of the README's first command on this machine: the smoke fit of ResNet-20, start to summary.

Runs ``python -m lightning_resnet fit --config reproductions/table6.yaml --config reproductions/presets/smoke.yaml``
as a user does (its own process, offline W&B, a fresh runs folder), and saves per machine to
``benchmarks/results/quickstart.json``: the wall seconds, the training seconds and the precision and layout
the preset resolved to (from the run's ``run.json``), against the target of 240 s on a 2-core CPU.

    python benchmarks/quickstart.py
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/quickstart.py    # this CPU as one without native bf16
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

from lightning_resnet.hardware import machine
from lightning_resnet.runs import RunFolder

RESULTS = RESULTS_DIR / "quickstart.json"
REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 240  # issue 22: a 2-core CPU without native bf16 ends the quick start in under 4 minutes
COMMAND = ("fit", "--config", "reproductions/table6.yaml", "--config", "reproductions/presets/smoke.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "lightning_resnet", *COMMAND, f"--runs_dir={runs}"],
            cwd=REPO, env=env, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"the quick start failed:\n{(done.stdout + done.stderr)[-3000:]}")
        record = RunFolder(next(Path(runs).glob("*/*/run.json")).parent).read()
    hardware = hardware_name(torch.device("cpu"))
    entry = {
        "hardware": hardware,
        "machine": machine(),
        "command": "python -m lightning_resnet " + " ".join(COMMAND),
        "wall_seconds": round(wall, 1),
        "train_seconds": round(record["train_seconds"], 1),
        "iterations": record["global_step"],
        "precision": record["precision"],
        "channels_last": record["config"]["model"]["channels_last"],
        "test_error": record["final"].get("test/top1_error"),
        "target_seconds": TARGET_SECONDS,
        "torch": torch.__version__,
        "date": date.today().isoformat(),
    }
    print(
        f"{hardware}: {entry['wall_seconds']:.0f} s wall ({entry['train_seconds']:.0f} s training, "
        f"{entry['iterations']} iterations, {entry['precision']}, channels_last={entry['channels_last']}); "
        f"target {TARGET_SECONDS} s: {'met' if wall < TARGET_SECONDS else 'missed'}"
    )
    if not args.no_save:
        merge_results([entry], RESULTS, lambda e: (e["hardware"],))


if __name__ == "__main__":
    main()
