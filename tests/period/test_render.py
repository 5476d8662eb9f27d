"""The period PDF read back with pypdf and the workbooks with openpyxl."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from pypdf import PdfReader

from audit.period.compute import compute
from audit.period.model import CustomerPeriod, period_json
from audit.period.render import render_period_pdf
from audit.period.workbook import write_customer_workbook, write_portfolio_workbook
from tests.period import _year as y


class _Response:
    owner, response, target_date = "=cmd|' /C calc'!A0", "<script>alert(1)</script> will fix", date(2026, 10, 31)

    def overdue(self, on: date, still_open: bool) -> bool:
        return on > self.target_date and still_open


@pytest.fixture(scope="module")
def period() -> CustomerPeriod:
    results, items = y.year()
    customers = [SimpleNamespace(tenant_id=y.TENANT, name=y.HOSTILE)]
    return compute(results, items, y.FIRST, y.LAST, customers,
                   lambda _t, check: _Response() if check == "AR-001" else None).customers[0]


@pytest.fixture(scope="module")
def pdf(period: CustomerPeriod, tmp_path_factory: pytest.TempPathFactory) -> tuple[PdfReader, str]:
    path = render_period_pdf(period, tmp_path_factory.mktemp("pdf") / "period.pdf")
    reader = PdfReader(path)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_pdf_says_each_conclusion(period: CustomerPeriod, pdf: tuple[PdfReader, str]) -> None:
    text = _flat(pdf[1])
    for control in period.controls:
        if control.exceptions or control.error_nights:
            assert _flat(control.conclusion)[:60] in text, control.check_id
    assert "Control operation over the audit period" in text
    assert "2026-03-10" in text        # the night without a run, named


def test_the_pdf_has_a_sign_off_page(period: CustomerPeriod, pdf: tuple[PdfReader, str]) -> None:
    reader, _ = pdf
    last = _flat(reader.pages[-1].extract_text())
    assert "Sign-off" in last and "Preparer name" in last and "Reviewer name" in last and "Signature" in last
    assert period.signoff.first_run.seal_digest[:32] in last.replace(" ", "")
    assert "1.4.0" in last and "1.5.0" in last


def test_the_attached_json_is_the_computed_figures(period: CustomerPeriod, pdf: tuple[PdfReader, str]) -> None:
    reader, _ = pdf
    (content,) = reader.attachments["period.json"]
    attached = json.loads(content)
    assert attached == json.loads(period_json(period))
    ar001 = next(c for c in attached["controls"] if c["check_id"] == "AR-001")
    assert ar001["exceptions"][0]["ending"] == "still open" and ar001["response"]["overdue"] is True


def test_hostile_strings_are_text_in_the_pdf(pdf: tuple[PdfReader, str]) -> None:
    text = pdf[1]
    assert "<b>Contoso</b>" in text         # shown as typed, not interpreted
    assert "<script>" in text


def test_the_customer_workbook(period: CustomerPeriod, tmp_path: Path) -> None:
    path = write_customer_workbook(period, tmp_path / "period.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Controls", "Exceptions", "Nights", "Assignments", "Reviews", "Guests", "GDAP",
                             "Responses", "Sign-off"]
    for ws in wb.worksheets:
        (table,) = ws.tables.values()
        assert table.autoFilter is not None
    nights = wb["Nights"]
    rows = list(nights.iter_rows(min_row=4, values_only=True))
    assert len(rows) == sum(c.nights for c in period.controls)
    assert sum(1 for r in rows if r[3] == "NO RUN") == sum(len(c.no_run) for c in period.controls)
    assignments = list(wb["Assignments"].iter_rows(min_row=4, values_only=True))
    hostile = next(r for r in assignments if r[0] == "a-outlives")
    assert hostile[1].startswith('=HYPERLINK("http://evil.example"')
    cell = next(c for c in wb["Assignments"]["B"] if c.value and str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"            # a string, never a formula
    responses = list(wb["Responses"].iter_rows(min_row=4, values_only=True))
    assert responses[0][3] == _Response.owner and wb["Responses"]["D4"].data_type == "s"
    signoff = list(wb["Sign-off"].iter_rows(min_row=4, values_only=True))
    assert [r[1] for r in signoff] == [s.run_id for s in period.signoff.sources]


def test_the_portfolio_workbook(period: CustomerPeriod, tmp_path: Path) -> None:
    path = write_portfolio_workbook([period], tmp_path / "portfolio.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Controls", "Exceptions", "Customers"]
    controls = list(wb["Controls"].iter_rows(min_row=4, values_only=True))
    assert len(controls) == len(period.controls) and {r[0] for r in controls} == {y.TENANT}
    assert len(list(wb["Exceptions"].iter_rows(min_row=4, values_only=True))) == len(period.exceptions)
