"""Figures in the paper's style: training error thin and dashed, held-out error bold, against iterations."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..runs import Run, write_atomically  # noqa: E402

TRAIN_KEY, VAL_KEY = "train/top1_error", "val/top1_error"


def _save(fig: plt.Figure, path: Path) -> None:
    """PNG, written atomically (a kill leaves the previous figure), with no version stamp: same runs, same bytes."""
    try:
        write_atomically(
            path,
            lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None}),
            advice="then run report again",
            kind="figure",
        )
    finally:
        plt.close(fig)


def lowest_error(runs: list[Run], held_out_key: str = VAL_KEY) -> float | None:
    """The lowest value of any curve :func:`plot_error_panels` draws for ``runs``; None when there is none."""
    keys = (TRAIN_KEY, held_out_key, VAL_KEY)
    return min((value for run in runs for key in keys for _, value in run.curves.get(key, [])), default=None)


def drawn_range(
    paper_range: tuple[float, float] | None, runs: list[Run], held_out_key: str = VAL_KEY
) -> tuple[float, float] | None:
    """The y-range the curves of ``runs`` are drawn on, in the figures and the W&B Report alike: the paper's where
    it has one and some curve reaches it; None (from 0 to the data) where a run too short to get there would leave
    the paper's range empty."""
    lowest = lowest_error(runs, held_out_key)
    return paper_range if paper_range and (lowest is None or lowest < paper_range[1]) else None


def plot_error_panels(
    panels: list[tuple[str, list[Run]]],
    path: Path,
    held_out_key: str = VAL_KEY,
    split_metrics: bool = False,
    error_range: tuple[float, float] | None = None,
) -> None:
    """One panel per (title, runs): each network's training error (thin, dashed), its ``held_out_key`` curve (bold:
    the paper's test error on CIFAR-10, centre-crop validation error on ImageNet) and, when that is not the
    validation curve, the validation error (thin, dotted).

    ``split_metrics``: two panels per entry instead, training error left and held-out error right (Figure 1).
    ``error_range``: the y-axis limits in percent (the paper's figures show 0-20); default from 0 to the data.
    """
    held_out = [(held_out_key, {"lw": 2.2})]
    if held_out_key != VAL_KEY:
        held_out.append((VAL_KEY, {"lw": 0.8, "ls": ":"}))
    training = [(TRAIN_KEY, {"lw": 0.8, "ls": "--"})]
    held_out_label = "test" if held_out_key.startswith("test") else "val"
    if split_metrics:
        axes_spec = [
            (title, runs, styles, ylabel)
            for title, runs in panels
            for styles, ylabel in ((training, "training error (%)"), (held_out, f"{held_out_label} error (%)"))
        ]
    else:
        axes_spec = [(title, runs, training + held_out, "error (%)") for title, runs in panels]
    fig, axes = plt.subplots(1, len(axes_spec), figsize=(5.2 * len(axes_spec), 4.0), squeeze=False)
    last_step = max((pts[-1][0] for _, runs in panels for r in runs for pts in r.curves.values() if pts), default=0)
    scale, unit = (
        (1e4, "iter. (1e4)") if last_step >= 10_000 else (1, "iterations")
    )  # the paper's axis, or plain counts
    for ax, (title, runs, styles, ylabel) in zip(axes[0], axes_spec):
        colors = {}
        for run in runs:
            color = colors.setdefault(run.network, f"C{len(colors)}")
            label = run.network if sum(r.network == run.network for r in runs) == 1 else f"{run.network} s{run.seed}"
            for i, (key, style) in enumerate(styles):
                points = run.curves.get(key, [])
                if points:
                    steps, values = zip(*points)
                    marker = {"marker": "o", "ms": 4} if len(points) < 3 else {}  # a lone point would not show
                    labelled = key == held_out_key or (split_metrics and i == 0)
                    ax.plot(
                        [s / scale for s in steps],
                        values,
                        color=color,
                        **style,
                        **marker,
                        label=label if labelled else None,
                    )
        ax.set(title=title, xlabel=unit, ylabel=ylabel)
        if not colors:
            ax.text(0.5, 0.5, "not run", ha="center", va="center", transform=ax.transAxes, color="gray")
        if error_range:
            ax.set_ylim(*error_range)
        else:
            ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if colors:
            if split_metrics:
                legend = "dashed: training" if styles is training else f"bold: {held_out_label}"
                legend += ", dotted: val" if styles is held_out and held_out_key != VAL_KEY else ""
            else:
                legend = f"dashed: training, bold: {held_out_label}" + (
                    ", dotted: val" if held_out_key != VAL_KEY else ""
                )
            ax.legend(title=legend, fontsize=8, title_fontsize=8)
    _save(fig, path)


def plot_layer_responses(runs: list[Run], path: Path) -> None:
    """Figure 7: std of each 3x3 layer's response, top in layer order, bottom sorted by magnitude."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.5))
    for i, run in enumerate(r for r in runs if r.responses):
        layers = range(1, len(run.responses) + 1)
        top.plot(layers, run.responses, lw=1.2, color=f"C{i}", label=run.network)
        bottom.plot(layers, sorted(run.responses, reverse=True), lw=1.2, color=f"C{i}", label=run.network)
    top.set(xlabel="layer index (original)", ylabel="std")
    bottom.set(xlabel="layer index (sorted by magnitude)", ylabel="std")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)
