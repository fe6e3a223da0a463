"""The project's promises about itself: the README's test command is what CI runs, its results table is the one the
records give, its documentation is what the code says; the citation file is valid."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_as_written() -> None:
    ci_command = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command.endswith("python -m pytest")
    assert f"    {ci_command}\n" in (REPO / "README.md").read_text()


def test_the_readme_evidence_queue_command_works_as_written_in_a_fresh_checkout(tmp_path: Path) -> None:
    """The queue's one command, pasted into a folder with no ``runs/`` yet: its log lands in ``runs/queue.log`` and
    lists the paper-length runs in the order the evidence needs them (the 20-layer pair, then the 56-layer pair)."""
    import re
    import subprocess
    import sys

    readme = (REPO / "README.md").read_text()
    block = readme.split("### The evidence queue", 1)[1].split("\n\n    ", 1)[1].split("\n\n", 1)[0]
    command = " ".join(block.replace("\\\n", " ").split())
    launcher = "nohup nice -n 10 .venv/bin/python -m lightning_resnet reproduce "
    assert command.startswith(f"mkdir -p runs && {launcher}") and command.endswith(" >> runs/queue.log 2>&1 &")
    dry_run = command.removesuffix(" &").replace(launcher, f"{launcher}--dry_run ")
    dry_run = dry_run.replace(".venv/bin/python", sys.executable)  # this venv's python, wherever it lives
    assert subprocess.run(["bash", "-c", dry_run], cwd=tmp_path, timeout=300).returncode == 0
    runs = re.findall(r"cifar10-paper/(\w+)-s0: todo", (tmp_path / "runs" / "queue.log").read_text())
    assert runs[:4] == ["resnet20", "plain20", "plain56", "resnet56"] and "resnet110" in runs
    assert not (tmp_path / "reports").exists() and not (tmp_path / "weights").exists()  # a dry run writes nothing


def test_citation_file_cites_the_paper() -> None:
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    paper = citation["preferred-citation"]
    assert paper["title"] == "Deep Residual Learning for Image Recognition"
    assert [a["family-names"] for a in paper["authors"]] == ["He", "Zhang", "Ren", "Sun"]


def test_the_recipe_page_states_the_paper_presets_interpretations_as_the_reports_do() -> None:
    from lightning_resnet.paper import interpretations_table

    assert "\n".join(interpretations_table()) in (REPO / "docs" / "recipe.md").read_text()


def test_the_readme_opens_with_the_results_table_the_committed_records_give() -> None:
    from lightning_resnet.reporting.results import results_table

    readme = (REPO / "README.md").read_text()
    table = "\n".join(results_table(REPO / "reports"))
    assert table in readme and readme.index(table) < readme.index("## Quick start")
    assert "| resnet20 | 20 | 0.27M | 8.75 | 8.58 |" in table  # the committed record, beside Table 6
    # then each finding once, judged by the paper-length records as its page judges it, and linked to that page
    # one seed of each at the paper's length: which way the runs point, and not held, since no noise was measured
    responses = (
        "| ResNet-20 responds less than plain-20 | as the paper, noise not measured | plain20 0.856 > resnet20 0.780 "
    )
    assert responses in table
    training = (
        "| ResNet-20 has lower training error than plain-20 | within the stated margin | plain20 1.39 > resnet20 0.59"
    )
    assert training in table
    assert "deeper plain nets have higher training error" not in table  # Figure 6's words for the same comparison
    findings = [row for row in table.splitlines() if row.endswith(".md) |") and "](reports/" in row]
    assert findings[0].startswith("| plain-56 has higher training error than plain-20 (degradation) | ")
    for row in findings:  # each as its linked page states it, whatever the evidence queue has finished by now
        finding, link = row.rsplit(" | ", 1)
        page = REPO / link[link.index("(") + 1 : link.index(")")]
        assert f"{finding} |" in page.read_text(), (row, page)
    assert len(readme.splitlines()) < 150


def test_refresh_readme_rewrites_the_results_table_from_the_records_and_leaves_the_rest(tmp_path: Path) -> None:
    """What ``reproduce --publish`` does to the README as each run finishes: only the table changes."""
    import json

    from lightning_resnet.reporting.results import refresh_readme

    committed = (REPO / "README.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text(
        committed.replace("| resnet20 | 20 | 0.27M | 8.75 | 8.58 |", "| resnet20 | 20 | 0.27M | 8.75 | 9.99 |")
    )
    assert refresh_readme(readme, REPO / "reports", REPO / "weights")
    assert readme.read_text() == committed
    assert not refresh_readme(readme, REPO / "reports", REPO / "weights")  # nothing new: left alone

    # a reworded verdict rule replaces the old note too, rather than leaving a README it can no longer find
    from lightning_resnet.reporting.findings import VERDICT_RULE

    assert VERDICT_RULE in committed
    readme.write_text(committed.replace(VERDICT_RULE, "A finding holds when its runs say so."))
    assert refresh_readme(readme, REPO / "reports", REPO / "weights")
    assert readme.read_text() == committed

    weights = tmp_path / "weights"  # a new release of ResNet-20 appears in its weights cell, and only there
    weights.mkdir()
    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    manifest["resnet20"] |= {"file": "resnet20-0123abcd.pt", "sha256": "0123abcd" + "0" * 56}
    (weights / "manifest.json").write_text(json.dumps(manifest))
    assert refresh_readme(readme, REPO / "reports", weights)
    row = next(line for line in readme.read_text().splitlines() if line.startswith("| resnet20 |"))
    assert row.endswith("| [resnet20-0123abcd.pt](weights/resnet20-0123abcd.pt) |")
    assert readme.read_text().replace(row, "") == committed.replace(
        next(line for line in committed.splitlines() if line.startswith("| resnet20 |")), ""
    )
    assert not refresh_readme(tmp_path / "elsewhere.md", REPO / "reports")  # no README there


def test_every_documentation_page_the_readme_lists_exists_and_links_resolve() -> None:
    import re

    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_every_error_the_documentation_quotes_is_one_a_page_or_benchmark_wrote() -> None:
    """An error rate typed into the README or docs/ (``8.58%``) must stand in a generated page or a benchmark's
    results file, so a page regenerated from new records cannot leave a stale number behind in the prose."""
    import json
    import re

    def floats(value) -> list[float]:
        if isinstance(value, dict):
            return [x for v in value.values() for x in floats(v)]
        if isinstance(value, list):
            return [x for v in value for x in floats(v)]
        return [value] if isinstance(value, float) else []

    written = "\n".join(p.read_text() for p in (REPO / "reports").glob("*.md"))
    results = {
        f"{x:.2f}" for p in (REPO / "benchmarks" / "results").glob("*.json") for x in floats(json.loads(p.read_text()))
    }
    quoted = {
        page.name: re.findall(r"(?<![\d.])(\d{1,2}\.\d{2})%", page.read_text())
        for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    }
    assert sum(map(len, quoted.values())) > 50  # the check reads the numbers it is meant to
    unsourced = {
        name: sorted({n for n in numbers if n not in written and n not in results}) for name, numbers in quoted.items()
    }
    unsourced = {name: numbers for name, numbers in unsourced.items() if numbers}
    assert not unsourced, f"errors quoted with no page or benchmark behind them: {unsourced}"
