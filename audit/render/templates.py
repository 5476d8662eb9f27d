"""Where the report templates live and the Jinja2 environment that renders them."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from audit.render.filenames import BIDI_CONTROLS

# U+2068 FIRST STRONG ISOLATE … U+2069 POP DIRECTIONAL ISOLATE: an override (U+202E) inside an
# isolate ends at the PDI, so a tenant string can never reorder the text around it.
_FSI = "\u2068"
_PDI = "\u2069"
_KEEP_CONTROLS = frozenset("\t\n")

# WeasyPrint's line breaking is roughly quadratic in the length of an unbroken run (a 10,000-char
# name takes ~10 s in a table cell), so tenant text is shortened here; the workbook keeps it whole.
MAX_TEXT_CHARS = 2_000
MAX_CELL_CHARS = 300

# A table cell wraps a long unbroken token where the cell ends, at any letter. Long tokens get
# zero-width break opportunities at the points a reader would split them: before each capital of
# a camelCase word (allConfigured·Connected·Organization·Users) and after the separators of an
# address (a-omar@soc.mssp.example, …#EXT#@contoso.onmicrosoft.com). Hashes and GUIDs get none.
ZERO_WIDTH_SPACE = "\u200b"
BREAKABLE_FROM = 16                   # characters: shorter tokens fit any column
_LONG_TOKEN = re.compile(rf"[^\s\u200b]{{{BREAKABLE_FROM},}}")
_BREAK_POINT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[@_/#.:])(?=[^\s@_/#.:])")
_UNBREAKABLE = re.compile(r"[^\s\u200b-]+")


def templates_dir() -> Path:
    """The packaged templates (`audit/_templates` in a wheel), else `reports/templates` of a checkout."""
    package_root = Path(__file__).resolve().parent.parent
    packaged = package_root / "_templates"
    if packaged.is_dir():
        return packaged
    return package_root.parent / "reports" / "templates"


def shorten(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [shortened from {len(text):,} characters]"


def clean_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Shorten, drop control characters (a PDF cannot show U+0007), isolate text carrying bidi controls."""
    text = shorten(text, limit)
    if text.isprintable():
        return text
    text = "".join(ch for ch in text if ch in _KEEP_CONTROLS or unicodedata.category(ch) not in {"Cc", "Cs"})
    if any(ch in BIDI_CONTROLS for ch in text):
        return f"{_FSI}{text}{_PDI}"
    return text


def _finalize(value: Any) -> Any:
    """Applied to every `{{ … }}` before escaping: tenant text is cleaned, None prints as nothing."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return value


def format_utc(value: datetime | date | None) -> str:
    """`YYYY-MM-DD HH:MM UTC`; naive datetimes are taken to be UTC already."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def format_utc_seconds(value: datetime | None) -> str:
    """`YYYY-MM-DD HH:MM:SS UTC`: the instant a report stands at, to the second its figures count from."""
    if value is None:
        return ""
    return (value.astimezone(UTC) if value.tzinfo is not None else value).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_span(start: datetime, end: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS to HH:MM:SS UTC`, the date said once when both fall on it."""
    first, last = format_utc_seconds(start), format_utc_seconds(end)
    if first[:10] == last[:10]:
        return f"{first[:-4]} to {last[11:]}"
    return f"{first} to {last}"


def format_number(value: int | float | None, decimals: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:,.{decimals}f}"


def format_score(value: float | None) -> str:
    """A 0–100 score: whole numbers without decimals, otherwise one decimal; None is "n/a"."""
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def with_break_points(text: str) -> str:
    """`text` with zero-width break opportunities inside its long tokens (see ZERO_WIDTH_SPACE)."""
    return _LONG_TOKEN.sub(lambda token: _BREAK_POINT.sub(ZERO_WIDTH_SPACE, token.group()), text)


def longest_unbroken(text: str) -> int:
    """The longest run of `text` that cannot wrap once its break points are in: a column's least width."""
    return max((len(run) for run in _UNBREAKABLE.findall(with_break_points(text))), default=0)


def format_cell(value: Any) -> str:
    """One evidence cell as text, shortened to what a table cell can show, wrapping at sensible points."""
    if isinstance(value, str):
        return with_break_points(clean_text(value, MAX_CELL_CHARS))
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return format_utc(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return format_number(value, 0 if value.is_integer() else 2)
    return with_break_points(clean_text(str(value), MAX_CELL_CHARS))


def clip(value: str, limit: int = 160) -> str:
    """At most `limit` characters, marked with an ellipsis when cut (headings, running header)."""
    return value if len(value) <= limit else f"{value[: limit - 1]}…"


def ordered_keys(counts: Mapping[str, int], order: Iterable[str]) -> list[str]:
    """The keys of `counts` in the canonical order first (zero counts included), anything unexpected after."""
    canonical = list(order)
    return canonical + [key for key in counts if key not in canonical]


def short_hash(value: str, length: int = 12) -> str:
    return value[:length] if value else "—"


def make_environment(directory: Path | None = None) -> Environment:
    """The one Jinja2 environment for reports: always autoescaped, undefined names are errors."""
    env = Environment(
        loader=FileSystemLoader(str(directory or templates_dir())),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        utc=format_utc,
        utc_seconds=format_utc_seconds,
        span=format_span,
        number=format_number,
        score=format_score,
        cell=format_cell,
        breakable=with_break_points,
        clip=clip,
        short_hash=short_hash,
    )
    return env
