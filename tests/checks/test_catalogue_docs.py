"""docs/checks.md is the generated catalogue, never edited by hand."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from audit.checks import CATALOGUE
from audit.checks.catalogue_docs import catalogue_markdown
from audit.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_docs_match_the_catalogue() -> None:
    # Regenerate with: python -m audit checks --format markdown > docs/checks.md
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown() + "\n"


def test_the_cli_prints_the_same_markdown() -> None:
    printed = CliRunner().invoke(app, ["checks", "--format", "markdown"])
    assert printed.exit_code == 0 and printed.output == catalogue_markdown() + "\n"


def test_every_check_is_documented() -> None:
    text = catalogue_markdown()
    assert all(f"### {c.spec.versioned_id} — " in text for c in CATALOGUE)
