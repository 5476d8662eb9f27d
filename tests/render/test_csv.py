from __future__ import annotations

import csv
from pathlib import Path

from audit.render.csv_out import COLUMNS, write_findings_csv
from tests.render import factories


def test_findings_csv_is_complete_and_inert(tmp_path: Path) -> None:
    findings = [f for f in factories.findings(hostile=True)]
    path = write_findings_csv([("=HYPERLINK(\"x\")", "0a1b2c3d-0000-4000-8000-00000000000a", f) for f in findings],
                              tmp_path / "findings.csv")
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(findings) + 1
    for row in rows[1:]:
        assert row[0] == "'=HYPERLINK(\"x\")" and row[1] == "0a1b2c3d-0000-4000-8000-00000000000a"
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
