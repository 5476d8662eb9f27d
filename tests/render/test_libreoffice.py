"""The workbooks opened by a real spreadsheet: LibreOffice recalculates every formula and exports CSV."""

from __future__ import annotations

import csv
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from audit.render.excel import write_customer_workbook, write_portfolio_workbook

from . import factories
from .factories import HOSTILE_CUSTOMER, HOSTILE_STRINGS, LICENCE_INPUTS, without_controls

pytestmark = pytest.mark.libreoffice

# Field separator, text delimiter, UTF-8, first line, …, "save cell contents as shown", and -1: every
# sheet to its own CSV, with formulas recalculated on load (stack-notes.md).
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"


def _soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")
    return found


def to_csv(book: Path, out: Path) -> dict[str, list[list[str]]]:
    """Convert `book` headless with a throwaway profile; sheet name → rows."""
    profile = out / "profile"
    result = subprocess.run(
        [_soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to", CSV_FILTER,
         "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stderr
    sheets = {}
    for path in out.glob(f"{book.stem}-*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            sheets[path.stem.removeprefix(f"{book.stem}-")] = list(csv.reader(handle))
    assert sheets, f"LibreOffice wrote no CSV: {result.stdout} {result.stderr}"
    return sheets


@pytest.fixture(scope="module")
def portfolio_csv(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[list[str]]]:
    folder = tmp_path_factory.mktemp("lo")
    book = write_portfolio_workbook(factories.portfolio_report(hostile=True), folder / "portfolio.xlsx")
    return to_csv(book, folder)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_every_sheet_opens(portfolio_csv: dict[str, list[list[str]]]) -> None:
    assert set(portfolio_csv) == {"Summary", "Licences", "Expiry", "Findings", "Errors"}


def test_licence_formulas_recalculate_to_the_seed_sizing(portfolio_csv: dict[str, list[list[str]]]) -> None:
    rows = portfolio_csv["Licences"]
    assert rows[0][:6] == ["Customer", "Tenant ID", "Current analysts", "Projected growth (12 months)",
                           "Guest accounts", "P2 needed"]
    data = rows[1: 1 + len(LICENCE_INPUTS)]
    for row, (current, growth, owned, expiring, _gone) in zip(data, LICENCE_INPUTS, strict=True):
        guests = (current + growth) * 1.5
        needed = math.ceil(guests / 5)
        assert _number(row[4]) == guests
        assert _number(row[5]) == needed
        if owned is None:
            assert (row[6], row[9], row[10]) == ("", "", "UNKNOWN")
        else:
            assert _number(row[9]) == owned - needed
            assert row[10] == ("OK" if owned >= needed else "RENEW" if owned + (expiring or 0) >= needed else "SHORT")
    seed = data[0]        # the seed's example: 20 analysts + 20 growth → 60 guest accounts → 12 P2
    assert (_number(seed[2]), _number(seed[3]), _number(seed[4]), _number(seed[5])) == (20, 20, 60, 12)
    total = rows[1 + len(LICENCE_INPUTS)]
    assert total[0] == "Total"
    assert _number(total[5]) == sum(math.ceil((c + g) * 1.5 / 5) for c, g, *_ in LICENCE_INPUTS)


def test_hostile_strings_come_back_literally(portfolio_csv: dict[str, list[list[str]]]) -> None:
    names = [row[0] for row in portfolio_csv["Licences"][1: 1 + len(HOSTILE_STRINGS)]]
    assert names == [without_controls(t) for t in HOSTILE_STRINGS]
    subjects = {row[3] for row in portfolio_csv["Expiry"][1:]}
    assert subjects == {without_controls(t) for t in HOSTILE_STRINGS}
    reasons = [row[5] for row in portfolio_csv["Errors"][1:]]
    assert '=HYPERLINK("http://x","y")' in reasons


def test_customer_workbook_opens_with_hostile_text(tmp_path: Path) -> None:
    book = write_customer_workbook(factories.customer_report(hostile=True, guests=30), tmp_path / "customer.xlsx")
    sheets = to_csv(book, tmp_path)
    assert {"Summary", "Findings", "Guest inventory", "Provenance"} <= set(sheets)
    summary = dict((row[0], row[1]) for row in sheets["Summary"][1:] if len(row) > 1)
    assert summary["Customer"] == without_controls(HOSTILE_CUSTOMER)
    guests = [row[0] for row in sheets["Guest inventory"][3: 3 + len(HOSTILE_STRINGS)]]
    assert guests == [without_controls(t) for t in HOSTILE_STRINGS]
