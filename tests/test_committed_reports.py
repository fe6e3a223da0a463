"""Every committed report regenerates from the committed run records: the same Markdown, the same figure bytes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightning_resnet.reporting import build_report

REPORTS = Path(__file__).resolve().parents[1] / "reports"
PAGES = sorted(p for p in REPORTS.glob("*.md") if p.name != "README.md")


def command_of(page: Path) -> tuple[str, str | None]:
    """The id and preset of the `report` command the page says made it."""
    match = re.search(r"python -m lightning_resnet report ([\w-]+)(?: --preset (\w+))?`", page.read_text())
    assert match, f"{page.name} does not say which command generated it"
    return match[1], match[2]


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_committed_page_regenerates_from_committed_records(page: Path, tmp_path: Path) -> None:
    report_id, preset = command_of(page)
    regenerated, _ = build_report(report_id, REPORTS / "records", tmp_path, preset=preset)
    assert regenerated.name == page.name
    assert regenerated.read_text() == page.read_text()
    figures = re.findall(r"\]\((figures/[^)]+\.png)\)", page.read_text())
    for figure in figures:
        assert (tmp_path / figure).read_bytes() == (REPORTS / figure).read_bytes(), f"{figure} differs"


def test_every_committed_figure_belongs_to_a_page() -> None:
    used = {f for page in PAGES for f in re.findall(r"\]\((figures/[^)]+\.png)\)", page.read_text())}
    assert {f"figures/{p.name}" for p in (REPORTS / "figures").glob("*.png")} == used


def test_committed_index_is_what_the_committed_pages_and_records_give(tmp_path: Path) -> None:
    import shutil

    from lightning_resnet.reporting import write_index

    for page in PAGES:
        shutil.copy(page, tmp_path / page.name)
    shutil.copytree(REPORTS / "records", tmp_path / "records")
    assert write_index(tmp_path).read_text() == (REPORTS / "README.md").read_text()
