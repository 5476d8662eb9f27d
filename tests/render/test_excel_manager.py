"""The workbooks as a manager opens them in Excel: filter drop-downs on every table, wrapped rows tall
enough to read, sheet names cut at a word, the portfolio's report names linking to the files."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from audit.render._xlsx_sheet import LINE_HEIGHT_PT, SheetNames, cut_at_word
from audit.render.excel import customer_sheets, write_customer_workbook, write_portfolio_workbook
from audit.render.viewmodel import Table

from . import factories

LONG_SUMMARY = ("Three analyst access-package assignments have no end date; they were granted by a policy "
                "whose expiration was switched off after the last review, and each still holds the Security "
                "Reader and Helpdesk Administrator roles in the customer tenant through the package. ") * 3
LONG_TITLE = "Guests whose sponsor left the MSSP tenant"     # 41 characters: Excel allows 31


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("manager")
    customer = factories.customer_report()
    findings = (replace(customer.findings[0], summary=LONG_SUMMARY), *customer.findings[1:])
    extra = Table(LONG_TITLE, ("Guest", "Sponsor"), (("a-Josh", "gone@mssp.example"),))
    customer = replace(customer, findings=findings, appendix=(*customer.appendix, extra))
    portfolio = factories.portfolio_report()
    rows = list(portfolio.customers)
    rows[-1] = replace(rows[-1], pdf="not rendered")
    portfolio = replace(portfolio, customers=tuple(rows))
    return {"customer": write_customer_workbook(customer, folder / "customer.xlsx"),
            "portfolio": write_portfolio_workbook(portfolio, folder / "portfolio.xlsx")}


def _tables(book: Workbook):
    for ws in book.worksheets:
        for table in ws.tables.values():
            yield ws, table


@pytest.mark.parametrize("which", ["customer", "portfolio"])
def test_every_table_has_filter_drop_downs_over_its_range(books: dict[str, Path], which: str) -> None:
    book = load_workbook(books[which])
    tables = list(_tables(book))
    assert len(tables) == len(book.worksheets)          # one table per sheet, each checked
    for ws, table in tables:
        assert table.autoFilter is not None, ws.title
        assert table.autoFilter.ref == table.ref, ws.title


def test_a_long_wrapped_text_gets_a_row_tall_enough_and_short_rows_keep_the_default(books: dict[str, Path]) -> None:
    ws = load_workbook(books["customer"])["Findings"]
    headers = [c.value for c in ws[1]]
    summary = headers.index("Summary") + 1
    width = ws.column_dimensions[ws.cell(1, summary).column_letter].width
    long_row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, summary).value == LONG_SUMMARY)
    # At most ~1.3 characters per unit of width fit a line, whatever the words: a lower bound on the lines.
    at_least = math.ceil(len(LONG_SUMMARY) / (width * 1.3))
    assert ws.row_dimensions[long_row].height >= LINE_HEIGHT_PT * at_least
    short = [r for r in range(2, ws.max_row + 1)
             if all(len(str(ws.cell(r, c).value or "")) < 20 for c in range(1, len(headers) + 1)
                    if ws.cell(r, c).alignment.wrap_text)]
    assert all(ws.row_dimensions[r].height is None for r in short)


def test_sheet_names_are_cut_at_a_word_and_stay_unique(books: dict[str, Path]) -> None:
    names = load_workbook(books["customer"]).sheetnames
    cut = [n for n in names if LONG_TITLE.startswith(n)]
    assert cut == ["Guests whose sponsor left"], names
    assert cut_at_word("Conditional Access policies excluding guests", 31) == "Conditional Access policies"
    assert cut_at_word("Supercalifragilisticexpialidocious-and-more", 31) == "Supercalifragilisticexpialidoci"
    assert cut_at_word("Short", 31) == "Short"
    assert cut_at_word("Members of groups holding a privileged role", 31) == "Members of groups holding"
    assert cut_at_word("Access packages and assignment policies", 31) == "Access packages and assignment"
    claimed = SheetNames()
    first, second = claimed.claim(LONG_TITLE), claimed.claim(LONG_TITLE + " again")
    assert first == "Guests whose sponsor left" and second == "Guests whose sponsor left (2)"
    assert all(len(n) <= 31 for n in (first, second))
    assert customer_sheets(factories.customer_report()).summary == "Summary"


def test_portfolio_report_and_workbook_names_link_to_the_files_beside_it(books: dict[str, Path]) -> None:
    ws = load_workbook(books["portfolio"])["Summary"]
    headers = [c.value for c in ws[1]]
    pdf, workbook = headers.index("PDF") + 1, headers.index("Workbook") + 1
    rows = [r for r in range(2, ws.max_row + 1) if ws.cell(r, workbook).value]
    linked = 0
    for r in rows:
        for column in (pdf, workbook):
            cell = ws.cell(r, column)
            if cell.value == "not rendered":
                assert cell.hyperlink is None and cell.style != "Hyperlink"
                continue
            assert cell.hyperlink is not None and cell.hyperlink.target == cell.value, cell.coordinate
            assert "/" not in cell.hyperlink.target and cell.value.endswith((".pdf", ".xlsx"))
            linked += 1
    assert linked == 2 * len(rows) - 1 > 0


def _soffice() -> str:
    found = shutil.which("soffice")
    if found is None or shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) and pdftoppm are required in CI")
        pytest.skip("LibreOffice (soffice) or pdftoppm is not installed")
    return found


@pytest.mark.libreoffice
def test_libreoffice_renders_the_workbooks_to_pages(books: dict[str, Path], tmp_path: Path) -> None:
    """Print both workbooks through LibreOffice and rasterise the pages (kept with MSSP_AUDIT_PNG_DIR
    set, to look at). The text of the long wrapped summary is on a page, so the row was printed."""
    from pypdf import PdfReader
    keep = Path(os.environ["MSSP_AUDIT_PNG_DIR"]) if os.environ.get("MSSP_AUDIT_PNG_DIR") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    for which, book in books.items():
        subprocess.run([_soffice(), f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                        "--convert-to", "pdf", "--outdir", str(tmp_path), str(book)],
                       capture_output=True, text=True, timeout=180, check=True)
        pdf = tmp_path / f"{book.stem}.pdf"
        text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages)
        if which == "customer":
            assert "switched off after the last review" in text
        else:
            assert ".pdf" in text and ".xlsx" in text           # the linked file names print
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-l", "4", str(pdf), str(keep / which)],
                       check=True, timeout=120)
        assert list(keep.glob(f"{which}-*.png"))
