"""``python -m lightning_resnet report <id>``: a page from the run records, and its W&B Report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import runs
from ..errors import ConfigError
from ..paper import SPECS, spec_for
from ..reporting import build_report
from ..reporting.wandb_report import build_wandb_report, figure_keys, log_figures, report_json, repository_page_url
from ..tracking import DEFAULT_PROJECT, wandb_logged_in, wandb_mode
from .lightning_cli import PROG

DRY_RUN_ENTITY = "your-entity"  # a dry-run Report's entity when --entity and $WANDB_ENTITY are not set


def report_command(argv: list[str]) -> None:
    """``python -m lightning_resnet report <id>``: the Markdown report, and the W&B Report when online."""
    parser = argparse.ArgumentParser(prog=f"{PROG} report", description=report_command.__doc__)
    parser.add_argument("id", help=f"table/figure id ({', '.join(SPECS)}, or any experiment name)")
    parser.add_argument("--runs_dir", default=runs.runs_root(), type=Path, help=runs.RUNS_DIR_HELP)
    parser.add_argument("--reports_dir", default="reports", type=Path)
    parser.add_argument("--wandb", action="store_true", help="also save a W&B Report (default: when logged in to W&B)")
    parser.add_argument(
        "--entity", default=os.environ.get("WANDB_ENTITY"), help="W&B entity (default: $WANDB_ENTITY or your default)"
    )
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--preset", default=None, help="report the shared runs of `reproduce --preset` (smoke, paper)")
    parser.add_argument(
        "--page_url", default=None, help="where the W&B Report links to the Markdown page (default: the git remote)"
    )
    parser.add_argument(
        "--wandb_dry_run",
        action="store_true",
        help="write the W&B Report it would save as JSON (<reports_dir>/<page>.wandb-report.json); needs no server",
    )
    options = parser.parse_args(argv)
    page, used = build_report(options.id, options.runs_dir, options.reports_dir, preset=options.preset)
    print(f"wrote {page} from {len(used)} runs")
    if options.wandb_dry_run:
        report = build_wandb_report(
            spec_for(options.id),
            used,
            entity=options.entity or DRY_RUN_ENTITY,
            project=options.project,
            preset=options.preset,
            page_url=options.page_url or repository_page_url(page),
            figures=list(figure_keys(page)),
        )
        target = page.with_suffix(".wandb-report.json")
        runs.write_atomically(target, lambda f: f.write(report_json(report).encode()), kind="W&B Report")
        print(f"wrote {target} (the W&B Report it would save; nothing was uploaded)")
        return
    if not (options.wandb or wandb_mode() == "online"):
        return
    if not wandb_logged_in():
        raise ConfigError(
            "a W&B Report needs a W&B login (run `wandb login`, then `python -m lightning_resnet sync` the offline "
            "runs); the Markdown "
            "report was written"
        )
    import wandb

    entity = options.entity or wandb.Api().default_entity
    figures = log_figures(page, entity, options.project, options.runs_dir)  # W&B's local files go beside the runs
    report = build_wandb_report(
        spec_for(options.id),
        used,
        entity=entity,
        project=options.project,
        preset=options.preset,
        page_url=options.page_url or repository_page_url(page),
        figures=figures,
    )
    report.save()
    print(f"saved W&B Report {report.url}")
