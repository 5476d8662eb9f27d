"""Workbooks for the MSSP manager: one per customer, and the portfolio across customers.

Every sheet is written in write-only mode (rows stream to disk; memory stays flat on large
portfolios) as an Excel table with a frozen header. Tenant text only ever becomes string cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment

from audit.models import Severity, Status
from audit.render._xlsx_findings import (
    COUNT,
    FINDING_COLUMNS,
    FINDING_STATUS_COLUMN,
    TOP,
    WRAP,
    finding_values,
    status_highlighter,
)
from audit.render._xlsx_portfolio import (
    EXPIRY_BUCKET_COLUMN,
    EXPIRY_COLUMNS,
    EXPIRY_HIGHLIGHTS,
    expiry_values,
    sorted_expiry,
    write_portfolio_sheets,
)
from audit.render._xlsx_safe import CellStyle
from audit.render._xlsx_sheet import (
    Column,
    Highlight,
    SheetNames,
    TableSheetWriter,
    highlight_values,
    widths_for,
    write_only_workbook,
)
from audit.render.templates import ordered_keys
from audit.render.viewmodel import CustomerReport, PortfolioReport

__all__ = ["CustomerSheets", "customer_sheets", "write_customer_workbook", "write_portfolio_workbook"]

_LEFT = CellStyle(alignment=Alignment(horizontal="left", vertical="top"))
EVIDENCE_CHECK_COLUMN = "Check"


@dataclass(frozen=True)
class CustomerSheets:
    """The customer workbook's sheet names, known before it is written: the PDF names them."""

    summary: str
    findings: str
    evidence: str            # every evidence row of every result, filterable by check
    expiry: str
    changes: str
    provenance: str
    appendix: tuple[str, ...]    # one per evidence table of the report, in order


def customer_sheets(report: CustomerReport) -> CustomerSheets:
    """Fixed names first, so an evidence table titled "Summary" becomes "Summary (2)"."""
    names = SheetNames()
    fixed = [names.claim(name) for name in ("Summary", "Findings", "Evidence", "Expiry", "Changes", "Provenance")]
    return CustomerSheets(*fixed, appendix=tuple(names.claim(table.title) for table in report.appendix))


def _summary_sheet(writer: TableSheetWriter, report: CustomerReport) -> None:
    rows: list[tuple[str, Any]] = [
        ("Customer", report.customer),
        ("Tenant ID", report.tenant_id),
        ("Run ID", report.run_id),
        ("Evaluation", report.evaluation),
        ("Seal digest (SHA-256)", report.seal_digest),
        ("Results evaluated at (UTC)", report.evaluated_at),
        ("Evidence collected (UTC)", report.collected_at),
        ("Days left counted from (UTC)", report.evaluated_at),
        ("Report generated (UTC)", report.generated_at),
        ("Tool version", report.tool_version),
        ("Score (0-100)", report.score if report.score is not None else "n/a"),
        ("Token obtained", "yes" if report.token_ok else "no"),
        ("Token failure reason", report.token_reason),
        ("Tenant manifest SHA-256", report.manifest_sha256),
        ("Granted permissions", ", ".join(report.granted_permissions)),
        ("Requests made", "GET only (including GETs carried in $batch)"),
    ]
    rows += [(f"Results {s}", report.status_counts.get(s, 0))
             for s in ordered_keys(report.status_counts, [s.value for s in Status])]
    rows += [(f"FAIL + WARN {s}", report.failed_by_severity.get(s, 0))
             for s in ordered_keys(report.failed_by_severity, [s.value for s in Severity])]
    for item, value in rows:
        writer.append([item, value])
    writer.close()


def _findings_sheet(writer: TableSheetWriter, report: CustomerReport) -> None:
    for finding in report.findings:
        writer.append(finding_values(finding))
    writer.close()


def _evidence_writer(wb: Workbook, names: SheetNames, title: str, report: CustomerReport) -> TableSheetWriter:
    """One table for the evidence of every result: a check's rows differ in their columns, so each
    row carries (field, value) pairs; filtering the Check column gives one result's rows, all of them."""
    pairs = max((len(f.evidence.columns) for f in report.findings if f.evidence.rows), default=1)
    columns = [Column(EVIDENCE_CHECK_COLUMN, 12, TOP), Column("Status", 15, TOP), Column("Row", 7, COUNT)]
    for n in range(1, pairs + 1):    # not wrapped: a long value is cut at the cell's edge, never drawn over the next row
        columns += [Column(f"Field {n}", 20, TOP), Column(f"Value {n}", 34, TOP)]
    return TableSheetWriter(wb, names, title, columns, decorate=status_highlighter(2))


def _evidence_sheet(writer: TableSheetWriter, report: CustomerReport) -> None:
    width = len(writer.columns)
    for finding in report.findings:
        for number, row in enumerate(finding.evidence.rows, 1):
            values: list[Any] = [finding.versioned_id, finding.status, number]
            for column, value in zip(finding.evidence.columns, row, strict=True):
                values += [column, value]
            writer.append(values + [None] * (width - len(values)))
    writer.close()


def _expiry_sheet(wb: Workbook, names: SheetNames, title: str, report: CustomerReport) -> None:
    def decorate(ws: Any, first: int, last: int) -> None:
        highlight_values(ws, EXPIRY_BUCKET_COLUMN, first, last, EXPIRY_HIGHLIGHTS)

    preamble = ["What ends, and when",
                "Days left and bucket are counted from 'Evaluated at', the instant the results were evaluated."]
    writer = TableSheetWriter(wb, names, title, EXPIRY_COLUMNS, preamble=preamble, decorate=decorate)
    for row in sorted_expiry(report.expiry):
        writer.append(expiry_values(row))
    writer.close()


def _appendix_sheets(wb: Workbook, names: SheetNames, titles: tuple[str, ...], report: CustomerReport) -> None:
    for table, title in zip(report.appendix, titles, strict=True):
        widths = widths_for(table.columns, table.rows)
        columns = [Column(header, width, TOP) for header, width in zip(table.columns, widths, strict=True)]
        preamble = [table.title, f"Source: {table.source}" if table.source else "Source: not recorded"]
        if table.truncated:
            preamble.append(f"Showing {len(table.rows):,} of {table.total:,} rows.")
        writer = TableSheetWriter(wb, names, title, columns, preamble=preamble)
        for row in table.rows:
            writer.append(row)
        writer.close()


def _provenance_writer(wb: Workbook, names: SheetNames, title: str) -> TableSheetWriter:
    columns = (
        Column("Resource", 26, TOP),
        Column("Endpoint", 60, TOP),
        Column("Status", 14, TOP),
        Column("Reason", 40, WRAP),
        Column("Items", 10, COUNT),
        Column("Requests", 10, COUNT),
        Column("SHA-256", 68, TOP),
        Column("Refused request", 60, TOP),     # the fuller request Graph refused before Endpoint was read
        Column("Why refused", 40, WRAP),
    )

    def decorate(ws: Any, first: int, last: int) -> None:
        highlight_values(ws, 3, first, last, (Highlight("ok", "D1FADF", "05603A"),))

    return TableSheetWriter(wb, names, title, columns, decorate=decorate)


def _provenance_sheet(writer: TableSheetWriter, report: CustomerReport) -> None:
    for r in report.resources:
        writer.append([r.name, r.endpoint, r.status, r.reason, r.items, r.requests, r.sha256, r.refused_endpoint,
                       r.refused_reason])
    writer.close()


def write_customer_workbook(report: CustomerReport, path: Path) -> Path:
    """Summary, Findings, Evidence, Expiry, Changes, one sheet per evidence table, Provenance; written
    atomically to `path`."""
    with write_only_workbook(path) as wb:
        _customer_sheets(wb, report)
    return path


def _customer_sheets(wb: Workbook, report: CustomerReport) -> None:
    # The names the PDF refers to (customer_sheets), claimed as they are: valid and unique already.
    sheets = customer_sheets(report)
    names = SheetNames()
    summary = TableSheetWriter(wb, names, sheets.summary, (Column("Item", 30, TOP), Column("Value", 80, _LEFT)),
                               landscape=False)
    findings = TableSheetWriter(wb, names, sheets.findings, FINDING_COLUMNS,
                                decorate=status_highlighter(FINDING_STATUS_COLUMN))
    evidence = _evidence_writer(wb, names, sheets.evidence, report)
    provenance = _provenance_writer(wb, names, sheets.provenance)
    _summary_sheet(summary, report)
    _findings_sheet(findings, report)
    _evidence_sheet(evidence, report)
    _expiry_sheet(wb, names, sheets.expiry, report)
    _changes_sheet(wb, names, sheets.changes, report)
    _appendix_sheets(wb, names, sheets.appendix, report)
    _provenance_sheet(provenance, report)


def _changes_sheet(wb: Workbook, names: SheetNames, title: str, report: CustomerReport) -> None:
    """Drift since the previous run; on a first run the sheet says so instead of staying empty."""
    columns = [Column("Change", 22, TOP), Column("Subject", 60, TOP), Column("Detail", 50, WRAP)]
    if report.changes is None:
        preamble = ["Changes since the previous run", "This is the first stored run for this customer."]
        rows: tuple[tuple[object, ...], ...] = ()
    else:
        preamble = ["Changes since the previous run", f"Compared with run {report.previous_run}."]
        rows = report.changes.rows
    writer = TableSheetWriter(wb, names, title, columns, preamble=preamble)
    for row in rows:
        writer.append(row)
    writer.close()


def write_portfolio_workbook(portfolio: PortfolioReport, path: Path) -> Path:
    """Summary, Licences, Expiry, Findings, Errors across all customers; written atomically to `path`."""
    with write_only_workbook(path) as wb:
        write_portfolio_sheets(wb, SheetNames(), portfolio)
    return path
