"""Cells that are safe to write: tenant text is always a string cell, never a formula.

openpyxl turns any str starting with "=" into a formula, and Excel evaluates what a user re-enters
from a cell starting with "+", "-" or "@". Tenant strings are therefore written as explicit string
cells (`data_type = "s"`), with the quote-prefix flag on the dangerous ones so that editing the cell
keeps it text. Only `formula_cell` writes formulas, and only our own.
"""

from __future__ import annotations

import math
import re
from copy import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Fill, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

EXCEL_MAX_CELL_CHARS = 32_767
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
INTEGER_FORMAT = "#,##0"

# XML 1.0 cannot carry C0 controls (other than tab, LF, CR), lone surrogates, U+FFFE or U+FFFF;
# openpyxl raises IllegalCharacterError on the first two, lxml on the rest.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, eq=False)   # compared by identity: a cheap key for the style cache below
class CellStyle:
    font: Font | None = None
    fill: Fill | None = None
    alignment: Alignment | None = None
    border: Border | None = None
    number_format: str | None = None
    named: str | None = None           # a built-in named style such as "Input"


# openpyxl's default font; a Font without a name makes LibreOffice fall back to a serif face.
FONT_NAME = "Calibri"
FONT_SIZE = 11


def font(**kwargs: Any) -> Font:
    return Font(name=FONT_NAME, size=kwargs.pop("size", FONT_SIZE), **kwargs)


HEADER_STYLE = CellStyle(
    font=font(bold=True, color="1D2939"),
    fill=PatternFill("solid", fgColor="E4E7EC"),
    alignment=Alignment(vertical="bottom", wrap_text=True),
    border=Border(bottom=Side(style="thin", color="98A2B3")),
)
TITLE_STYLE = CellStyle(font=font(bold=True, size=13, color="101828"))
NOTE_STYLE = CellStyle(font=font(italic=True, color="475467"))
_PLAIN = CellStyle()


def clean_text(text: str) -> str:
    """`text` without XML-illegal characters, cut to what one Excel cell holds."""
    if not text.isprintable():       # every XML-illegal character is unprintable: the common case skips the regex
        text = _XML_ILLEGAL.sub("", text)
    if len(text) > EXCEL_MAX_CELL_CHARS:
        text = text[: EXCEL_MAX_CELL_CHARS - 1] + "…"
    return text


def excel_value(value: Any) -> Any:
    """A value openpyxl can store: naive UTC datetimes, finite numbers, clean text."""
    if isinstance(value, datetime):
        # Excel has no time zones; every time in these workbooks is UTC and says so in its header.
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float | date):
        return value
    return clean_text(str(value))


# Setting font, fill … on a cell looks each object up in the workbook's style lists (hashing
# every attribute), which dominated the time on large sheets. The resulting index array is the same
# for every cell with the same style, so it is computed once per workbook and copied.
_STYLE_ARRAYS: WeakKeyDictionary[Workbook, dict[tuple[CellStyle, str | None], StyleArray]] = WeakKeyDictionary()


def _apply(cell: WriteOnlyCell, style: CellStyle | None, number_format: str | None = None) -> None:
    if style is None and number_format is None:
        return
    style = style or _PLAIN
    known = _STYLE_ARRAYS.setdefault(cell.parent.parent, {})
    key = (style, number_format)
    if key in known:
        cell._style = copy(known[key])
        return
    if style.named is not None:
        cell.style = style.named
    if style.font is not None:
        cell.font = style.font
    if style.fill is not None:
        cell.fill = style.fill
    if style.alignment is not None:
        cell.alignment = style.alignment
    if style.border is not None:
        cell.border = style.border
    if number_format or style.number_format:
        cell.number_format = number_format or style.number_format
    known[key] = copy(cell._style)


def value_cell(ws: WriteOnlyWorksheet, value: Any, style: CellStyle | None = None) -> Any:
    """What to append for `value`: the plain value when that is safe, else a styled string cell.

    Plain values are returned as they are because a `WriteOnlyCell` per cell costs time on
    sheets with hundreds of thousands of rows.
    """
    value = excel_value(value)
    if isinstance(value, str):
        return _string_cell(ws, value, style)
    fmt = None
    if isinstance(value, datetime | date) and (style is None or style.number_format is None):
        fmt = DATETIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
    if style is None and fmt is None:
        return value
    cell = WriteOnlyCell(ws, value=value)
    _apply(cell, style, fmt)
    return cell


def text_cell(ws: WriteOnlyWorksheet, text: str, style: CellStyle | None = None) -> Any:
    """A string cell holding exactly `text` (cleaned); never a formula."""
    return _string_cell(ws, clean_text(text), style)


def _string_cell(ws: WriteOnlyWorksheet, text: str, style: CellStyle | None) -> Any:
    if style is None and not text.startswith(FORMULA_TRIGGERS):
        return text
    cell = WriteOnlyCell(ws)
    cell.value = text
    cell.data_type = "s"
    _apply(cell, style)
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True
    return cell


_LINKABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def file_link_cell(ws: WriteOnlyWorksheet, name: str, style: CellStyle | None = None,
                   plain: CellStyle | None = None) -> Any:
    """The file name `name` as a link to that file beside the workbook (a relative target, so the
    reports folder can be moved or mailed whole). Only a plain file name of our own making is ever a
    link: anything else (a path, "not rendered", tenant text) stays an inert string cell, in `plain`."""
    if not _LINKABLE.fullmatch(name) or ".." in name:
        return text_cell(ws, name, plain)
    cell = _string_cell(ws, name, style or _PLAIN)
    cell.hyperlink = name
    return cell


def formula_cell(ws: WriteOnlyWorksheet, formula: str, style: CellStyle | None = None) -> WriteOnlyCell:
    """One of our own formulas; never called with tenant text."""
    if not formula.startswith("="):
        raise ValueError(f"not a formula: {formula!r}")
    cell = WriteOnlyCell(ws, value=formula)
    _apply(cell, style)
    return cell
