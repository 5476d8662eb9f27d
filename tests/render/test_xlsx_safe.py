from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from audit.render._xlsx_safe import EXCEL_MAX_CELL_CHARS, clean_text, excel_value, formula_cell, text_cell, value_cell

from .factories import HOSTILE_STRINGS, without_controls


def test_hostile_strings_stay_strings_after_a_round_trip(tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("S")
    for text in HOSTILE_STRINGS:
        ws.append([value_cell(ws, text), text_cell(ws, text)])
    ws.append([formula_cell(ws, "=1+1")])
    wb.save(tmp_path / "s.xlsx")

    sheet = load_workbook(tmp_path / "s.xlsx")["S"]
    for row, text in zip(sheet.iter_rows(max_row=len(HOSTILE_STRINGS)), HOSTILE_STRINGS, strict=True):
        for cell in row:
            assert cell.data_type == "s"
            assert cell.value == without_controls(text)
    formula = sheet.cell(len(HOSTILE_STRINGS) + 1, 1)
    assert formula.data_type == "f" and formula.value == "=1+1"


def test_dangerous_prefixes_get_the_quote_prefix(tmp_path: Path) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("S")
    ws.append([text_cell(ws, "=cmd"), text_cell(ws, "plain")])
    wb.save(tmp_path / "q.xlsx")
    sheet = load_workbook(tmp_path / "q.xlsx")["S"]
    assert sheet["A1"].quotePrefix is True
    assert not sheet["B1"].quotePrefix


def test_only_formulas_are_formulas() -> None:
    ws = Workbook(write_only=True).create_sheet("S")
    with pytest.raises(ValueError):
        formula_cell(ws, "SUM(A1)")


def test_values_are_made_storable() -> None:
    assert clean_text("a\x00b\x07c\ud800d\uffff") == "abcd"
    assert len(clean_text("x" * 40_000)) == EXCEL_MAX_CELL_CHARS
    assert excel_value(datetime(2025, 1, 14, 2, 3, tzinfo=UTC)) == datetime(2025, 1, 14, 2, 3)
    assert excel_value(float("nan")) == "nan"
