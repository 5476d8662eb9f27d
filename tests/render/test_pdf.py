"""The customer PDF, read back with pypdf: text, footer, contents, bookmarks, hostile input."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from audit.render import pdf as pdf_module
from audit.render.pdf import FULL_BLOCK_STATUSES, PdfOptions, render_customer_html, render_customer_pdf
from audit.render.viewmodel import CustomerReport

from . import factories


def _text(reader: PdfReader) -> list[str]:
    # Bidi isolates and soft break characters are layout, not content.
    return [(page.extract_text() or "").replace("\u2068", "").replace("\u2069", "") for page in reader.pages]


def _flat(text: str) -> str:
    return " ".join(text.split())


def _outline_titles(items: list[Any], depth: int = 0) -> list[tuple[int, str]]:
    titles: list[tuple[int, str]] = []
    for item in items:
        if isinstance(item, list):
            titles += _outline_titles(item, depth + 1)
        else:
            titles.append((depth, item.title))
    return titles


@dataclass(frozen=True)
class Rendered:
    reader: PdfReader
    pages: list[str]        # extracted once: pypdf takes seconds per pass


def _render(report: CustomerReport, path: Path) -> Rendered:
    reader = PdfReader(render_customer_pdf(report, path))
    return Rendered(reader, _text(reader))


@pytest.fixture(scope="module")
def normal(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(factories.customer_report(), tmp_path_factory.mktemp("pdf") / "contoso.pdf")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return _render(factories.customer_report(hostile=True), tmp_path_factory.mktemp("pdf") / "hostile.pdf")


def test_the_report_names_the_customer_and_every_check(normal: Rendered) -> None:
    text = _flat(" ".join(normal.pages))
    assert len(normal.pages) > 1
    assert "Contoso Pharmaceuticals Ltd" in text
    assert "Delegated-access audit" in text
    assert factories.RUN_ID in text and factories.TENANT_ID in text
    findings = factories.findings(hostile=False)
    # Findings that need attention in full (requirement, summary); the others one line each, by title.
    for finding in findings:
        assert finding.title in text
        if finding.status in FULL_BLOCK_STATUSES:
            assert finding.requirement in text and finding.summary in text
    assert {f.status for f in findings} - FULL_BLOCK_STATUSES, "the brief table is exercised too"
    assert "Only HTTP GET requests were made" in text
    assert "showing 10 of 260 — all 260 rows: workbook sheet 'Evidence', filter Check = EM-004.v1" in text


def test_every_page_has_the_page_n_of_m_footer(normal: Rendered) -> None:
    pages = normal.pages
    for number, text in enumerate(pages, 1):
        assert f"page {number} of {len(pages)}" in text
    assert f"page 1 of {len(pages)}" in pages[0]


def test_contents_point_at_the_pages_that_hold_the_sections(normal: Rendered) -> None:
    pages = normal.pages
    contents = next(p for p in pages if "Contents" in p)
    for heading in ("Executive summary", "Methodology and provenance"):
        match = re.search(re.escape(heading) + r"[ .]*?(\d+)\s*$", contents, re.MULTILINE)
        assert match, f"no page number after {heading!r} in the contents"
        target = pages[int(match.group(1)) - 1]
        assert heading in target


def test_bookmarks_cover_sections_and_findings(normal: Rendered) -> None:
    titles = _outline_titles(normal.reader.outline)
    top = [t for depth, t in titles if depth == 0]
    assert top == ["Executive summary", "Changes since the previous run", "Findings", "Methodology and provenance"]
    nested = " ".join(t for depth, t in titles if depth > 0)
    for finding in factories.findings(hostile=False):
        assert finding.versioned_id in nested


def test_the_pdf_is_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    def broken(self: object, target: Path, **_: object) -> None:
        Path(target).write_bytes(b"%PDF-1.7 half")
        raise RuntimeError("layout failed")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", broken)
    with pytest.raises(RuntimeError):
        render_customer_pdf(factories.customer_report(guests=3), tmp_path / "x.pdf")
    assert list(tmp_path.iterdir()) == []


def test_hostile_text_is_printed_not_interpreted(hostile: Rendered) -> None:
    text = _flat(" ".join(hostile.pages))
    assert "<script>alert(1)</script>" in text
    assert '=HYPERLINK("http://x","y")' in text
    assert "../../etc/passwd" in text
    assert "\x07" not in text
    assert "shortened from" in text           # the 10,000-character name is cut, not laid out whole
    assert 1 < len(hostile.pages) < 40
    footer = hostile.pages[1]
    assert f"page 2 of {len(hostile.pages)}" in footer


def test_hostile_html_is_escaped_everywhere() -> None:
    html = render_customer_html(factories.customer_report(hostile=True))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x07" not in html


def test_an_unreachable_tenant_says_so(tmp_path: Path) -> None:
    report = factories.customer_report(token_ok=False)
    html = render_customer_html(report)
    assert "The tenant could not be reached" in html
    assert "AADSTS7000215" in html
    assert ">n/a<" in html


def test_summary_counts_every_status_and_draws_a_vector_chart() -> None:
    html = render_customer_html(factories.customer_report())
    for status in ("PASS", "FAIL", "WARN", "ERROR", "NOT_APPLICABLE", "MANUAL", "ATTESTED", "ACCEPTED"):
        assert f">{status}<" in html
    assert "<svg" in html and "<rect" in html
    assert "<img" not in html and "<script" not in html


def test_by_default_the_evidence_tables_are_listed_with_their_row_counts_not_printed() -> None:
    report = factories.customer_report(guests=120)
    context = pdf_module.build_context(report)
    assert context["appendix"] == []
    assert [(row.title, row.rows) for row in context["inventory"]] == [
        (t.title, max(t.total or 0, len(t.rows))) for t in report.appendix]
    html = render_customer_html(report)
    inventory = _flat(html[html.index('id="evidence-tables"'):html.index("What was collected")])
    guests = report.appendix[0]
    assert f"{guests.title}</td>" in inventory and ">120<" in inventory
    assert 'id="appendix"' not in html


def test_the_appendix_when_asked_for_is_bounded_and_says_so(tmp_path: Path) -> None:
    options = PdfOptions(evidence_rows=5, appendix_rows=30)
    report = factories.customer_report(guests=80)
    context = pdf_module.build_context(report, options)
    guests = context["appendix"][0]
    assert len(guests.rows) == 30 and guests.total == 80
    assert all(len(f.evidence.rows) <= 5 for f in context["findings_full"])
    reader = PdfReader(render_customer_pdf(report, tmp_path / "appendix.pdf", options))
    text = _flat(" ".join(_text(reader)))
    assert "showing 30 of 80 — all 80 rows: workbook sheet 'Guest inventory'" in text
    assert "showing 5 of 260 — all 260 rows: workbook sheet 'Evidence', filter Check = EM-004.v1" in text
    top = [t for depth, t in _outline_titles(reader.outline) if depth == 0]
    assert top == ["Executive summary", "Changes since the previous run", "Findings", "Evidence appendix",
                   "Methodology and provenance"]


def test_the_pdf_is_pdf_a_3b_and_carries_the_evidence_byte_for_byte(normal: Rendered) -> None:
    reader = normal.reader
    assert dict(reader.attachments.items()) == {
        name: [content] for name, content in factories.ATTACHMENTS}
    xmp = reader.xmp_metadata
    assert xmp is not None and (xmp.pdfaid_part, xmp.pdfaid_conformance) == ("3", "B")
    root: Any = reader.trailer["/Root"]
    assert [i["/S"] for i in root["/OutputIntents"]] == ["/GTS_PDFA1"]
    associated = [f.get_object() for f in root["/AF"]]       # PDF/A-3: each embedded file tied to the document
    assert sorted((f["/UF"], f["/AFRelationship"]) for f in associated) == [
        ("manifest.json", "/Data"), ("results.json", "/Data")]
    assert len(reader.pages) == len(normal.pages) > 5 and reader.outline


def test_the_methodology_lists_the_attached_files_with_their_hashes(normal: Rendered) -> None:
    methodology = _flat(next(p for p in normal.pages if "Attached files" in p))
    assert "Attached to this PDF" in methodology and "manifest.json" in methodology
    html = render_customer_html(factories.customer_report())
    for name, content in factories.ATTACHMENTS:
        assert hashlib.sha256(content).hexdigest() in html and f">{name}<" in html
    bare = render_customer_html(replace(factories.customer_report(guests=3), attachments=()))
    assert "No files are attached to this PDF." in bare


def test_the_summary_draws_expiry_and_score_trend_as_vector_charts() -> None:
    html = render_customer_html(factories.customer_report())
    summary = html[html.index('id="summary"'):html.index('id="findings"')]
    assert summary.count("<svg") == 3 and "<polyline" in summary and "<image" not in summary
    for label, _ in factories.EXPIRY_BUCKETS:
        assert f">{label}<" in summary
    assert "27 delivered assignments of the MSSP access packages" in _flat(summary)
    assert "Gaps are runs without a score." in summary     # one past run has no score
    assert "Trend appears from the second run on." not in summary


def test_one_run_gives_a_note_instead_of_a_trend_and_missing_assignments_say_so() -> None:
    report = replace(factories.customer_report(guests=3), score_history=(("2025-01-14", 61.5),), expiry_buckets=())
    html = render_customer_html(report)
    summary = html[html.index('id="summary"'):html.index('id="findings"')]
    assert "Trend appears from the second run on." in summary and "<polyline" not in summary
    assert "the access-package assignments were not read in this run" in _flat(summary)
    assert summary.count("<svg") == 1                        # the severity chart only
    none_delivered = replace(report, expiry_buckets=tuple((label, 0) for label, _ in factories.EXPIRY_BUCKETS))
    assert "No assignment of the MSSP access packages is delivered." in render_customer_html(none_delivered)


def test_an_unreachable_tenant_is_not_called_all_clear() -> None:
    html = render_customer_html(factories.customer_report(token_ok=False))
    assert "No check failed, warned or ended in error." not in html


def test_an_unreachable_tenant_states_its_reason_once_not_on_every_result() -> None:
    report = factories.customer_report(token_ok=False)
    html = render_customer_html(report)
    reason = report.token_reason
    assert reason and html.count(reason) <= 2          # the summary's alert and the methodology's token line
    assert 'class="brief-reason"' not in html
    reachable = render_customer_html(factories.customer_report())
    assert 'class="brief-reason"' in reachable          # other results keep their own reasons
