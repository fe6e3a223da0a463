"""The same report as a W&B Report (wandb-workspaces). Building it needs no network; only ``save`` does.

It queries the keys every run logs at the top of its W&B config (:func:`lightning_resnet.runs.tracking_keys`):
``group`` (the folder of shared runs), ``network``; one panel grid per panel of the paper's figure with exactly its
networks, training error thin and dashed, the held-out curve bold, as on the paper's figures. The Markdown page's
figures are logged as images of a run of its own (job type ``report``) and shown in a media panel.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from ..callbacks.layer_responses import RESPONSES_TABLE
from ..compat import report_view_spec
from ..paper import POOLS, ReportSpec
from ..runs import Run
from .figures import TRAIN_KEY, drawn_range
from .markdown import NOTICE, RECORDS, findings_table, page_name, results_table, scale_table

FIGURES_JOB = "report"  # the W&B job type of the run that carries a page's figures


def figure_keys(page: Path) -> dict[str, Path]:
    """The figures a Markdown page shows, by the W&B media key they are logged under (``figures/<file stem>``)."""
    names = re.findall(r"\]\((figures/[^)]+\.png)\)", page.read_text())
    return {f"figures/{Path(name).stem}": page.parent / name for name in names}


def log_figures(page: Path, entity: str | None, project: str, folder: Path) -> list[str]:
    """Log a page's figures as images of one W&B run (job type ``report``, config ``report: <page>``; its local
    files under ``folder``), so the W&B Report shows the same figures as the page; returns their media keys."""
    import wandb

    figures = figure_keys(page)
    if figures:
        config = {"report": page.stem}
        Path(folder).mkdir(parents=True, exist_ok=True)
        init = {"entity": entity, "project": project, "job_type": FIGURES_JOB, "name": page.stem, "dir": str(folder)}
        # one run per page, reused when the page is regenerated: the media panel shows its newest figures
        with wandb.init(**init, id=figures_run_id(page), resume="allow", config=config) as run:
            run.log({key: wandb.Image(str(path)) for key, path in figures.items()})
    return list(figures)


def figures_run_id(page: Path) -> str:
    """The W&B id of the run that carries a page's figures (``figures-fig1-smoke``)."""
    return f"figures-{page.stem}"


def report_json(report) -> str:
    """The W&B Report as JSON: the view spec ``save`` would upload (wandb-workspaces' own model, validated), with
    every block, runset, filter and panel as W&B stores them."""
    return json.dumps(report_view_spec(report), indent=1, sort_keys=True) + "\n"


def repository_page_url(page: Path) -> str | None:
    """The page on the repository's web host (GitHub-style ``origin`` remotes), at the commit checked out."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=page.parent, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    remote, commit, top = (
        git("remote", "get-url", "origin"),
        git("rev-parse", "HEAD"),
        git("rev-parse", "--show-toplevel"),
    )
    if not (remote and commit and top):
        return None
    web = re.sub(r"^git@([^:]+):", r"https://\1/", remote).removesuffix(".git")
    return f"{web}/blob/{commit}/{page.resolve().relative_to(Path(top).resolve())}" if web.startswith("http") else None


def panel_filters(group: str, networks: tuple[str, ...]) -> str:
    """The runs of one panel: the group's runs of exactly these networks (all of the group's without a list)."""
    filters = f"Config('group') = '{group}'"
    return filters + (f" and Config('network') in {list(networks)}" if networks else "")


CURVE_NAMES = {TRAIN_KEY: "training error", "test_curve/top1_error": "test error", "val/top1_error": "validation error"}
STYLES = {TRAIN_KEY: (1.0, "dashed")}  # the paper's figures: training error thin and dashed, held-out error bold
HELD_OUT_STYLE = (3.0, "solid")


def line_styles(runs: list[Run], keys: list[str]) -> dict[str, dict[str, object]]:
    """``line_widths`` and ``line_marks`` for the plotted runs, keyed ``"{runId}:{metricName}"`` as wandb-workspaces
    reads them (its LinePlot documents that form); runs logged without W&B have no id and keep W&B's style."""
    ids = [(r.record.wandb or {}).get("id") for r in runs]
    styles = {f"{run_id}:{key}": STYLES.get(key, HELD_OUT_STYLE) for run_id in ids if run_id for key in keys}
    return {
        "line_widths": {k: width for k, (width, _) in styles.items()} or None,
        "line_marks": {k: mark for k, (_, mark) in styles.items()} or None,
    }


def build_wandb_report(
    spec: ReportSpec,
    runs: list[Run],
    entity: str,
    project: str,
    preset: str | None = None,
    page_url: str | None = None,
    figures: list[str] = (),
):
    """A ``wandb_workspaces`` Report: one panel grid per figure panel, the Markdown page's tables and figures (the
    media ``figures`` logged by :func:`log_figures`), a link back to the page."""
    import wandb_workspaces.reports.v2 as wr

    group = spec.groups(preset)[0]
    held_out = POOLS[spec.pool].held_out[0] if spec.pool in POOLS else "val/top1_error"
    grids = []
    for title, networks in spec.panels:
        members = [r for r in runs if not networks or r.network in networks]
        seeds = len(members) > len({r.network for r in members})  # several seeds: a line per network, mean ± std
        runset = wr.Runset(
            entity=entity,
            project=project,
            name=title,
            filters=panel_filters(group, networks),
            groupby=["config.network"] if seeds else [],
        )
        curves = [[TRAIN_KEY], [held_out]] if spec.split_metrics else [[TRAIN_KEY, held_out]]
        plots = [
            wr.LinePlot(
                title=title if len(curves) == 1 else f"{title}: {CURVE_NAMES.get(keys[0], keys[0])}",
                x="trainer/global_step",
                y=keys,
                groupby=wr.Config("network") if seeds else None,
                groupby_aggfunc="mean" if seeds else None,
                groupby_rangefunc="stddev" if seeds else None,
                range_y=drawn_range(spec.error_range, runs, held_out) or (0, None),
                title_x="iteration",
                title_y="error (%)",
                **line_styles(members, keys),
            )
            for keys in curves
        ]
        grids.append(wr.PanelGrid(runsets=[runset], panels=plots))
    if spec.responses:
        runset = wr.Runset(
            entity=entity,
            project=project,
            name="layer responses",
            filters=panel_filters(group, spec.networks),
            groupby=["config.network"],
        )
        grids.append(wr.PanelGrid(runsets=[runset], panels=[wr.WeavePanelSummaryTable(table_name=RESPONSES_TABLE)]))
    command = spec.id + (f" --preset {preset}" if preset else "")
    blocks = [wr.P(NOTICE.format(command=command, groups=f"{RECORDS}/{group}/").replace("`", ""))]
    if page_url:
        blocks.append(wr.P([wr.Link("The Markdown page of this report, with its figures", url=page_url)]))
    blocks += [
        wr.H2("Results"),
        wr.MarkdownBlock("\n".join(results_table(spec, runs))),
        wr.H2("Scale"),
        wr.MarkdownBlock("\n".join(scale_table(runs))),
    ]
    if spec.findings:
        blocks += [wr.H2("The paper's findings at this scale"), wr.MarkdownBlock("\n".join(findings_table(spec, runs)))]
    if grids:
        blocks += [wr.H2("Training curves"), *grids]
    if figures:
        page = page_name(spec.id, preset)
        runset = wr.Runset(entity=entity, project=project, name="figures", filters=f"Config('report') = '{page}'")
        media = wr.MediaBrowser(title="the page's figures", media_keys=list(figures), num_columns=1)
        blocks += [wr.H2("Figures of the Markdown page"), wr.PanelGrid(runsets=[runset], panels=[media])]
    return wr.Report(
        entity=entity,
        project=project,
        title=spec.title,
        description=f"lightning-resnet reproduction: {spec.id}",
        blocks=blocks,
    )
