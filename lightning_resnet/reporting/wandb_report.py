"""The same report as a W&B Report (wandb-workspaces). Building it needs no network; only ``save`` does."""

from __future__ import annotations

from ..paper import ReportSpec
from ..runs import Run
from .markdown import NOTICE, findings_table, results_table, scale_table


def build_wandb_report(spec: ReportSpec, runs: list[Run], entity: str, project: str, preset: str | None = None):
    """A ``wandb_workspaces`` Report: curves grouped by network, and the tables of the Markdown page."""
    import wandb_workspaces.reports.v2 as wr

    groups = " or ".join(f"Config('experiment') = '{g}'" for g in spec.groups(preset))
    runset = wr.Runset(entity=entity, project=project, name=spec.id, filters=groups, groupby=["config.model.arch"])
    panels = [
        wr.LinePlot(
            title=title,
            x="trainer/global_step",
            y=["train/top1_error", "val/top1_error"],
            groupby=wr.Config("model.arch"),
            groupby_aggfunc="mean",
            groupby_rangefunc="stddev",
            range_y=(0, None),
            title_x="iteration",
            title_y="error (%)",
        )
        for title, _networks in spec.panels
    ]
    blocks = [
        wr.P(
            NOTICE.format(
                command=spec.id + (f" --preset {preset}" if preset else ""), groups=", ".join(spec.groups(preset))
            ).replace("`", "")
        ),
        wr.H2("Results"),
        wr.MarkdownBlock("\n".join(results_table(spec, runs))),
        wr.H2("Scale"),
        wr.MarkdownBlock("\n".join(scale_table(runs))),
    ]
    if spec.findings:
        blocks += [wr.H2("The paper's findings at this scale"), wr.MarkdownBlock("\n".join(findings_table(spec, runs)))]
    if panels:
        blocks += [wr.H2("Training curves"), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(
        entity=entity,
        project=project,
        title=spec.title,
        description=f"lightning-resnet reproduction: {spec.id}",
        blocks=blocks,
    )
