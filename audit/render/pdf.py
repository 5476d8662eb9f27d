"""The per-customer PDF for the auditor: Jinja2 HTML + CSS, laid out by WeasyPrint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.gc_policy import fewer_collections
from audit.models import Severity, Status
from audit.render._charts import expiry_chart, severity_chart, trend_chart
from audit.render.excel import customer_sheets
from audit.render.filenames import atomic_output
from audit.render.templates import longest_unbroken, make_environment, ordered_keys, templates_dir
from audit.render.viewmodel import CustomerReport, FindingView, Table

if TYPE_CHECKING:
    from jinja2 import Template
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

TEMPLATE = "customer.html"
STYLESHEET = "report.css"
PRODUCT_NAME = "mssp-audit"

MAX_CHANGE_ROWS = 200
# Characters of 7.5 pt text across the text column: A4 portrait, and landscape (the appendix).
PORTRAIT_BUDGET = 125.0
LANDSCAPE_BUDGET = 190.0
SHORT_COLUMN_CHARS = 24   # "2025-01-14 02:03 UTC" plus padding fits

# Results that need the auditor's attention get the full block; the rest one table row each.
FULL_BLOCK_STATUSES = frozenset({Status.FAIL.value, Status.WARN.value, Status.ERROR.value})

# PDF/A-3 (ISO 19005-3) is the archival PDF that may carry embedded files of any type: the report
# travels with the evidence manifest and results it was drawn from. Level B: appearance is preserved.
PDF_VARIANT = "pdf/a-3b"
ATTACHMENT_DESCRIPTIONS: Mapping[str, str] = {
    "manifest.json": "Tenant evidence manifest: per resource the endpoint, status, counts and SHA-256 of the raw "
                     "Graph responses",
    "results.json": "Check results of this run, with their evidence rows",
}
TREND_MIN_POINTS = 2


@dataclass(frozen=True)
class PdfOptions:
    """How much of each table the PDF shows; the workbook, written from the same view-model, has every row.

    WeasyPrint lays out ~0.25 s per dense page (BENCHMARKS.md), so the auditor's PDF stays short by
    default: each finding with its first `evidence_rows` rows, and the evidence tables listed with
    their row counts. `appendix_rows` > 0 adds a landscape appendix with that many rows per table.
    """

    evidence_rows: int = 10
    appendix_rows: int = 0


DEFAULT_PDF_OPTIONS = PdfOptions()


@dataclass(frozen=True)
class InventoryRow:
    title: str
    source: str | None
    rows: int
    sheet: str           # the customer workbook's sheet that holds every row


@dataclass(frozen=True)
class AttachedFile:
    name: str
    size: int
    sha256: str


def attached_files(report: CustomerReport) -> list[AttachedFile]:
    return [AttachedFile(name, len(content), hashlib.sha256(content).hexdigest())
            for name, content in report.attachments]


def bounded(table: Table, limit: int) -> Table:
    """The first `limit` rows, with `total` kept so the PDF can say what was left out."""
    if len(table.rows) <= limit:
        return table
    return replace(table, rows=table.rows[:limit], total=table.row_count)


def _text_need(value: Any) -> int:
    """Characters a cell wants on one line (dates print as `YYYY-MM-DD HH:MM UTC`)."""
    if value is None:
        return 1
    if hasattr(value, "isoformat"):
        return 20
    return len(str(value))


def column_widths(table: Table, *, sample: int = 50, budget: float = PORTRAIT_BUDGET) -> list[float]:
    """Percent widths for a fixed-layout table: short columns (dates, flags, names) stay on one line,
    long ones (UPNs, ids, free text) share what is left and wrap — each keeping at least the width of
    its longest unbreakable run (templates.longest_unbroken), so a word is not cut at a random letter.

    Fixed layout because WeasyPrint's automatic layout measures every wrap opportunity of every
    cell, which is very slow for long tenant strings.
    """
    if not table.columns:
        return []
    cap = int(budget / 3)
    needs = [max((len(word) for word in str(h).split()), default=1) * 1.5 for h in table.columns]
    floors = list(needs)
    for row in table.rows[:sample]:
        for index, value in enumerate(row[: len(needs)]):
            needs[index] = max(needs[index], float(min(_text_need(value), cap)))
            if isinstance(value, str):
                floors[index] = max(floors[index], float(min(longest_unbroken(value), cap)))
    needs = [n + 2 for n in needs]   # cell padding
    floors = [min(f + 2, n) for f, n in zip(floors, needs, strict=True)]
    widths = list(needs)
    if sum(needs) > budget:
        short = [i for i, n in enumerate(needs) if n <= SHORT_COLUMN_CHARS]
        long = [i for i, n in enumerate(needs) if n > SHORT_COLUMN_CHARS]
        short_total = sum(needs[i] for i in short)
        if long and short_total <= 0.8 * budget:
            room = budget - short_total
            floor_total = sum(floors[i] for i in long)
            if floor_total <= room:      # every long column gets its floor, the rest shared by what each wants more
                spare = sum(needs[i] - floors[i] for i in long) or 1.0
                for i in long:
                    widths[i] = floors[i] + (room - floor_total) * (needs[i] - floors[i]) / spare
            else:
                long_total = sum(needs[i] for i in long)
                for i in long:
                    widths[i] = room * needs[i] / long_total
        else:
            widths = [budget / len(needs)] * len(needs)
    total = sum(widths)
    return [round(100 * w / total, 2) for w in widths]


def status_class(status: str) -> str:
    return "status-" + "".join(ch for ch in status.lower() if ch.isalnum() or ch == "_")


def _bounded_finding(finding: FindingView, rows: int) -> FindingView:
    return replace(finding, evidence=bounded(finding.evidence, rows))


def build_context(report: CustomerReport, options: PdfOptions = DEFAULT_PDF_OPTIONS, *,
                  link_stylesheet: bool = True) -> dict[str, Any]:
    findings = tuple(_bounded_finding(f, options.evidence_rows) for f in report.findings)
    sheets = customer_sheets(report)
    return {
        "product": PRODUCT_NAME,
        "link_stylesheet": link_stylesheet,
        "report": report,
        # An unreachable tenant errs on every check for one reason, said once in the summary box:
        # forty full ERROR blocks repeating it would bury that reason, so they go in the brief table.
        "findings_full": [f for f in findings if f.status in FULL_BLOCK_STATUSES and report.token_ok],
        "findings_brief": [f for f in findings if f.status not in FULL_BLOCK_STATUSES or not report.token_ok],
        "appendix": [bounded(t, options.appendix_rows) for t in report.appendix] if options.appendix_rows else [],
        "inventory": [InventoryRow(t.title, t.source, t.row_count, sheet)
                      for t, sheet in zip(report.appendix, sheets.appendix, strict=True)],
        "sheets": sheets,
        "unread": frozenset(report.unread),
        "changes": bounded(report.changes, MAX_CHANGE_ROWS) if report.changes is not None else None,
        "status_order": ordered_keys(report.status_counts, (s.value for s in Status)),
        "severity_order": ordered_keys(report.failed_by_severity, (s.value for s in Severity)),
        "chart": severity_chart(report.failed_by_severity),
        "expiry_chart": expiry_chart(report.expiry_buckets) if report.expiry_buckets else None,
        "trend_chart": trend_chart(report.score_history) if len(report.score_history) >= TREND_MIN_POINTS else None,
        "attachments": attached_files(report),
        "status_class": status_class,
        "column_widths": column_widths,
        "max_table_rows": options.appendix_rows,
        "wide_budget": LANDSCAPE_BUDGET,
    }


@cache
def _template() -> Template:
    """Compiled once per process: compiling the report template costs more than rendering it."""
    return make_environment().get_template(TEMPLATE)


@cache
def _stylesheet() -> tuple[CSS, FontConfiguration]:
    """report.css parsed once per process, with the font configuration it and every render share."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return CSS(filename=str(templates_dir() / STYLESHEET), font_config=fonts), fonts


def render_customer_html(report: CustomerReport, options: PdfOptions = DEFAULT_PDF_OPTIONS, *,
                         link_stylesheet: bool = True) -> str:
    """The HTML handed to WeasyPrint; exposed so tests can look at it without laying out a PDF.

    With `link_stylesheet` it links report.css and stands on its own; the PDF renderer passes the
    parsed stylesheet instead.
    """
    return _template().render(build_context(report, options, link_stylesheet=link_stylesheet))


def render_customer_pdf(report: CustomerReport, path: Path, options: PdfOptions = DEFAULT_PDF_OPTIONS) -> Path:
    """Write the customer's audit report to `path` atomically and return `path`."""
    # Parsing and laying out the report allocate millions of short-lived objects; its box tree is
    # cyclic garbage afterwards, freed at once so that a render worker's memory stays flat.
    with fewer_collections(collect_after=True):
        _write_pdf(report, path, options)
    return path


def _write_pdf(report: CustomerReport, path: Path, options: PdfOptions) -> None:
    # Imported here: WeasyPrint loads pango/harfbuzz on import, which workbook-only callers never need.
    from weasyprint import HTML, Attachment

    html = render_customer_html(report, options, link_stylesheet=False)
    stylesheet, fonts = _stylesheet()
    document = HTML(string=html, base_url=str(templates_dir()) + "/")
    # "Data": the files the report's tables and figures were derived from (ISO 32000-2, 7.11.3).
    attachments = [Attachment(string=content, name=name, description=ATTACHMENT_DESCRIPTIONS.get(name, ""),
                              created=report.generated_at, modified=report.generated_at, relationship="Data")
                   for name, content in report.attachments]
    with atomic_output(path) as tmp:
        document.write_pdf(tmp, stylesheets=[stylesheet], font_config=fonts, pdf_variant=PDF_VARIANT,
                           attachments=attachments, finisher=_unique_associated_files)


def _unique_associated_files(_document: object, pdf: Any) -> None:
    """WeasyPrint 70 lists every attachment twice in the catalog's /AF array; one entry each is meant."""
    files = pdf.catalog.get("AF")
    if files:
        files[:] = list(dict.fromkeys(files))
