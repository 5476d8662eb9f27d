"""A simulated year of the results ledger, built night by night as frames in the ledger's schema.

The frames are built in exactly audit.ledger's RESULTS_SCHEMA / ITEMS_SCHEMA, one run per night, its
nightly evaluation "001" (tests/period/test_real_nights.py runs real nights through the ledger).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl

from audit.checks import SPECS
from audit.ledger import ITEMS_SCHEMA, RESULTS_SCHEMA

FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)
TENANT = "0a1b2c3d-0000-4000-8000-000000000001"
OTHER_TENANT = "0a1b2c3d-0000-4000-8000-000000000002"
HOSTILE = '=HYPERLINK("http://evil.example","x") <b>Contoso</b> \u202eevil'

MISSED = date(2026, 3, 10)                                    # no run at all that night
BUMP = date(2026, 7, 1)                                       # GA-001 v2 → v3
ERRORS = (date(2026, 6, 10), date(2026, 6, 11))               # AR-002 evidence missing
OUTLIVES = (date(2026, 2, 14), date(2026, 2, 20))             # EM-007 FAIL: an assignment beyond policy
GAP_EXCEPTION = (date(2026, 3, 8), date(2026, 3, 12))         # EM-005 FAIL across the missed night
ACCEPTED = (date(2026, 4, 1), date(2026, 4, 30))              # EM-003 ACCEPTED, then the acceptance expires:
ACCEPTED_LAPSED = (date(2026, 5, 1), date(2026, 5, 3))        #   FAIL, then fixed
REVIEW_OVERDUE = date(2026, 9, 1)                             # AR-001 FAIL from here to the end
LAST_UNKNOWN = (date(2026, 12, 1), date(2026, 12, 20))        # GS-004 WARN, then ERROR to the end
TOOL_BUMP = date(2026, 6, 30)


def _in(night: date, span: tuple[date, date]) -> bool:
    return span[0] <= night <= span[1]


def status_of(check: str, night: date) -> str:
    """The scenario: every check PASSes except where the year's story says otherwise."""
    if check == "EM-007" and _in(night, OUTLIVES):
        return "FAIL"
    if check == "EM-005" and _in(night, GAP_EXCEPTION):
        return "FAIL"
    if check == "EM-003" and _in(night, ACCEPTED):
        return "ACCEPTED"
    if check == "EM-003" and _in(night, ACCEPTED_LAPSED):
        return "FAIL"
    if check == "AR-002" and night in ERRORS:
        return "ERROR"
    if check == "AR-001" and night >= REVIEW_OVERDUE:
        return "FAIL"
    if check == "GS-004" and _in(night, LAST_UNKNOWN):
        return "WARN"
    if check == "GS-004" and night > LAST_UNKNOWN[1]:
        return "ERROR"
    if check == "GA-001" and date(2026, 6, 28) <= night <= date(2026, 7, 2):
        return "FAIL"                                          # an exception across the version bump
    if check == "XT-002":
        return "NOT_APPLICABLE"
    return "PASS"


def version_of(check: str, night: date) -> int:
    return SPECS[check].version + (1 if check == "GA-001" and night >= BUMP else 0)


@dataclass(frozen=True)
class Run:
    night: date
    run_id: str
    seal_digest: str
    evaluation_digest: str
    tool_version: str


def run_of(night: date, tenant: str = TENANT) -> Run:
    run_id = f"{night:%Y%m%d}T020000Z-{hashlib.sha256(night.isoformat().encode()).hexdigest()[:6]}"
    digest = hashlib.sha256(f"seal {run_id}".encode()).hexdigest()
    return Run(night, run_id, digest, hashlib.sha256(f"eval {run_id} {tenant}".encode()).hexdigest(),
               "1.4.0" if night < TOOL_BUMP else "1.5.0")


def result_rows(night: date, tenant: str = TENANT, customer: str = "Contoso Retail") -> list[dict]:
    run = run_of(night, tenant)
    at = datetime.combine(night, time(2, 0), UTC)
    return [{"night": night, "run_id": run.run_id, "evaluation_id": "001", "seal_digest": run.seal_digest,
             "evaluation_digest": run.evaluation_digest, "tool_version": run.tool_version, "collected_at": at,
             "as_of": at, "tenant_id": tenant, "customer": customer, "check_id": check,
             "check_version": version_of(check, night), "severity": spec.severity.value,
             "status": status_of(check, night), "subject": None, "examined": None, "conforming": None,
             "summary": HOSTILE if check == "EM-007" else "ok", "reason": ""}
            for check, spec in SPECS.items()]


def _at(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), UTC)


def item_rows(night: date, tenant: str = TENANT, customer: str = "Contoso Retail") -> list[dict]:
    run = run_of(night, tenant)
    base = {"night": night, "run_id": run.run_id, "evaluation_id": "001", "seal_digest": run.seal_digest,
            "tenant_id": tenant, "customer": customer}
    rows = []

    def add(kind: str, item_id: str, name: str, related: str, state: str, start: datetime | None,
            end: datetime | None, beyond: bool | None, detail: dict, evidence: str) -> None:
        rows.append({**base, "kind": kind, "item_id": item_id, "name": name, "related": related, "state": state,
                     "start": start, "end": end, "beyond_policy": beyond, "detail": json.dumps(detail),
                     "evidence": evidence})

    # a-outlives: granted Feb 1, its end Feb 13 exceeds the policy's 7 days from Feb 14 on; gone Feb 21.
    if date(2026, 2, 1) <= night <= date(2026, 2, 20):
        add("assignment", "a-outlives", HOSTILE, "MSSP Tier 1", "delivered", _at(date(2026, 2, 1)),
            _at(date(2026, 2, 13)), _in(night, OUTLIVES), {"policy_days": 7}, "access_package_assignments")
    # a-removed: removed on May 10, long before its end date.
    if date(2026, 1, 1) <= night <= date(2026, 5, 10):
        add("assignment", "a-removed", "bob@soc.mssp.example", "MSSP Tier 2", "delivered", _at(date(2025, 12, 1)),
            _at(date(2026, 11, 30)), False, {}, "access_package_assignments")
    add("assignment", "a-active", "carol@soc.mssp.example", "MSSP Approvers", "delivered", _at(date(2025, 6, 1)),
        _at(date(2027, 6, 1)), False, {}, "access_package_assignments")
    review_state = "InProgress" if night >= date(2026, 8, 1) else "NotStarted"
    if night >= date(2026, 7, 15):
        add("review_instance", "r-overdue", "Quarterly MSSP access review", "def-1", review_state,
            _at(date(2026, 8, 1)), _at(date(2026, 8, 31)), None, {"Approve": 2, "NotReviewed": 5},
            "access_review_instances")
    add("mssp_guest", "g-always", "alice@soc.mssp.example", "soc.mssp.example", "Accepted", _at(date(2025, 1, 1)),
        None, None, {}, "guests")
    if night >= date(2026, 5, 1):
        add("mssp_guest", "g-added", "dave@soc.mssp.example", "soc.mssp.example", "Accepted",
            _at(date(2026, 4, 30)), None, None, {}, "guests")
    if night <= date(2026, 9, 15):
        add("mssp_guest", "g-removed", HOSTILE, "soc.mssp.example", "disabled", _at(date(2025, 3, 1)), None, None,
            {}, "guests")
    add("gdap_relationship", "gdap-1", "MSSP SOC", tenant, "active", _at(date(2025, 1, 1)), _at(date(2027, 1, 1)),
        None, {"roles": ["Security Reader", "Security Operator"]}, "gdap_relationships")
    return rows


def year(first: date = FIRST, last: date = LAST, tenant: str = TENANT,
         customer: str = "Contoso Retail") -> tuple[pl.DataFrame, pl.DataFrame]:
    """The year's results and items frames: one night at a time, MISSED left out entirely."""
    results: list[dict] = []
    items: list[dict] = []
    night = first
    while night <= last:
        if night != MISSED:
            results += result_rows(night, tenant, customer)
            items += item_rows(night, tenant, customer)
        night += timedelta(days=1)
    return pl.DataFrame(results, schema=RESULTS_SCHEMA), pl.DataFrame(items, schema=ITEMS_SCHEMA)
