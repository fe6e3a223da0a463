"""Is a re-run bitwise equal to its committed record? Every curve point both have, compared with ``==``.

The paper preset is deterministic on one machine (seeded data order and augmentation, fp32, TF32 off), so a run
trained again from scratch should log exactly the record's numbers; issue 21 asks each re-run to say whether it did.
Compares ``RUN_DIR/metrics.csv`` with the record's at every step both hold (a run still training is compared as
far as it got), then the final errors once the run has finished, and saves the counts, the first difference, and
both runs' machines per run to ``benchmarks/results/rerun.json``.

    python benchmarks/rerun.py runs/cifar10-paper/resnet20-s0        # against reports/records/cifar10-paper/...
    python benchmarks/rerun.py RUN_DIR --record OTHER_RUN_DIR
    python benchmarks/rerun.py RUN_DIR --rev HEAD      # the record as committed (after --publish replaced it)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from timing import RESULTS_DIR, merge_results

from lightning_resnet.reporting.markdown import RECORDS as RECORDS_FOLDER
from lightning_resnet.runs import RECORD_FILES, Run

RESULTS = RESULTS_DIR / "rerun.json"
REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "reports" / RECORDS_FOLDER  # where report pages keep the records they were made from
Curves = dict[str, list[tuple[int, float]]]


def compare_curves(run: Curves, record: Curves) -> dict[str, dict]:
    """Per curve both logged at one step or more: how many steps both logged, how many of those are equal, the last
    common step, and the first step whose values differ (``None`` while all are equal)."""
    compared = {}
    for key in sorted(run.keys() & record.keys()):
        ours, theirs = dict(run[key]), dict(record[key])
        common = sorted(ours.keys() & theirs.keys())
        if not common:
            continue
        differing = [s for s in common if ours[s] != theirs[s]]
        first = differing[0] if differing else None
        compared[key] = {
            "common_steps": len(common),
            "equal": len(common) - len(differing),
            "last_common_step": common[-1],
            "first_difference": None if first is None else {"step": first, "run": ours[first], "record": theirs[first]},
        }
    return compared


def compare_final(run: Run, record: Run) -> dict[str, dict] | None:
    """The finished run's final errors beside the record's (``None`` while the run is still training)."""
    if not (run.finished and record.finished):
        return None
    keys = sorted(k for k in run.record.final.keys() & record.record.final.keys() if k.endswith("top1_error"))
    return {k: {"run": run.final(k), "record": record.final(k), "equal": run.final(k) == record.final(k)} for k in keys}


def machine_of(run: Run) -> str | None:
    """The record's machine line, with the CPU's vendor/family/model/stepping where the record has it."""
    cpu_id = (run.record.extra.get("machine") or {}).get("cpu", {}).get("id")
    return f"{run.hardware} ({cpu_id})" if cpu_id else run.hardware


def record_at(rev: str, record_dir: Path, into: Path) -> Path:
    """The record files of ``record_dir`` as git revision ``rev`` holds them, written under ``into``."""
    relative = record_dir.resolve().relative_to(REPO).as_posix()
    for name in RECORD_FILES:
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{relative}/{name}"], capture_output=True)
        if shown.returncode == 0:
            (into / name).write_bytes(shown.stdout)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--record", type=Path, help="default: reports/records/<group>/<run name> of RUN_DIR")
    parser.add_argument("--rev", help="compare with the record as this git revision holds it (e.g. HEAD)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    run = Run.read(args.run_dir)
    record_dir = args.record or RECORDS / args.run_dir.resolve().parent.name / args.run_dir.resolve().name
    source = record_dir if args.rev is None else record_at(args.rev, record_dir, Path(tempfile.mkdtemp()))
    if not (source / "run.json").is_file():
        where = f"{record_dir} at {args.rev}" if args.rev else str(record_dir)
        sys.exit(f"no record at {where}: pass --record with the run folder to compare against")
    record = Run.read(source)
    curves = compare_curves(run.curves, record.curves)
    final = compare_final(run, record)
    equal = all(c["equal"] == c["common_steps"] for c in curves.values()) and all(
        f["equal"] for f in (final or {}).values()
    )
    entry = {
        "run": f"{run.record.group}/{run.record.run_name}",
        "record": os.path.relpath(record_dir.resolve(), REPO) + (f"@{args.rev}" if args.rev else ""),
        "compared_at": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "run_machine": machine_of(run),
        "record_machine": machine_of(record),
        "run_iterations": run.steps,
        "bitwise_equal_so_far": equal,
        "curves": curves,
        "final": final,
    }
    for key, c in curves.items():
        first = c["first_difference"]
        print(
            f"{key}: {c['equal']} of {c['common_steps']} equal up to step {c['last_common_step']}"
            + (f"; first difference at step {first['step']}: {first['run']} vs {first['record']}" if first else "")
        )
    for key, f in (final or {}).items():
        print(f"final {key}: {f['run']} vs the record's {f['record']} ({'equal' if f['equal'] else 'different'})")
    print(f"bitwise equal {'so far' if final is None else 'at the end'}: {equal}")
    if not args.no_save:
        merge_results([entry], RESULTS, key=lambda e: (e["run"], e["run_machine"] or "", e["record_machine"] or ""))
        print(f"saved to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
