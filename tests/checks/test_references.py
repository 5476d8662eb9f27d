"""Every reference is one an auditor can follow: a cited source document or a titled public page."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from audit.checks import SPECS
from audit.checks.catalogue_docs import catalogue_markdown
from audit.checks.references import MSSP_ACCESS, SOURCE_DOCUMENTS, XDR_MULTI_TENANT
from audit.cli import app

PAGE = re.compile(r"^(?P<title>[^,\s][^\n]*?), (?P<url>https://[^\s,]+)$")
# Internal files and our own notes: never something a reader of the report can open. ("seed" in lower
# case still appears in some rationales as a word; "Seed:" was the old citation prefix.)
INTERNAL = re.compile(r"Seed:|(?i:graph-api|stack-notes|README|DESIGN\.md|/work/|\bseeds/|reference note)")


def kind(reference: str) -> str:
    if any(reference.startswith(document.citation) for document in SOURCE_DOCUMENTS):
        return "document"
    match = PAGE.match(reference)
    return "page" if match and match["title"].strip() else "unfollowable"


@pytest.mark.parametrize("check_id", sorted(SPECS))
def test_every_check_has_references_an_auditor_can_follow(check_id: str) -> None:
    references = SPECS[check_id].references
    assert references, f"{check_id} has no reference"
    assert {r: kind(r) for r in references if kind(r) == "unfollowable"} == {}
    assert not any(INTERNAL.search(r) for r in references)


def test_source_documents_carry_title_publisher_and_date() -> None:
    for document in SOURCE_DOCUMENTS:
        assert document.title and document.publisher and document.date
        assert document.url.startswith("https://")
    assert MSSP_ACCESS.title == "Multi-tenant access for Managed Security Service Providers"
    assert MSSP_ACCESS.date.startswith("20 Jul 2020") and "Tech Community" in MSSP_ACCESS.publisher
    assert XDR_MULTI_TENANT.publisher.startswith("Harri Jaakkonen")
    assert XDR_MULTI_TENANT.date == "n.d."          # the post carries no date we could verify


def test_a_section_reference_names_the_document_and_the_section() -> None:
    cited = MSSP_ACCESS.section("Recommended Best Practices — Guest Lifecycle", "Remove automated signin block")
    assert cited.startswith(MSSP_ACCESS.citation)
    assert cited.endswith("— § Recommended Best Practices — Guest Lifecycle: 'Remove automated signin block'")


def test_graph_is_cited_by_its_public_documentation_page() -> None:
    graph = [r for spec in SPECS.values() for r in spec.references if "Graph" in r.split(",")[0]]
    assert graph
    for reference in graph:
        assert PAGE.match(reference)["url"].startswith("https://learn.microsoft.com/graph/")


def test_both_source_documents_are_cited_somewhere() -> None:
    cited = [r for spec in SPECS.values() for r in spec.references]
    for document in SOURCE_DOCUMENTS:
        assert any(r.startswith(document.citation) for r in cited), document.title


def test_the_rendered_catalogue_cites_no_internal_file() -> None:
    printed = CliRunner().invoke(app, ["checks", "--format", "json"])
    assert printed.exit_code == 0
    catalogue = json.loads(printed.output)
    assert not INTERNAL.search(printed.output)
    assert all(entry["references"] and entry["frameworks"] for entry in catalogue)
    assert all(f["title"] for entry in catalogue for f in entry["frameworks"])
    assert not INTERNAL.search(catalogue_markdown())
