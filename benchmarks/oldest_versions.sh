#!/usr/bin/env bash
# The oldest versions pyproject.toml admits, proven: a separate venv with the lower bounds of torch, torchvision,
# Lightning, torchmetrics and jsonargparse (everything else as pip resolves it), the suite installed into it, and
# the fast test set run there. What was installed and what ran is saved to benchmarks/results/oldest_versions.txt.
#   bash benchmarks/oldest_versions.sh [VENV]        # default VENV: ../oldest-venv (beside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-../oldest-venv}
OUT=benchmarks/results/oldest_versions.txt
LOWER="torch==2.9.1 torchvision==0.24.1 pytorch-lightning==2.5.0 torchmetrics==1.4.0 jsonargparse[signatures,shtab]==4.47.0"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q $LOWER
"$VENV/bin/pip" install -q -e ".[dev]" $LOWER   # the suite on top, the lower bounds held
{
  echo "# $(date -u +%F): the fast test set on the oldest supported versions ($(python3 -c 'import platform; print(platform.python_version())'))"
  echo "# bash benchmarks/oldest_versions.sh, on $("$VENV/bin/python" -c 'from lightning_resnet.hardware import machine_label; print(machine_label())')"
  "$VENV/bin/pip" freeze | grep -iE "^(torch|torchvision|pytorch-lightning|lightning-utilities|torchmetrics|jsonargparse|wandb|wandb-workspaces|submitit|pycocotools|numpy)=="
  echo
  "$VENV/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider 2>&1 | tail -15
} | tee "$OUT"
