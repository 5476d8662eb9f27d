from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from audit.render.excel import customer_sheets, write_customer_workbook
from audit.render.viewmodel import Table

from . import factories
from .factories import HOSTILE_CUSTOMER, HOSTILE_STRINGS, without_controls

FORBIDDEN_IN_SHEET_NAMES = set("[]:*?/\\")


def _load(path: Path) -> Workbook:
    return load_workbook(path)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("xlsx") / "contoso.xlsx"
    assert write_customer_workbook(factories.customer_report(), path) == path
    return _load(path)


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory: pytest.TempPathFactory) -> Workbook:
    path = tmp_path_factory.mktemp("xlsx") / "hostile.xlsx"
    write_customer_workbook(factories.customer_report(hostile=True), path)
    return _load(path)


def test_sheets_headers_and_frozen_panes(book: Workbook) -> None:
    assert book.sheetnames == ["Summary", "Findings", "Evidence", "Expiry", "Changes", "Guest inventory",
                               "Access packages and policies", "Access reviews", "Provenance"]
    sheets = customer_sheets(factories.customer_report())
    assert (sheets.evidence, sheets.expiry, sheets.appendix[0]) == ("Evidence", "Expiry", "Guest inventory")
    findings = book["Findings"]
    assert [c.value for c in findings[1]] == ["Check", "Title", "Area", "Severity", "Status", "Summary", "Population",
                                              "Examined", "Conforming", "Reason", "Requirement", "Remediation",
                                              "Evidence rows", "References", "Frameworks", "Owner", "Response",
                                              "Target date", "Overdue"]
    assert findings.max_row == 1 + len(factories.findings(hostile=False))
    assert findings["M2"].value == 260          # the evidence count is the full total, not the PDF's 10
    for name in ("Summary", "Findings", "Evidence", "Provenance"):
        assert book[name].freeze_panes == "A2"
        assert len(book[name].tables) == 1
    guests = book["Guest inventory"]
    assert guests["A1"].value == "Guest inventory"
    assert guests["A2"].value.startswith("Source: GET /v1.0/users")
    assert [c.value for c in guests[3]] == list(factories.GUEST_COLUMNS)
    assert guests.freeze_panes == "A4"
    (table,) = guests.tables.values()
    assert table.ref == "A3:G153"
    assert [c.name for c in table.tableColumns] == list(factories.GUEST_COLUMNS)
    assert guests.column_dimensions["B"].width > guests.column_dimensions["F"].width


def test_every_evidence_row_of_every_result_is_in_the_evidence_sheet(book: Workbook) -> None:
    ws = book["Evidence"]
    header = [c.value for c in ws[1]]
    assert header[:5] == ["Check", "Status", "Row", "Field 1", "Value 1"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    for finding in factories.findings(hostile=False):
        mine = [r for r in rows if r[0] == finding.versioned_id]
        assert len(mine) == finding.evidence.row_count, finding.check_id
        assert [r[2] for r in mine] == list(range(1, len(mine) + 1))
        for row, values in zip(mine, finding.evidence.rows, strict=True):
            assert row[1] == finding.status
            assert list(row[3:3 + 2 * len(values):2]) == list(finding.evidence.columns)
    em004 = [r for r in rows if r[0] == "EM-004.v1"]
    assert len(em004) == 260 and em004[0][3:5] == ("Guest", "a-JoshX1")


def test_each_pass_states_its_population(book: Workbook) -> None:
    header = [c.value for c in book["Findings"][1]]
    rows = [dict(zip(header, r, strict=True)) for r in book["Findings"].iter_rows(min_row=2, values_only=True)]
    for finding in factories.findings(hostile=False):
        row = next(r for r in rows if r["Check"] == finding.versioned_id)
        if finding.population is None:
            assert finding.status != "PASS" and row["Population"] is None
            continue
        assert (row["Population"], row["Examined"], row["Conforming"]) == (
            finding.population.text, finding.population.examined, finding.population.conforming)


def test_the_summary_states_when_the_results_stand(book: Workbook) -> None:
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=2)}
    naive = factories.EVALUATED_AT.replace(tzinfo=None)
    assert summary["Results evaluated at (UTC)"] == summary["Days left counted from (UTC)"] == naive
    assert summary["Evidence collected (UTC)"] == factories.COLLECTED_AT.replace(tzinfo=None)


def test_dates_are_dates_and_counts_are_numbers(book: Workbook) -> None:
    summary = {row[0].value: row[1] for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Evidence collected (UTC)"].value == factories.COLLECTED_AT.replace(tzinfo=None)
    assert summary["Evidence collected (UTC)"].number_format == "yyyy-mm-dd hh:mm"
    assert summary["Results FAIL"].value == 3
    assert summary["Results ATTESTED"].value == 0
    created = book["Guest inventory"]["D4"]
    assert created.is_date and created.number_format == "yyyy-mm-dd hh:mm"
    provenance = book["Provenance"]
    assert [c.value for c in provenance[1]] == ["Resource", "Endpoint", "Status", "Reason", "Items", "Requests",
                                                "SHA-256", "Refused request", "Why refused"]
    assert provenance["E2"].value == 150 and provenance["E2"].data_type == "n"


def test_hostile_strings_are_text_cells(hostile_book: Workbook) -> None:
    summary = hostile_book["Summary"]
    customer = summary["B2"]
    assert customer.data_type == "s"
    assert customer.value == without_controls(HOSTILE_CUSTOMER)
    names = [row[0] for row in hostile_book["Guest inventory"].iter_rows(min_row=4, max_row=3 + len(HOSTILE_STRINGS))]
    for cell, text in zip(names, HOSTILE_STRINGS, strict=True):
        assert cell.data_type == "s", text
        assert cell.value == without_controls(text)
    every_formula = [c.coordinate for ws in hostile_book.worksheets for row in ws.iter_rows() for c in row
                     if c.data_type == "f"]
    assert every_formula == []


def test_sheet_names_from_table_titles_are_valid_and_unique(tmp_path: Path) -> None:
    titles = ["Summary", "a/b:c*?[x]\\y", "A very long evidence table title that goes on", "findings", "'quoted'",
              "A very long evidence table title that goes on and on", "History", ""]
    report = replace(factories.customer_report(guests=2),
                     appendix=tuple(Table(t, ("Col",), (("v",),)) for t in titles))
    book = _load(write_customer_workbook(report, tmp_path / "names.xlsx"))
    names = book.sheetnames
    assert len({n.casefold() for n in names}) == len(names)
    for name in names:
        assert 0 < len(name) <= 31 and not (set(name) & FORBIDDEN_IN_SHEET_NAMES)
        assert not name.startswith("'") and not name.endswith("'")
    assert names[:2] == ["Summary", "Findings"] and names[-1] == "Provenance"
    assert "Summary (2)" in names and "findings (2)" in names
    table_names = [t for ws in book.worksheets for t in ws.tables]
    assert len(set(table_names)) == len(table_names)


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    report = replace(factories.customer_report(guests=2), appendix=(Table("Bad", ("a", "b"), (("only one",),)),))
    with pytest.raises(ValueError):
        write_customer_workbook(report, tmp_path / "bad.xlsx")
    assert list(tmp_path.iterdir()) == []
