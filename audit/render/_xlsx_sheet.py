"""Write-only sheets holding one Excel table each, continued on a new sheet past Excel's row limit."""

from __future__ import annotations

import math
import re
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from audit.render._xlsx_safe import HEADER_STYLE, NOTE_STYLE, TITLE_STYLE, CellStyle, text_cell, value_cell
from audit.render.filenames import atomic_output

# Excel's hard limit, header row included; a test lowers it to exercise the continuation sheet.
MAX_SHEET_ROWS = 1_048_576

SHEET_NAME_MAX = 31
_UNSAFE_NAME_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_RESERVED_SHEET_NAMES = frozenset({"history"})
HEADER_MAX = 255
TABLE_STYLE = "TableStyleLight9"
LINE_HEIGHT_PT = 15
# Excel's tallest row is 409 pt: a longer text is read in the cell's edit box, not by scrolling the row.
MAX_ROW_LINES = 27
# Calibri 11 fits about 1.1 average characters per unit of column width (one unit is one digit's width).
CHARS_PER_WIDTH = 1.1

Decorate = Callable[[WriteOnlyWorksheet, int, int], None]


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    style: CellStyle | None = None


class SheetNames:
    """Valid, unique (case-insensitively, as Excel compares them) sheet names for one workbook."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        base = _UNSAFE_NAME_CHARS.sub(" ", wanted)
        base = " ".join(base.split()).strip("'") or "Sheet"
        if base.casefold() in _RESERVED_SHEET_NAMES:
            base = f"{base} sheet"
        name, n = cut_at_word(base, SHEET_NAME_MAX), 1
        while name.casefold() in self._taken:
            n += 1
            tag = f" ({n})"
            name = cut_at_word(base, SHEET_NAME_MAX - len(tag)) + tag
        self._taken.add(name.casefold())
        return name

    def continuation(self, base: str, part: int) -> str:
        tag = f" ({part})"
        return self.claim(cut_at_word(base, SHEET_NAME_MAX - len(tag)) + tag)


_TRAILING = " -–—,;:.&(/'"
_DANGLING = frozenset({"a", "an", "the", "of", "and", "or", "to", "for", "with", "by", "in", "on", "per", "from"})


def cut_at_word(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut at the last word boundary that keeps at least half
    of them ("Conditional Access policies" → "Conditional Access", never "Conditional Acc"); a
    single long word is cut where it must be."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if text[limit].isspace():
        return head.rstrip(_TRAILING) or head
    space = head.rfind(" ")
    if space < limit // 2:
        return head.rstrip()
    words = head[:space].rstrip(_TRAILING).split(" ")
    # "Members of groups holding a privileged role" → "Members of groups holding", not "… holding a".
    while len(words) > 1 and words[-1].casefold() in _DANGLING:
        words.pop()
    return " ".join(words).rstrip(_TRAILING) or head[:space]


def table_headers(names: Iterable[str]) -> list[str]:
    """Header texts Excel accepts in a table: one line, non-empty, unique ignoring case."""
    headers: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(names, 1):
        text = " ".join(_UNSAFE_NAME_CHARS.sub(" ", str(raw)).split())[:HEADER_MAX] or f"Column {index}"
        candidate, n = text, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{text[: HEADER_MAX - 6]} ({n})"
        seen.add(candidate.casefold())
        headers.append(candidate)
    return headers


@dataclass
class TableSheetWriter:
    """Appends rows under a header row, as an Excel table with a frozen header and set widths.

    `preamble` rows (a title, a source line) sit above the header on every part; `decorate` adds
    conditional formatting once a part's row range is known.
    """

    workbook: Workbook
    names: SheetNames
    title: str
    columns: Sequence[Column]
    preamble: Sequence[str] = ()
    decorate: Decorate | None = None
    landscape: bool = True
    sheets: list[WriteOnlyWorksheet] = field(default_factory=list, init=False)
    _headers: list[str] = field(default_factory=list, init=False)
    _ws: WriteOnlyWorksheet | None = field(default=None, init=False)
    _rows_in_part: int = field(default=0, init=False)
    _part_title: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self._headers = table_headers(c.header for c in self.columns)
        self._part_title = self.names.claim(self.title)

    @property
    def header_row(self) -> int:
        return len(self.preamble) + 1

    def _open_part(self) -> WriteOnlyWorksheet:
        part = len(self.sheets) + 1
        name = self._part_title if part == 1 else self.names.continuation(self._part_title, part)
        ws: WriteOnlyWorksheet = self.workbook.create_sheet(name)
        # Widths, panes and page setup must be in place before the first append in write-only mode.
        for index, column in enumerate(self.columns, 1):
            ws.column_dimensions[get_column_letter(index)].width = column.width
        ws.freeze_panes = f"A{self.header_row + 1}"
        ws.print_title_rows = f"{self.header_row}:{self.header_row}"
        if self.landscape:
            ws.page_setup.orientation = "landscape"
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        # Wrapped header text needs a taller row; Excel does not grow it on open.
        lines = max(math.ceil(len(h) / max(c.width - 2, 1)) for h, c in zip(self._headers, self.columns, strict=True))
        ws.row_dimensions[self.header_row].height = LINE_HEIGHT_PT * min(max(lines, 1), 4) + 3
        for index, line in enumerate(self.preamble):
            ws.append([text_cell(ws, line, TITLE_STYLE if index == 0 else NOTE_STYLE)])
        ws.append([text_cell(ws, h, HEADER_STYLE) for h in self._headers])
        self.sheets.append(ws)
        self._rows_in_part = self.header_row
        return ws

    def _close_part(self) -> None:
        if self._ws is None:
            return
        ws, first, last = self._ws, self.header_row + 1, self._rows_in_part
        # A table needs one data row; an empty one is fine.
        ref = f"A{self.header_row}:{get_column_letter(len(self.columns))}{max(last, first)}"
        table = Table(displayName=f"tbl{_table_counter(self.workbook)}", ref=ref)
        table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
        # The filter drop-downs on the header: openpyxl adds them only to tables whose columns it names itself.
        table.autoFilter = AutoFilter(ref=ref)
        # Write-only sheets cannot be read back, so name the columns here or openpyxl guesses "Column1".
        table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(self._headers, 1)]
        with warnings.catch_warnings():
            # openpyxl always warns in write-only mode that columns must be named: they are, above.
            warnings.filterwarnings("ignore", "In write-only mode you must add table columns manually")
            ws.add_table(table)
        if self.decorate is not None and last >= first:
            self.decorate(ws, first, last)
        self._ws = None

    @property
    def worksheet(self) -> WriteOnlyWorksheet:
        """The part being written (opened on first use)."""
        if self._ws is None:
            self._ws = self._open_part()
        return self._ws

    def _ready(self) -> WriteOnlyWorksheet:
        if self._ws is not None and self._rows_in_part >= MAX_SHEET_ROWS:
            self._close_part()
        return self.worksheet

    def append(self, values: Sequence[Any]) -> int:
        """Append one row of values under the columns' styles; returns its row number."""
        return self.append_built(
            lambda ws, _row: [value_cell(ws, v, c.style) for v, c in zip(values, self.columns, strict=True)]
        )

    def append_built(self, build: Callable[[WriteOnlyWorksheet, int], Sequence[Any]]) -> int:
        """Append the cells `build(sheet, row number)` returns: for rows whose formulas name their row."""
        ws = self._ready()
        row = self._rows_in_part + 1
        cells = list(build(ws, row))
        lines = self._lines(cells)
        if lines > 1:
            # Excel does not grow a row to its wrapped text on open: the height is written with the row,
            # and dropped once written so that a long sheet keeps no per-row state.
            ws.row_dimensions[row].height = LINE_HEIGHT_PT * lines + 3
        ws.append(cells)
        if lines > 1:
            del ws.row_dimensions[row]
        self._rows_in_part = row
        return row

    def _lines(self, cells: Sequence[Any]) -> int:
        """The most lines any wrapped cell of the row takes at its column's width."""
        most = 1
        for cell, column in zip(cells, self.columns, strict=False):
            alignment = column.style.alignment if column.style is not None else None
            if alignment is None or not alignment.wrap_text:
                continue
            value = getattr(cell, "value", cell)
            if isinstance(value, str) and value:
                most = max(most, wrapped_lines(value, int(column.width * CHARS_PER_WIDTH)))
        return min(most, MAX_ROW_LINES)

    def close(self) -> list[WriteOnlyWorksheet]:
        """Add the table of the last part; that sheet still takes rows below the table."""
        _ = self.worksheet  # an empty list still gets its sheet and header
        self._close_part()
        return self.sheets


@contextmanager
def write_only_workbook(path: Path) -> Iterator[Workbook]:
    """A write-only workbook saved atomically to `path` when the block ends without an error.

    On an error the half-written sheets are closed and their temporary files removed: left open,
    openpyxl's row generators raise again when they are garbage-collected.
    """
    wb = Workbook(write_only=True)
    try:
        yield wb
        with atomic_output(path) as tmp:
            wb.save(tmp)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    for ws in wb.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        with suppress(Exception):
            if not ws.closed:
                ws.close()
        with suppress(Exception):
            writer.cleanup()


def _table_counter(workbook: Workbook) -> int:
    """Table names are unique per workbook; count the tables already added."""
    return 1 + sum(len(ws.tables) for ws in workbook.worksheets)


@lru_cache(maxsize=8192)    # requirement, remediation and title texts repeat across customers
def wrapped_lines(text: str, chars: int) -> int:
    """How many lines `text` takes wrapped at word boundaries in `chars` characters."""
    chars = max(chars, 1)
    return sum(max(1, len(textwrap.wrap(line, chars, break_on_hyphens=False)))
               if len(line) > chars else 1 for line in text.splitlines() or [""])


def widths_for(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, low: float = 8,
               high: float = 60) -> list[float]:
    """Column widths from the header and the first rows' text lengths (write-only: set up front)."""
    widths = [max(low, min(high, len(h) + 2)) for h in headers]
    for row in rows[:200]:
        for index, value in enumerate(row[: len(widths)]):
            length = 17 if hasattr(value, "isoformat") else len(str(value)) if value is not None else 0
            widths[index] = max(widths[index], min(high, length + 2))
    return widths


@dataclass(frozen=True)
class Highlight:
    """A conditional format: cells of one column equal to `value` get this fill and font colour."""

    value: str
    fill: str
    font: str = "1D2939"


def highlight_values(ws: WriteOnlyWorksheet, column: int, first: int, last: int, rules: Iterable[Highlight]) -> None:
    """Colour the cells of `column` by their text; a formula's new result recolours its cell."""
    letter = get_column_letter(column)
    span = f"{letter}{first}:{letter}{last}"
    for rule in rules:
        ws.conditional_formatting.add(
            span,
            FormulaRule(
                formula=[f'${letter}{first}="{rule.value}"'],
                fill=PatternFill("solid", fgColor=rule.fill, bgColor=rule.fill),
                font=Font(color=rule.font, bold=True),
            ),
        )


def append_note(ws: WriteOnlyWorksheet, row: int, text: str, columns: Sequence[Column], style: CellStyle) -> None:
    """A line of text merged across the table's width and wrapped, so it prints inside the page."""
    chars_per_line = max(sum(c.width for c in columns) * 0.95, 1)
    lines = math.ceil(len(text) / chars_per_line)
    ws.row_dimensions[row].height = LINE_HEIGHT_PT * max(lines, 1) + 2
    ws.merged_cells.add(f"A{row}:{get_column_letter(len(columns))}{row}")
    ws.append([text_cell(ws, text, style)])
