"""Tables 7 and 8: the detection pages, each row of the paper beside what was measured or what it would cost."""

from __future__ import annotations

from ..detection.model import detector_macs
from ..paper import POOLS
from ..paper.experiments import ReportSpec
from ..paper.pools import backbone_weights
from ..runs import Run


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def results_table(spec: ReportSpec, runs: list[Run]) -> list[str]:
    """One row per row of the paper: its mAPs, and the measured ones of the finished run of that backbone."""
    pool = POOLS[spec.pool]
    coco = any(row.map is not None for row in spec.detection)
    head = "| backbone | training data | test set | paper mAP@.5 |" + (" paper mAP@[.5, .95] |" if coco else "")
    head += " measured mAP@.5 |" + (" measured mAP@[.5, .95] |" if coco else "") + " iterations | training time |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for row in spec.detection:
        run = next((r for r in runs if r.network == row.network), None) if row.evaluated_locally else None
        paper = [_cell(row.map_50), *([_cell(row.map)] if coco else [])]
        if not row.evaluated_locally:
            measured = ["evaluation server only"] + (["–"] if coco else [])
        elif run is None:
            measured = ["not run"] + (["–"] if coco else [])
        else:
            measured = [_cell(run.final("test/map_50")), *([_cell(run.final("test/map"))] if coco else [])]
        cost = [f"{run.steps:,} of {pool.iterations:,}", run.training_time()] if run else ["–", "–"]
        lines.append(
            f"| {row.network} | {row.training_data} | {row.test_set} | " + " | ".join([*paper, *measured, *cost]) + " |"
        )
    return lines


def not_run_section(spec: ReportSpec, runs: list[Run]) -> list[str]:
    """The command and the compute of each run that has not finished: iterations, images, GPUs, FLOPs."""
    pool = POOLS[spec.pool]
    missing = [n for n in spec.networks if not any(r.network == n for r in runs)]
    if not missing:
        return []
    images = pool.iterations * pool.batch
    configs = " ".join(f"--config reproductions/{name}" for name in (pool.base_config, *pool.overlays))
    lines = [
        f"These runs need {pool.dataset} and trained ImageNet backbones, which this project's machine does not have, "
        "so they have not run and nothing in their rows is measured. Run them (training what is missing, then "
        "writing this page) with",
        "",
        f"    python -m lightning_resnet reproduce {spec.id} --preset paper",
        "",
        f"or one run with `python -m lightning_resnet detect fit {configs}` and the overrides below. ResNet-101 "
        "starts from this suite's Table 3 run (`reproduce table3 --preset paper --networks resnet101` trains it), "
        "VGG-16 from torchvision's ImageNet weights. Each run is "
        f"{pool.iterations:,} iterations of {pool.batch} image{'s' if pool.batch > 1 else ''} ({images:,} images at "
        f"a shorter side of 600 pixels) on {pool.gpus} GPU{'s' if pool.gpus > 1 else ''} in the paper.",
        "",
        "| backbone | overrides | forward GMACs per image | training PFLOP |",
        "|---|---|---|---|",
    ]
    for network in missing:
        macs = detector_macs(network)
        weights = backbone_weights(network, pool.backbone_pool)
        overrides = f"`--model.arch {network} --model.weights {weights}`"
        lines.append(f"| {network} | {overrides} | {macs / 1e9:.0f} | {3 * 2 * macs * images / 1e15:,.0f} |")
    lines += [
        "",
        "GMACs: the backbone's part of one test pass, the shared layers over a 600x1000 image plus the per-region "
        "layers over 300 RoIs, counted by `torch.utils.flop_counter` (RPN and sibling layers excluded); training "
        "PFLOP = 3 x 2 x GMACs x images, an estimate (training samples 128 RoIs per image, not 300).",
    ]
    return lines


def detection_section(spec: ReportSpec, runs: list[Run], images: str) -> list[str]:
    note = POOLS[spec.pool].result_note.format(images=images) if runs else "No finished runs: nothing is measured yet."
    lines = ["## Results", "", note, "", *results_table(spec, runs), ""]
    if spec.note:
        lines += [spec.note, ""]
    missing = not_run_section(spec, runs)
    return [*lines, *(["## Not run yet", "", *missing, ""] if missing else [])]
