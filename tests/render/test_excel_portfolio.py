from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from audit import expiry
from audit.render import _xlsx_sheet
from audit.render.excel import write_portfolio_workbook

from . import factories
from .factories import HOSTILE_STRINGS, LICENCE_INPUTS, without_controls

SHEETS = ["Summary", "Licences", "Expiry", "Findings", "Errors"]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("xlsx") / "portfolio.xlsx"
    assert write_portfolio_workbook(factories.portfolio_report(), path) == path
    return load_workbook(path)


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("xlsx") / "hostile.xlsx"
    write_portfolio_workbook(factories.portfolio_report(hostile=True), path)
    return load_workbook(path)


def test_sheets_tables_and_frozen_headers(book: Workbook) -> None:
    assert book.sheetnames == SHEETS
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert len(ws.tables) == 1, ws.title
        assert ws.column_dimensions["A"].width >= 30
    summary = book["Summary"]
    assert [c.value for c in summary[1]] == ["Customer", "Tenant ID", "Score", "Previous score", "Change", "PASS",
                                             "FAIL", "WARN", "ERROR", "NOT_APPLICABLE", "MANUAL", "ATTESTED",
                                             "ACCEPTED", "With errors", "Why", "Evaluated at (UTC)",
                                             "Evidence collected (UTC)", "PDF", "Workbook"]
    assert summary["R2"].value == "customer-0.pdf"
    # audit.models.tenant_errors: the third customer has an ERROR result, the others none.
    assert [(summary[f"N{r}"].value, summary[f"O{r}"].value) for r in (2, 3, 4)] == [
        ("no", None), ("no", None), ("yes", "1 result(s) ERROR")]
    assert summary["P2"].value == factories.EVALUATED_AT.replace(tzinfo=None)
    notes = {row[0]: row[1] for row in summary.iter_rows(min_row=summary.max_row - 6, values_only=True) if row[0]}
    assert notes["Results evaluated at (UTC)"] == factories.EVALUATED_AT.replace(tzinfo=None)
    assert notes["Customers with errors"].startswith("3 of 10:")


def test_licences_are_live_formulas_over_input_cells(book: Workbook) -> None:
    ws = book["Licences"]
    assert [c.value for c in ws[1]][:11] == ["Customer", "Tenant ID", "Current analysts",
                                             "Projected growth (12 months)", "Guest accounts", "P2 needed",
                                             "P2 owned", "P2 expiring (grace period)", "P2 suspended or locked out",
                                             "Gap (owned - needed)", "Status"]
    for row, (current, growth, owned, expiring, gone) in enumerate(LICENCE_INPUTS, 2):
        assert ws[f"C{row}"].value == current and ws[f"C{row}"].style == "Input"
        assert ws[f"D{row}"].value == growth and ws[f"D{row}"].style == "Input"
        assert ws[f"E{row}"].value == f"=(C{row}+D{row})*1.5"
        assert ws[f"F{row}"].value == f"=ROUNDUP(E{row}/5,0)"
        assert ws[f"G{row}"].value == owned            # blank when subscribedSkus could not be read
        assert (ws[f"H{row}"].value, ws[f"I{row}"].value) == (expiring, gone)   # shown apart, never owned
        assert ws[f"J{row}"].value == f'=IF(G{row}="","",G{row}-F{row})'
        assert ws[f"K{row}"].value == \
            f'=IF(G{row}="","UNKNOWN",IF(J{row}>=0,"OK",IF(G{row}+H{row}>=F{row},"RENEW","SHORT")))'
    last = 1 + len(LICENCE_INPUTS)
    total = last + 1
    assert ws[f"A{total}"].value == "Total"
    assert ws[f"E{total}"].value == f"=SUM(E2:E{last})"
    notes = " ".join(str(c.value) for c in ws["A"][total:] if c.value)
    assert "× 1.5" in notes and "60 guest accounts → 12 P2" in notes and "grace period after expiry" in notes
    rules = {str(r.sqref): [x.formula[0] for x in r.rules] for r in ws.conditional_formatting}
    assert rules[f"K2:K{last}"] == ['$K2="SHORT"', '$K2="RENEW"', '$K2="OK"', '$K2="UNKNOWN"']
    assert any(str(dv.sqref) == f"C2:D{last}" for dv in ws.data_validations.dataValidation)


def test_expiry_is_sorted_bucketed_and_counted_from_the_evaluation_instant(book: Workbook) -> None:
    ws = book["Expiry"]
    assert [c.value for c in ws[1]] == ["Customer", "Tenant ID", "Kind", "Subject", "Item", "End (UTC)", "Days left",
                                        "Bucket", "State", "Evaluated at (UTC)"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 40
    ends = [r[5] for r in rows]
    dated = [e for e in ends if e is not None]
    assert dated == sorted(dated) and ends[len(dated):] == [None] * (len(ends) - len(dated))
    for _customer, tenant_id, _kind, _subject, _item, end, days, bucket, _state, evaluated_at in rows:
        assert tenant_id.endswith("-4000-8000-00000000000" + tenant_id[7])
        # Reproducible from the sheet alone: audit.expiry over the two times beside it.
        assert evaluated_at == factories.EVALUATED_AT.replace(tzinfo=None)
        assert days == expiry.days_left(end, evaluated_at) and bucket == expiry.bucket(end, evaluated_at)
    assert {r[7] for r in rows} == {expiry.EXPIRED, "≤ 7 days", "≤ 30 days", "≤ 90 days", "≤ 180 days",
                                    expiry.LATER, expiry.NO_END}
    assert ws["F2"].number_format == "yyyy-mm-dd hh:mm"
    assert any(str(r.sqref) == "H2:H41" for r in ws.conditional_formatting)


def test_findings_hold_every_result_and_each_pass_states_its_population(book: Workbook) -> None:
    header = [c.value for c in book["Findings"][1]]
    assert header[:3] == ["Customer", "Tenant ID", "Check"]
    findings = [dict(zip(header, row, strict=True)) for row in book["Findings"].iter_rows(min_row=2, values_only=True)]
    assert len(findings) == len(factories.portfolio_report().results)
    statuses = [row["Status"] for row in findings]
    assert statuses.index("PASS") > max(i for i, s in enumerate(statuses) if s in ("FAIL", "WARN", "ERROR"))
    passes = [row for row in findings if row["Status"] == "PASS"]
    assert passes and all(row["Population"] for row in passes)
    em001 = next(row for row in findings if row["Check"] == "EM-001.v1")
    assert (em001["Population"], em001["Examined"], em001["Conforming"]) == (
        "1 of 1 connected organisations are the configured MSSP tenant", 1, 1)
    assert all(row["Tenant ID"] for row in findings)
    rules = {str(r.sqref): r for r in book["Findings"].conditional_formatting}
    assert any(key.startswith("G2:") for key in rules)        # the status column is highlighted
    errors = list(book["Errors"].iter_rows(values_only=True))
    assert errors[0] == ("Customer", "Tenant ID", "Resource", "Endpoint", "Status", "Reason")
    assert (errors[1][1], errors[1][2], errors[1][4]) == ("00000000-0000-4000-8000-000000000000",
                                                          "gdap_relationships", "forbidden")


def test_hostile_strings_are_text_not_formulas(hostile_book: Workbook) -> None:
    licences = hostile_book["Licences"]
    for row, text in enumerate(HOSTILE_STRINGS, 2):
        cell = licences[f"A{row}"]
        assert cell.data_type == "s", text
        assert cell.value == without_controls(text)
    subjects = [c for c in hostile_book["Expiry"]["D"][1:]]
    assert {c.value for c in subjects} == {without_controls(t) for t in HOSTILE_STRINGS}
    assert all(c.data_type == "s" for c in subjects)
    ours = {"Licences"}
    for ws in hostile_book.worksheets:
        formulas = [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
        if ws.title not in ours:
            assert formulas == [], ws.title
        for cell in formulas:
            assert cell.column_letter in "CDEFGHIJKL", cell.coordinate


def test_a_sheet_past_the_row_limit_continues_on_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_xlsx_sheet, "MAX_SHEET_ROWS", 11)       # header + 10 rows per sheet
    portfolio = factories.portfolio_report(expiry_rows=35)
    book = load_workbook(write_portfolio_workbook(portfolio, tmp_path / "split.xlsx"))
    parts = ["Expiry", "Expiry (2)", "Expiry (3)", "Expiry (4)"]
    assert [n for n in book.sheetnames if n.startswith("Expiry")] == parts
    subjects: list[str] = []
    for name in parts:
        ws = book[name]
        assert ws["A1"].value == "Customer" and ws.freeze_panes == "A2"
        assert ws.max_row <= 11
        (table,) = ws.tables.values()
        assert table.ref == f"A1:J{ws.max_row}"
        subjects += [c.value for c in ws["D"][1:]]
    assert len(subjects) == 35
    table_names = [t for ws in book.worksheets for t in ws.tables]
    assert len(set(table_names)) == len(table_names)


def test_an_empty_portfolio_still_has_every_sheet(tmp_path: Path) -> None:
    empty = replace(factories.portfolio_report(), customers=(), licences=(), expiry=(), results=(), errors=())
    book = load_workbook(write_portfolio_workbook(empty, tmp_path / "empty.xlsx"))
    assert book.sheetnames == SHEETS
    assert book["Licences"]["A3"].value == "Total"
