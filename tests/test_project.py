"""The project's promises about itself: the README's test command is what CI runs; the citation file is valid."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_as_written() -> None:
    ci_command = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command.endswith("python -m pytest")
    assert f"    {ci_command}\n" in (REPO / "README.md").read_text()


def test_citation_file_cites_the_paper() -> None:
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    paper = citation["preferred-citation"]
    assert paper["title"] == "Deep Residual Learning for Image Recognition"
    assert [a["family-names"] for a in paper["authors"]] == ["He", "Zhang", "Ren", "Sun"]


def test_readme_states_the_paper_presets_interpretations_as_the_reports_do() -> None:
    from lightning_resnet.paper import interpretations_table

    readme = (REPO / "README.md").read_text()
    assert "\n".join(interpretations_table()) in readme
