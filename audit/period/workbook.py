"""The period workbooks: one per customer (every population row with its evidence), and one across
the portfolio (controls and exceptions of every customer, keyed by tenant id)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment

from audit.period._series import NO_RESULT, STATUSES, UNKNOWN
from audit.period.model import ControlOperation, CustomerPeriod, ExceptionInterval, PopulationItem
from audit.render._xlsx_safe import CellStyle
from audit.render._xlsx_sheet import Column, SheetNames, TableSheetWriter, write_only_workbook

NO_RUN = "NO RUN"
_WRAP = CellStyle(alignment=Alignment(vertical="top", wrap_text=True))

CONTROL_COLUMNS = (("Check", 10), ("Version", 8), ("Title", 40), ("Severity", 10), ("In force from", 12),
                   ("In force to", 12), ("Nights", 8), ("Evaluated", 9), ("PASS", 7), ("FAIL", 7), ("WARN", 7),
                   ("ERROR", 7), ("NOT_APPLICABLE", 9), ("ACCEPTED", 9), ("MANUAL", 8), ("ATTESTED", 9),
                   ("No run", 8), ("Exceptions", 9), ("Last result", 12), ("Conclusion", 60))
EXCEPTION_COLUMNS = (("Check", 10), ("Version", 8), ("Severity", 10), ("Worst result", 10), ("First night", 12),
                     ("Last night", 12), ("Nights", 8), ("Nights without a run", 10), ("Runs", 7), ("Ended", 24),
                     ("Ended on", 12), ("First run", 26), ("First seal", 66), ("Last run", 26), ("Last seal", 66))
EVIDENCE_COLUMNS = (("First seen", 12), ("First run", 26), ("First seal", 66), ("Last seen", 12),
                    ("Last run", 26), ("Last seal", 66), ("Nights seen", 8), ("Evidence resource", 26))


def control_row(c: ControlOperation) -> list[Any]:
    return [c.check_id, c.check_version, c.title, c.severity, c.first, c.last, c.nights, c.evaluated,
            *(c.count(s) for s in ("PASS", "FAIL", "WARN", "ERROR", "NOT_APPLICABLE", "ACCEPTED", "MANUAL",
                                   "ATTESTED")),
            len(c.no_run), len(c.exceptions), c.last_status, c.conclusion]


def exception_row(e: ExceptionInterval) -> list[Any]:
    return [e.check_id, e.check_version, e.severity, e.worst_status, e.first, e.last, e.nights, e.gap_nights,
            e.runs, e.ending, e.ended_on, e.first_evidence.run_id, e.first_evidence.seal_digest,
            e.last_evidence.run_id, e.last_evidence.seal_digest]


def evidence_cells(i: PopulationItem) -> list[Any]:
    return [i.first_seen.night, i.first_seen.run_id, i.first_seen.seal_digest, i.last_seen.night,
            i.last_seen.run_id, i.last_seen.seal_digest, i.nights_seen, i.evidence]


POPULATIONS: tuple[tuple[str, str, tuple[tuple[str, float], ...], Callable[[PopulationItem], list[Any]]], ...] = (
    ("Assignments", "assignment",
     (("Assignment id", 38), ("Analyst", 30), ("Access package", 24), ("State", 12), ("Start", 17), ("End", 17),
      ("How it ended", 12), ("Beyond policy", 9), ("Nights beyond policy", 10), ("Policy detail", 30)),
     lambda i: [i.item_id, i.name, i.related, i.state, i.start, i.end, i.outcome, i.beyond_policy_nights > 0,
                i.beyond_policy_nights, i.detail]),
    ("Reviews", "review_instance",
     (("Instance id", 38), ("Review", 30), ("Definition id", 38), ("State", 12), ("Start", 17), ("End", 17),
      ("Outcome", 40)),
     lambda i: [i.item_id, i.name, i.related, i.state, i.start, i.end, i.detail]),
    ("Guests", "mssp_guest",
     (("Guest id", 38), ("Guest", 34), ("Mail domain", 22), ("State", 12), ("Created", 17), ("In the period", 16)),
     lambda i: [i.item_id, i.name, i.related, i.state, i.start, i.outcome]),
    ("GDAP", "gdap_relationship",
     (("Relationship id", 38), ("Relationship", 30), ("Customer tenant", 38), ("State", 12), ("Start", 17),
      ("End", 17), ("Roles", 50)),
     lambda i: [i.item_id, i.name, i.related, i.state, i.start, i.end, i.detail]),
)


def _writer(wb: Workbook, names: SheetNames, title: str, columns: Sequence[tuple[str, float]],
            preamble: Sequence[str]) -> TableSheetWriter:
    cols = [Column(h, w, _WRAP if w >= 40 else None) for h, w in columns]
    return TableSheetWriter(wb, names, title, cols, preamble=preamble)


def _sheet(wb: Workbook, names: SheetNames, title: str, columns: Sequence[tuple[str, float]],
           rows: Iterable[Sequence[Any]], preamble: Sequence[str]) -> None:
    writer = _writer(wb, names, title, columns, preamble)
    for row in rows:
        writer.append(row)
    writer.close()


def _population(period: CustomerPeriod, kind: str) -> tuple[PopulationItem, ...]:
    return {"assignment": period.assignments, "review_instance": period.reviews, "mssp_guest": period.guests,
            "gdap_relationship": period.gdap}[kind]


def night_rows(period: CustomerPeriod) -> Iterable[list[Any]]:
    """Every night × check version in force: its result, or NO RUN, with the run it came from."""
    runs = {s.night: s for s in period.signoff.sources}
    for c in period.controls:
        for offset, code in enumerate(c.codes):
            night = c.first + timedelta(days=offset)
            source = runs.get(night)
            status = STATUSES.get(code, UNKNOWN) if code != NO_RESULT else None
            yield [night, c.check_id, c.check_version, status or NO_RUN,
                   source.run_id if source and status else None, source.seal_digest if source and status else None]


def write_customer_workbook(period: CustomerPeriod, path: Path) -> Path:
    """One customer's period workbook; only that customer's rows."""
    preamble = (f"{period.customer} ({period.tenant_id})", f"Period {period.first} to {period.last}")
    names = SheetNames()
    with write_only_workbook(path) as wb:
        _sheet(wb, names, "Controls", CONTROL_COLUMNS, map(control_row, period.controls), preamble)
        _sheet(wb, names, "Exceptions", EXCEPTION_COLUMNS, map(exception_row, period.exceptions), preamble)
        _sheet(wb, names, "Nights", (("Night", 12), ("Check", 10), ("Version", 8), ("Result", 16), ("Run", 26),
                                      ("Seal", 66)), night_rows(period), preamble)
        for title, kind, columns, cells in POPULATIONS:
            _sheet(wb, names, title, (*columns, *EVIDENCE_COLUMNS),
                   ([*cells(i), *evidence_cells(i)] for i in _population(period, kind)), preamble)
        _sheet(wb, names, "Responses", (("Check", 10), ("Version", 8), ("Last result", 12), ("Owner", 30),
                                         ("Response", 60), ("Target date", 12), ("Overdue", 9)),
               ([c.check_id, c.check_version, c.last_status, c.response.owner, c.response.response,
                 c.response.target_date, c.response.overdue] for c in period.controls if c.response), preamble)
        _sheet(wb, names, "Sign-off", (("Night", 12), ("Run", 26), ("Evaluation", 10), ("Evaluation digest", 66),
                                        ("Seal", 66), ("Tool version", 12)),
               ([s.night, s.run_id, s.evaluation_id, s.evaluation_digest, s.seal_digest, s.tool_version]
                for s in period.signoff.sources), preamble)
    return path


def write_portfolio_workbook(periods: Iterable[CustomerPeriod], path: Path) -> Path:
    """Controls and exceptions of every customer, a tenant id on each row; populations stay in each
    customer's own workbook (one customer's people never sit in a file handed to another)."""
    periods = list(periods)
    names = SheetNames()
    key = (("Tenant ID", 38), ("Customer", 28))
    preamble = ("Portfolio period report",
                f"Period {periods[0].first} to {periods[0].last}" if periods else "No customers")
    with write_only_workbook(path) as wb:
        _sheet(wb, names, "Controls", (*key, *CONTROL_COLUMNS),
               ([p.tenant_id, p.customer, *control_row(c)] for p in periods for c in p.controls), preamble)
        _sheet(wb, names, "Exceptions", (*key, *EXCEPTION_COLUMNS),
               ([p.tenant_id, p.customer, *exception_row(e)] for p in periods for e in p.exceptions), preamble)
        _sheet(wb, names, "Customers", (*key, ("Nights", 8), ("Nights with a run", 10), ("Assignments", 10),
                                         ("Review instances", 10), ("MSSP guests", 10), ("GDAP relationships", 10)),
               ([p.tenant_id, p.customer, p.nights, p.nights_with_run, len(p.assignments), len(p.reviews),
                 len(p.guests), len(p.gdap)] for p in periods), preamble)
    return path
