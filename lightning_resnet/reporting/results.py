"""The results the README opens with: every CIFAR-10 network of Table 6 and Figure 6 at the paper preset, then each
finding of the paper those networks test, as the paper-length records judge it.

Built from the committed records (``reports/records/cifar10-paper/``), the paper's numbers, the published
reproductions' and the released weights' manifest, so the README shows what the records say and nothing typed in:
``reproduce --publish`` refreshes it as each run finishes, so no sentence of the README goes stale with a new run.
``write_index`` puts it at the top of ``reports/README.md`` and a test keeps the README's copy equal to it.
"""

from __future__ import annotations

from pathlib import Path

from ..models import model_entry
from ..models.costs import training_flops
from ..paper import POOLS, pool_ids, spec_for
from ..paper.experiments import PLAIN, RESNETS
from ..paper.numbers import TABLE6
from ..release import PAPER, read_manifest
from ..runs import Run, experiment_folder, load_runs, split_network
from .findings import VERDICT_RULE, evaluate, values_of
from .markdown import RECORDS, format_mean_std, page_name, params_m, training_rates, write_text_atomically

POOL = "cifar10"
# by depth, each ResNet beside its plain twin; ResNet-1202 last (the paper trains it, nobody releases it)
NETWORKS = (*(n for pair in zip(RESNETS[:4], PLAIN) for n in pair), "resnet110", "resnet1202")


def training_cell(runs: list[Run]) -> str:
    """Training time and machine of the network's runs, as their records state them."""
    return "; ".join(f"{run.training_time()}, {run.hardware}" for run in runs)


def estimate_cell(network: str, rates: dict[str, float]) -> str:
    """The paper-length run's cost on each machine, at the FLOP rate the finished paper-length runs sustained there."""
    if not rates:
        return "–"
    pool = POOLS[POOL]
    flops = training_flops(*split_network(network), pool.iterations * pool.batch)
    costs = "; ".join(f"~{flops / rate / 3600:,.0f} h on {hardware}" for hardware, rate in rates.items())
    return f"not trained yet: {costs} (estimated)"


def paper_length_runs(reports_dir: Path) -> list[Run]:
    """The finished CIFAR-10 records at the paper preset that trained the paper's full length."""
    runs = load_runs(Path(reports_dir) / RECORDS, experiment_folder(POOL, PAPER))
    return [r for r in runs if r.finished and r.steps >= POOLS[POOL].iterations]


def paper_findings_table(runs: list[Run], link_root: str = "") -> list[str]:
    """Each finding of the pool's pages once (Figure 1 and Figure 6 state the degradation each in its own words),
    judged as its page judges it, with a link to that page."""
    lines = ["| the paper's finding | held at the paper's length? | measured | page |", "|---|---|---|---|"]
    seen = set()
    for report_id in pool_ids(POOL):
        for finding in spec_for(report_id).findings:
            if (finding.metric, finding.pairs) in seen:
                continue
            seen.add((finding.metric, finding.pairs))
            verdict = evaluate(finding, runs)
            page = page_name(report_id, PAPER)
            lines.append(
                f"| {finding.claim} | {verdict.label} | {verdict.evidence} | [{page}]({link_root}reports/{page}.md) |"
            )
    return lines


def results_table(reports_dir: Path = Path("reports"), weights: Path | None = None, link_root: str = "") -> list[str]:
    """The Markdown table: network, layers, parameters, the paper's test error, this suite's at the paper preset
    (mean ± std over seeds), the published reproductions', training time and machine, released weights (linked
    from ``link_root``: the repository root for the README, ``../`` for ``reports/README.md``); then the findings."""
    full = paper_length_runs(reports_dir)
    releases = read_manifest(weights)
    rates = training_rates(full)
    reproductions = POOLS[POOL].reproductions
    lines = [
        "| network | layers | params | paper | this suite | "
        + " | ".join(p.name for p in reproductions)
        + " | training time, machine | weights |",
        "|---" * (7 + len(reproductions)) + "|",
    ]
    for network in NETWORKS:
        trained = [r for r in full if r.network == network]
        paper = TABLE6.get(network)
        published = [f"{p.test_errors[network]:.2f}" if network in p.test_errors else "–" for p in reproductions]
        release = releases.get(network)
        lines.append(
            f"| {network} | {model_entry(network).depth} | {params_m(network):.2f}M | "
            f"{f'{paper.top1_error:.2f}' if paper else '–'} | "
            f"{format_mean_std(values_of(trained, network, 'test')) if trained else '–'} | "
            + " | ".join(published)
            + f" | {training_cell(trained) if trained else estimate_cell(network, rates)} | "
            f"{f'[{release.file}]({link_root}weights/{release.file})' if release else '–'} |"
        )
    return [
        *lines,
        "",
        "Test error in percent on the 10k CIFAR-10 test images, one seed unless the cell says n (paper: Table 6, "
        "ResNet-110 its best of 5; plain nets appear in its Figure 6 only). The reproductions' recipes: "
        + "; ".join(f"{p.name}: {p.recipe}" for p in reproductions)
        + ".",
        "",
        *paper_findings_table(full, link_root),
        "",
        f"{VERDICT_RULE} Each linked page states how the noise is measured.",
    ]


def paragraphs_end(lines: list[str], start: int, count: int) -> int | None:
    """The index of the last line of the ``count``-th blank-separated paragraph from ``start``; ``None`` where the
    text ends sooner. The table's extent is its shape, so a reworded note (a new verdict rule) is replaced too."""
    seen = 0
    for i in range(start, len(lines)):
        if lines[i] and (i + 1 == len(lines) or not lines[i + 1]):
            seen += 1
            if seen == count:
                return i
    return None


def refresh_readme(readme: Path, reports_dir: Path = Path("reports"), weights: Path | None = None) -> bool:
    """Replace the results table in ``readme`` (from its header row through the note under it) with the one the
    records give now; whether that changed it (``False`` too where ``readme`` is missing or holds no such table)."""
    if not readme.is_file():
        return False
    current = readme.read_text()
    lines = current.split("\n")
    table = results_table(reports_dir, weights)  # its paragraphs are separated by single blank lines
    header = table[0].split(" | ")[0]
    start = next((i for i, line in enumerate(lines) if line.startswith(header + " | ")), None)
    end = None if start is None else paragraphs_end(lines, start, table.count("") + 1)
    if start is None or end is None:
        return False
    text = "\n".join([*lines[:start], *table, *lines[end + 1 :]])
    if text == current:
        return False
    write_text_atomically(readme, text, kind="README")
    return True
