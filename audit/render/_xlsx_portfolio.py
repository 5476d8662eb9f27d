"""The portfolio workbook's sheets: Summary, Licences, Expiry, Findings, Errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Side
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.datavalidation import DataValidation

from audit import expiry
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
from audit.render._xlsx_safe import (
    NOTE_STYLE,
    TITLE_STYLE,
    CellStyle,
    file_link_cell,
    font,
    formula_cell,
    text_cell,
    value_cell,
)
from audit.render._xlsx_sheet import (
    Column,
    Highlight,
    SheetNames,
    TableSheetWriter,
    append_note,
    highlight_values,
)
from audit.render.viewmodel import STATUS_ORDER, ExpiryRow, FindingView, LicenceRow, PortfolioReport

# Licences: the seed's sizing, "(analysts(current) + proj additional (12 month)) × 1.5" guest
# accounts and "1 AAD P2 licence per every 5 MSSP soc analyst accounts" (20 + 20 → 60 → 12).
GUEST_FACTOR = 1.5
GUESTS_PER_P2 = 5

# Excel's own "Input" and "Calculation" cell styles: a manager sees at once which cells to edit.
_INPUT = CellStyle(named="Input", number_format="#,##0")
_CALC = CellStyle(named="Calculation", number_format="#,##0.0")
_CALC_INT = CellStyle(named="Calculation", number_format="#,##0")
_CALC_TEXT = CellStyle(named="Calculation")
_VALUE = CellStyle(number_format="#,##0", alignment=Alignment(vertical="top"))
_TOTAL = CellStyle(font=font(bold=True), border=Border(top=Side(style="thin"), bottom=Side(style="double")),
                   number_format="#,##0.##")
_LINK = CellStyle(named="Hyperlink", alignment=Alignment(vertical="top"))
_NOTE_WRAP = CellStyle(font=font(italic=True, color="475467"), alignment=Alignment(wrap_text=True, vertical="top"))

LICENCE_HIGHLIGHTS = (
    Highlight("SHORT", "F9D0CC", "912018"),
    Highlight("RENEW", "FEF0C7", "93370D"),
    Highlight("OK", "D1FADF", "05603A"),
    Highlight("UNKNOWN", "EAECF0", "475467"),
)

# The buckets are audit.expiry's, as in the PDF's chart and the checks.
EXPIRY_HIGHLIGHTS = (
    Highlight(expiry.EXPIRED, "F9D0CC", "912018"),
    Highlight(expiry.label(7), "FDDCAB", "93370D"),
    Highlight(expiry.label(30), "FEF0C7", "93370D"),
    Highlight(expiry.label(90), "FEF7E0", "475467"),
    Highlight(expiry.NO_END, "EAECF0", "475467"),
)


def write_portfolio_sheets(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    _summary(wb, names, portfolio)
    _licences(wb, names, portfolio)
    _expiry(wb, names, portfolio)
    _findings(wb, names, portfolio)
    _errors(wb, names, portfolio)


def _status_keys(portfolio: PortfolioReport) -> list[str]:
    keys = [s.value for s in Status]
    for row in portfolio.customers:
        keys += [k for k in row.status_counts if k not in keys]
    return keys


def _summary(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    statuses = _status_keys(portfolio)
    columns = [
        Column("Customer", 36, TOP),
        Column("Tenant ID", 38, TOP),
        Column("Score", 8, CellStyle(number_format="0.0")),
        Column("Previous score", 10, CellStyle(number_format="0.0")),
        Column("Change", 9, CellStyle(number_format="+0.0;-0.0;0.0")),
        *(Column(status, max(7.0, len(status) + 3), COUNT) for status in statuses),
        # audit.models.tenant_errors: the same tenants as the console line, summary.json and `runs show`.
        Column("With errors", 11, TOP),
        Column("Why", 40, TOP),
        Column("Evaluated at (UTC)", 18, TOP),
        Column("Evidence collected (UTC)", 18, TOP),
        Column("PDF", 40, _LINK),        # links to the customer's files beside portfolio.xlsx
        Column("Workbook", 40, _LINK),
    ]
    errors_column = 6 + len(statuses)

    def decorate(ws: WriteOnlyWorksheet, first: int, last: int) -> None:
        highlight_values(ws, errors_column, first, last, (Highlight("yes", "F9D0CC", "912018"),))

    writer = TableSheetWriter(wb, names, "Summary", columns, decorate=decorate)
    for row in portfolio.customers:
        values = [
            row.customer,
            row.tenant_id,
            row.score,
            row.previous_score,
            (round(row.score - row.previous_score, 1)
             if row.score is not None and row.previous_score is not None else None),
            *(row.status_counts.get(status, 0) for status in statuses),
            "yes" if row.in_error else "no",
            "; ".join(row.errors) or None,
            row.evaluated_at,
            row.collected_at,
        ]
        writer.append_built(lambda ws, _r, values=values, row=row: [
            *(value_cell(ws, v, c.style) for v, c in zip(values, columns, strict=False)),
            file_link_cell(ws, row.pdf, _LINK, TOP),
            file_link_cell(ws, row.workbook, _LINK, TOP),
        ])
    ws = writer.close()[-1]
    ws.append([])
    with_errors = sum(row.in_error for row in portfolio.customers)
    for label, value in (
        ("Run ID", portfolio.run_id),
        ("Evidence collected (UTC)", portfolio.collected_at),
        ("Results evaluated at (UTC)", portfolio.evaluated_at),
        ("Days left counted from", "each customer's evaluation instant (Expiry sheet, column 'Evaluated at')"),
        ("Customers with errors", f"{with_errors} of {len(portfolio.customers)}: not reached, a check ended ERROR, "
                                  "a resource could not be read, or its evaluation or report failed"),
        ("Workbook generated (UTC)", portfolio.generated_at),
    ):
        ws.append([text_cell(ws, label, NOTE_STYLE), value_cell(ws, value)])


LICENCE_COLUMNS = (
    Column("Customer", 36, TOP),
    Column("Tenant ID", 38, TOP),
    Column("Current analysts", 12, _INPUT),
    Column("Projected growth (12 months)", 14, _INPUT),
    Column("Guest accounts", 11, _CALC),
    Column("P2 needed", 10, _CALC_INT),
    Column("P2 owned", 10, _VALUE),
    Column("P2 expiring (grace period)", 11, _VALUE),
    Column("P2 suspended or locked out", 11, _VALUE),
    Column("Gap (owned - needed)", 12, _CALC_INT),
    Column("Status", 20, _CALC_TEXT),     # wide enough for the total row's "12 short, 12 to renew"
    Column("Active guests, 30 days (MAU model)", 16, _VALUE),
)


def _licence_cells(row: LicenceRow) -> Callable[[WriteOnlyWorksheet, int], list[Any]]:
    """One customer's row: inputs as values, everything derived from them as a formula on row `r`."""
    styles = [c.style for c in LICENCE_COLUMNS]

    def build(ws: WriteOnlyWorksheet, r: int) -> list[Any]:
        return [
            value_cell(ws, row.customer, styles[0]),
            value_cell(ws, row.tenant_id, styles[1]),
            value_cell(ws, row.current_analysts, styles[2]),
            value_cell(ws, row.projected_growth, styles[3]),
            formula_cell(ws, f"=(C{r}+D{r})*{GUEST_FACTOR}", styles[4]),
            formula_cell(ws, f"=ROUNDUP(E{r}/{GUESTS_PER_P2},0)", styles[5]),
            value_cell(ws, row.p2_owned, styles[6]),
            value_cell(ws, row.p2_expiring, styles[7]),
            value_cell(ws, row.p2_not_owned, styles[8]),
            formula_cell(ws, f'=IF(G{r}="","",G{r}-F{r})', styles[9]),
            # RENEW: short on owned units, covered once the expiring ones are renewed.
            formula_cell(ws, f'=IF(G{r}="","UNKNOWN",IF(J{r}>=0,"OK",IF(G{r}+H{r}>=F{r},"RENEW","SHORT")))',
                         styles[10]),
            value_cell(ws, row.guests_active_30d, styles[11]),
        ]

    return build


def _licences(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    def decorate(ws: WriteOnlyWorksheet, first: int, last: int) -> None:
        highlight_values(ws, 11, first, last, LICENCE_HIGHLIGHTS)
        inputs = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                showErrorMessage=True, error="A whole number of analysts, 0 or more.")
        inputs.add(f"C{first}:D{last}")
        ws.data_validations.append(inputs)

    writer = TableSheetWriter(wb, names, "Licences", LICENCE_COLUMNS, decorate=decorate)
    first = writer.header_row + 1
    last = first - 1
    for licence in portfolio.licences:
        last = writer.append_built(_licence_cells(licence))
    if last < first:
        last = writer.append([None] * len(LICENCE_COLUMNS))   # the table's one (empty) data row
    ws = writer.close()[-1]
    span = (first, last)
    total = [text_cell(ws, "Total", _TOTAL), value_cell(ws, None, _TOTAL)]
    total += [formula_cell(ws, f"=SUM({col}{span[0]}:{col}{span[1]})", _TOTAL) for col in "CDEFGHIJ"]
    total += [formula_cell(ws, f'=COUNTIF(K{span[0]}:K{span[1]},"SHORT")&" short, "'
                               f'&COUNTIF(K{span[0]}:K{span[1]},"RENEW")&" to renew"', _TOTAL),
              formula_cell(ws, f"=SUM(L{span[0]}:L{span[1]})", _TOTAL)]
    ws.append(total)
    ws.append([])
    for offset, line in enumerate(_LICENCE_NOTES):
        append_note(ws, span[1] + 3 + offset, line, LICENCE_COLUMNS, TITLE_STYLE if offset == 0 else _NOTE_WRAP)


_LICENCE_NOTES = (
    "How the P2 figures are computed",
    "Guest accounts = (current analysts + projected 12-month growth) × 1.5, i.e. the analysts plus 50 % "
    "headroom; P2 needed = guest accounts ÷ 5, rounded up (one Entra ID P2 licence per five MSSP analyst "
    "guest accounts).",
    "Source: 'Multi-tenant access for Managed Security Service Providers', section 'Entitlement Management "
    "requires AAD P2': 20 analysts + 20 projected → 60 guest accounts → 12 P2 licences.",
    "Edit the Input cells (current analysts, projected growth); guest accounts, P2 needed, gap and status "
    "recalculate. P2 owned comes from the tenant's subscribedSkus; blank means it could not be read or held a "
    "value the audit does not understand (LIC-001 says which).",
    "P2 owned counts only enabled units of SKUs whose AAD_PREMIUM_P2 plan is in force. Units in the grace period "
    "after expiry are shown apart as expiring: renew them before they are suspended (status RENEW when they "
    "would close the gap). Suspended and locked-out units are not owned.",
    "MAU model: where guests are billed per monthly active user instead of by the 1:5 ratio, the last "
    "column estimates that count from guests with a successful sign-in in the last 30 days.",
)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def sorted_expiry(rows: Sequence[ExpiryRow]) -> list[ExpiryRow]:
    """Soonest end first; rows without an end date last."""
    return sorted(rows, key=lambda r: (r.end is None, _naive_utc(r.end) if r.end else datetime.min,
                                       r.customer, r.tenant_id, r.kind, r.subject))


# Days left and bucket as audit.expiry counts them from the row's evaluation instant, which sits beside them.
EXPIRY_COLUMNS = (
    Column("Kind", 26),
    Column("Subject", 36),
    Column("Item", 36),
    Column("End (UTC)", 18),
    Column("Days left", 10),
    Column("Bucket", 12),
    Column("State", 16),
    Column("Evaluated at (UTC)", 18),
)
EXPIRY_BUCKET_COLUMN = 6    # 1-based, within EXPIRY_COLUMNS


def expiry_values(row: ExpiryRow) -> list[Any]:
    return [row.kind, row.subject, row.item, row.end, row.days_left, row.bucket, row.state, row.evaluated_at]


def _expiry(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    # No per-column styles: this is the sheet that can run to a million rows, and a plain value
    # is appended as is, where a styled one costs a cell object each (dates get their format anyway).
    columns = (Column("Customer", 32), Column("Tenant ID", 38), *EXPIRY_COLUMNS)

    def decorate(ws: WriteOnlyWorksheet, first: int, last: int) -> None:
        highlight_values(ws, 2 + EXPIRY_BUCKET_COLUMN, first, last, EXPIRY_HIGHLIGHTS)

    writer = TableSheetWriter(wb, names, "Expiry", columns, decorate=decorate)
    for row in sorted_expiry(portfolio.expiry):
        writer.append([row.customer, row.tenant_id, *expiry_values(row)])
    writer.close()


_STATUS_RANK = {status.value: rank for rank, status in enumerate(STATUS_ORDER)}
_SEVERITY_RANK = {severity.value: severity.rank for severity in Severity}


def _result_order(item: tuple[str, str, FindingView]) -> tuple[int, int]:
    finding = item[2]
    return _STATUS_RANK.get(finding.status, len(_STATUS_RANK)), _SEVERITY_RANK.get(finding.severity, len(Severity))


def _findings(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    """Every result of every customer, those that need attention first: each PASS shows its population."""
    columns = (Column("Customer", 32, TOP), Column("Tenant ID", 38, TOP), *FINDING_COLUMNS)
    writer = TableSheetWriter(wb, names, "Findings", columns, decorate=status_highlighter(FINDING_STATUS_COLUMN + 2))
    for customer, tenant_id, finding in sorted(portfolio.results, key=_result_order):   # stable: customers keep order
        writer.append([customer, tenant_id, *finding_values(finding)])
    writer.close()


def _errors(wb: Workbook, names: SheetNames, portfolio: PortfolioReport) -> None:
    columns = (
        Column("Customer", 32, TOP),
        Column("Tenant ID", 38, TOP),
        Column("Resource", 26, TOP),
        Column("Endpoint", 60, TOP),
        Column("Status", 14, TOP),
        Column("Reason", 60, WRAP),
    )
    writer = TableSheetWriter(wb, names, "Errors", columns)
    for customer, tenant_id, resource in portfolio.errors:
        writer.append([customer, tenant_id, resource.name, resource.endpoint, resource.status, resource.reason])
    writer.close()
