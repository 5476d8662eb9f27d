"""Findings of every customer as CSV, for ticketing systems and spreadsheets.

A CSV has no cell types: a value starting with =, +, -, @, tab or CR would run as a formula when
opened in Excel, so such values get a leading apostrophe (OWASP's CSV-injection advice).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from audit.render.viewmodel import FindingView
from audit.snapshot.store import atomic_open

COLUMNS = ("customer", "tenant_id", "check_id", "title", "area", "severity", "status", "summary", "reason", "evidence_rows")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_findings_csv(rows: Iterable[tuple[str, str, FindingView]], path: Path) -> Path:
    """`rows` are (customer, tenant id, finding): the tenant id tells apart customers that share a name."""
    with atomic_open(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for customer, tenant_id, f in rows:
            writer.writerow([inert(v) for v in (customer, tenant_id, f.versioned_id, f.title, f.area, f.severity, f.status,
                                                f.summary, f.reason, f.evidence.row_count)])
    return path
