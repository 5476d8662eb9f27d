"""Finding rows, shared by the customer and the portfolio workbooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openpyxl.styles import Alignment
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from audit.models import Status
from audit.render._xlsx_safe import INTEGER_FORMAT, CellStyle
from audit.render._xlsx_sheet import Column, Highlight, highlight_values
from audit.render.viewmodel import FindingView

TOP = CellStyle(alignment=Alignment(vertical="top"))
WRAP = CellStyle(alignment=Alignment(vertical="top", wrap_text=True))
COUNT = CellStyle(alignment=Alignment(vertical="top"), number_format=INTEGER_FORMAT)

STATUS_HIGHLIGHTS: tuple[Highlight, ...] = (
    Highlight(Status.FAIL.value, "F9D0CC", "912018"),
    Highlight(Status.WARN.value, "FEF0C7", "93370D"),
    Highlight(Status.ERROR.value, "E9D7FE", "53389E"),
    Highlight(Status.PASS.value, "D1FADF", "05603A"),
)

FINDING_COLUMNS: tuple[Column, ...] = (
    Column("Check", 12, TOP),
    Column("Title", 40, WRAP),
    Column("Area", 22, TOP),
    Column("Severity", 10, TOP),
    Column("Status", 15, TOP),
    Column("Summary", 50, WRAP),
    # What the result was measured on (every PASS states it): the sentence, and its two numbers to filter and sum.
    Column("Population", 45, WRAP),
    Column("Examined", 10, COUNT),
    Column("Conforming", 11, COUNT),
    Column("Reason", 30, WRAP),
    Column("Requirement", 50, WRAP),
    Column("Remediation", 50, WRAP),
    Column("Evidence rows", 10, COUNT),
    Column("References", 30, TOP),
    Column("Frameworks", 30, TOP),
    # The MSSP's management response (audit.responses); Overdue: past its target date, finding still open.
    Column("Owner", 25, WRAP),
    Column("Response", 50, WRAP),
    Column("Target date", 12, TOP),
    Column("Overdue", 9, TOP),
)
FINDING_STATUS_COLUMN = 5   # 1-based, within FINDING_COLUMNS


def finding_values(finding: FindingView) -> list[Any]:
    return [
        finding.versioned_id,
        finding.title,
        finding.area,
        finding.severity,
        finding.status,
        finding.summary,
        finding.population.text if finding.population else None,
        finding.population.examined if finding.population else None,
        finding.population.conforming if finding.population else None,
        finding.reason,
        finding.requirement,
        finding.remediation,
        finding.evidence.row_count,
        "; ".join(finding.references),
        "; ".join(f"{framework} {control}" for framework, control in finding.frameworks),
        *response_values(finding),
    ]


def response_values(finding: FindingView) -> list[Any]:
    """Owner, response, target date, overdue: blank when no response is recorded for the check."""
    response = finding.response
    if response is None:
        return [None, None, None, None]
    return [response.owner, response.response, response.target_date, "yes" if finding.overdue else "no"]


def status_highlighter(column: int) -> Callable[[WriteOnlyWorksheet, int, int], None]:
    def decorate(ws: WriteOnlyWorksheet, first: int, last: int) -> None:
        highlight_values(ws, column, first, last, STATUS_HIGHLIGHTS)

    return decorate
