#!/usr/bin/env bash
# The prepared GPU check (one H100 or H200, at most 10 minutes): environment facts, the no-host-sync test of the fast
# preset's iteration (tests/test_gpu.py), CIFAR-10 throughput of the
# suite's fit against the plain loop for ResNet-20/56/110, the gain of packing 1/2/4 runs on the GPU, the precision
# and layout `fastest` picks against the fastest measured, peak memory with and without activation checkpointing, and
# the paper's full 64k-iteration schedule for ResNet-20 at the fast preset, whose run record and report it keeps.
#   bash benchmarks/gpu_check.sh [OUT]        # from the repository root; results under OUT (default $OUT or gpu_out)
# The device image has torch, Lightning and torchmetrics but neither the other packages nor CIFAR-10: stage them first
# with benchmarks/gpu_stage.py (its docstring gives the four calls; this script is the last call's second half).
set -euo pipefail
OUT=${1:-${OUT:-gpu_out}}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline WANDB_SILENT=true PYTHONUNBUFFERED=1
eval "$(python3 benchmarks/gpu_stage.py env)"  # what gpu_stage.py staged on this machine, if anything
for d in "${LIGHTNING_RESNET_DATA:-}" ../shared/data/cifar10 shared/data/cifar10; do
  if [ -n "$d" ] && [ -d "$d/cifar-10-batches-py" ]; then export LIGHTNING_RESNET_DATA=$d; break; fi
done
: "${LIGHTNING_RESNET_DATA:?no CIFAR-10 found: stage it with benchmarks/gpu_stage.py (device machines) or set LIGHTNING_RESNET_DATA}"
py=python3

{ nvidia-smi -L; $py -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'lightning', pl.__version__, torch.cuda.get_device_name())"; nproc; } 2>&1 | tee "$OUT/env.txt"

# 0. the fast preset's steady-state iteration makes no host sync (CUDA's sync debug mode; at most 75 s)
timeout 75 $py -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -25 | tee "$OUT/no_sync.txt" || true

# 1. throughput: the real fit vs the plain loop, each setting saved as it is measured (at most 90 s)
timeout 90 $py benchmarks/throughput.py --device cuda --archs resnet20 resnet56 resnet110 --precisions bf16-mixed 32-true \
  --steps 300 --warmup 30 --repeats 1 2>&1 | grep -v "it/s\]" | tee "$OUT/throughput.md" || echo "throughput: stopped at its time limit" | tee -a "$OUT/throughput.md"

# 2. packing: 1, 2 and 4 runs of 1,000 iterations at once on the one GPU (fast preset, compilation included; at most 120 s)
timeout 120 $py benchmarks/packing.py --preset fast --steps 1000 --jobs 1 2 4 2>&1 | tee "$OUT/packing.md" || echo "packing: stopped at its time limit" | tee -a "$OUT/packing.md"
# 2b. which precision and layout train fastest on this GPU, and what `fastest` picks (at most 45 s); peak memory of
# ResNet-20/110/1202 at batch 128 with and without activation checkpointing (at most 45 s)
timeout 45 $py benchmarks/precision.py --device cuda --rounds 4 --block 20 2>&1 | tee "$OUT/precision.md" || true
timeout 45 $py benchmarks/memory.py --device cuda --networks resnet20 resnet110 resnet1202 2>&1 | tee "$OUT/memory.md" || true
cp benchmarks/results/cifar10_throughput.json benchmarks/results/packing.json benchmarks/results/precision.json \
  benchmarks/results/memory.json "$OUT/" 2>/dev/null || true

# 3. the paper's schedule for ResNet-20 (64k iterations) at the fast preset, then its page (at most 220 s: the target is
# 180 s on an H100; stopped at the limit, the same command resumes it from its checkpoint on the next call)
start=$(date +%s)
timeout 220 $py -m lightning_resnet reproduce table6 --preset fast --networks resnet20 --runs_dir runs \
  -- --trainer.enable_progress_bar=false 2>&1 | tail -20 | tee "$OUT/resnet20-fast.log" || true
echo "wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/resnet20-fast.log"
mkdir -p "$OUT/reports" && cp -r reports/table6-fast.md reports/figures reports/records "$OUT/reports/" 2>/dev/null || true
