"""What the PDF states is true and says what it rests on: when it stands, what each result was
measured on, where every row is; and it is laid out so that nothing is cut where it cannot be read."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from audit.models import Population
from audit.render.pdf import render_customer_html, render_customer_pdf
from audit.render.templates import ZERO_WIDTH_SPACE
from audit.render.viewmodel import CustomerReport, ResourceView, Table

from . import factories

ENUMS = ("allConfiguredConnectedOrganizationUsers", "specificConnectedOrganizationUsers", "allExternalUsers")
PARTNER_SHA = "9ad9be543407a983" * 4


def _pages(path: Path) -> list[str]:
    return [(p.extract_text() or "").replace("\u2068", "").replace("\u2069", "") for p in PdfReader(path).pages]


def _flat(text: str) -> str:
    return " ".join(text.replace(ZERO_WIDTH_SPACE, "").split())


def _with_populations(report: CustomerReport) -> CustomerReport:
    """Every result with a population, as the checks give every PASS one."""
    findings = tuple(f if f.population else replace(f, population=Population(f"{f.check_id} items", 7, 7, "conform"))
                     for f in report.findings)
    return replace(report, findings=findings)


@pytest.fixture(scope="module")
def what_if(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A report evaluated as of a later date than its evidence (--as-of), with an enum-heavy table and a
    partner resource whose full hash is shown."""
    report = _with_populations(factories.customer_report(guests=3))
    policies = Table("Evidence", ("package", "policy", "allowedTargetScope", "targets", "compliant"), tuple(
        (f"Tier {n} Analyst", f"Tier {n} Analyst - MSSP analysts", ENUMS[n % 3],
         "connectedOrganizationMembers:1b75a8ab-25bb-42fc-a64c-09eae9583a88", n % 2 == 0) for n in range(6)))
    findings = (replace(report.findings[0], evidence=policies), *report.findings[1:])
    resources = (*report.resources, ResourceView("gdap_access_assignments", "tenantRelationships/x", "ok", "", 6, 10,
                                                 PARTNER_SHA, partner=True))
    report = replace(report, findings=findings, resources=resources,
                     evaluated_at=factories.COLLECTED_AT + timedelta(days=30))
    return _pages(render_customer_pdf(report, tmp_path_factory.mktemp("pdf") / "what-if.pdf"))


def test_the_cover_and_every_header_state_when_the_results_were_evaluated_and_the_evidence_collected(
        what_if: list[str]) -> None:
    cover = _flat(what_if[0])
    assert "Results evaluated as of 2025-02-13 02:03:11 UTC (a date given for the evaluation, not the collection " \
           "time" in cover
    assert "Evidence collected 2025-01-14 02:03:11 UTC" in cover
    assert "Report generated 2025-01-14 02:41 UTC (when this file was written" in cover
    for number, page in enumerate(what_if[1:], 2):
        flat = _flat(page)
        assert "Evaluated as of 2025-02-13 02:03 UTC · evidence collected 2025-01-14 02:03 UTC" in flat, number
        assert factories.RUN_ID in flat, number


def test_days_left_in_the_summary_are_counted_from_the_evaluation_instant() -> None:
    report = replace(factories.customer_report(guests=3), evaluated_at=factories.COLLECTED_AT + timedelta(days=30))
    summary = _flat(render_customer_html(report).split('id="findings"')[0])
    assert "by days left at 2025-02-13 02:03 UTC" in summary


def test_an_unreachable_tenant_says_collection_was_attempted_not_done() -> None:
    html = _flat(render_customer_html(factories.customer_report(token_ok=False)))
    assert "collection attempted 2025-01-14 02:03 UTC" in html
    assert "no access token was obtained, so nothing was read from this tenant" in html


def test_every_result_states_its_population(what_if: list[str]) -> None:
    text = _flat(" ".join(what_if))
    report = _with_populations(factories.customer_report(guests=3))
    for finding in report.findings:
        assert finding.population is not None
        assert finding.population.text in text, finding.check_id
    assert "Measured on 40 of 300 delivered MSSP assignments expire within 365 days" in text


def test_a_missing_population_prints_nothing_rather_than_something_untrue() -> None:
    html = render_customer_html(factories.customer_report(guests=3))
    assert html.count('class="brief-population"') == sum(
        1 for f in factories.findings(hostile=False) if f.population and f.status not in ("FAIL", "WARN", "ERROR"))


def test_the_changes_of_a_first_run_are_a_line_of_the_summary_not_a_page(what_if: list[str]) -> None:
    summary = next(_flat(p) for p in what_if if "Executive summary" in p and "Contents" not in p)
    assert "Changes since the previous run: none to list — this is the first stored run for this customer." in summary
    assert not any(_flat(p).count("Changes since the previous run") and len(_flat(p)) < 400 for p in what_if)
    unchanged = render_customer_html(replace(factories.customer_report(guests=3), previous_run="20250113T020000Z-x",
                                             changes=Table("Changes", ("Change", "Subject", "Detail"), ())))
    assert "none — nothing changed since run" in _flat(unchanged) and '<section class="chapter" id="changes">' \
        not in unchanged
    changed = render_customer_html(replace(
        factories.customer_report(guests=3), previous_run="20250113T020000Z-x",
        changes=Table("Changes", ("Change", "Subject", "Detail"), (("guest added", "a-new@soc.example", ""),))))
    assert '<section class="chapter" id="changes">' in changed


def test_enum_values_wrap_only_before_their_capitals(what_if: list[str]) -> None:
    text = "\n".join(what_if)
    for enum in ENUMS:
        # The value as printed, with whatever line breaks the layout put into it.
        pattern = r"[\s\u200b]*".join(map(re.escape, enum))
        found = re.findall(pattern, text)
        assert found, enum
        for printed in found:
            for piece in re.split(r"[\s\u200b]+", printed)[1:]:
                assert piece[:1].isupper(), (enum, printed)


def test_a_full_hash_is_printed_on_one_line(what_if: list[str]) -> None:
    assert any(PARTNER_SHA in page for page in what_if)
