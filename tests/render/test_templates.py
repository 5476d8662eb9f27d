from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from audit.render.templates import (
    MAX_CELL_CHARS,
    format_cell,
    format_score,
    format_utc,
    make_environment,
    templates_dir,
)


def test_templates_are_found_in_the_checkout() -> None:
    directory = templates_dir()
    assert (directory / "customer.html").is_file()
    assert (directory / "report.css").is_file()


def test_environment_escapes_and_refuses_undefined_names(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("{{ name }}|{{ missing }}")
    env = make_environment(tmp_path)
    with pytest.raises(UndefinedError):
        env.get_template("t.html").render(name="x")
    (tmp_path / "ok.html").write_text("{{ name }}")
    assert env.get_template("ok.html").render(name="<script>alert(1)</script>") == \
        "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_tenant_text_is_cleaned_and_isolated(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("<p>{{ name }}</p>")
    out = make_environment(tmp_path).get_template("t.html").render(name="a\u202eb\x07c")
    assert out == "<p>\u2068a\u202ebc\u2069</p>"


def test_dates_print_in_utc() -> None:
    assert format_utc(datetime(2025, 1, 14, 2, 3, 59, tzinfo=UTC)) == "2025-01-14 02:03 UTC"
    cet = timezone(timedelta(hours=1))
    assert format_utc(datetime(2025, 1, 14, 3, 3, tzinfo=cet)) == "2025-01-14 02:03 UTC"
    assert format_utc(date(2025, 1, 14)) == "2025-01-14"


def test_scores_and_cells() -> None:
    assert format_score(None) == "n/a"
    assert format_score(100.0) == "100"
    assert format_score(61.54) == "61.5"
    assert format_cell(None) == "—"
    assert format_cell(True) == "yes"
    assert format_cell(12345) == "12,345"
    long = format_cell("W" * 10_000)
    assert len(long) < MAX_CELL_CHARS + 60 and "shortened from 10,000 characters" in long
