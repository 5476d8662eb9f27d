from __future__ import annotations

import csv
from pathlib import Path

from audit.render.csv_out import COLUMNS, write_findings_csv
from tests.render import factories


def test_findings_csv_is_complete_and_inert(tmp_path: Path) -> None:
    findings = [f for f in factories.findings(hostile=True)]
    path = write_findings_csv([("=HYPERLINK(\"x\")", f) for f in findings], tmp_path / "findings.csv")
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(findings) + 1
    for row in rows[1:]:
        assert row[0] == "'=HYPERLINK(\"x\")"
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
