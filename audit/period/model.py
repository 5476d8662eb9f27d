"""The period report's view-model: frozen dataclasses built before any template or workbook runs."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


class ResponseLike(Protocol):
    """What the period report reads of an audit.responses.Response (the contract's fields)."""

    owner: str
    response: str
    target_date: date

    def overdue(self, on: date, still_open: bool) -> bool: ...


@dataclass(frozen=True)
class Evidence:
    """The night, run and seal a fact was read from."""

    night: date
    run_id: str
    seal_digest: str


@dataclass(frozen=True)
class ExceptionInterval:
    """A maximal run of evaluated FAIL/WARN nights of one check version.

    A night with no run inside it does not end it (nothing showed the finding was fixed) but is
    counted in `gap_nights`; an ERROR night does end it (the evidence of that night is missing, and
    it is listed on its own). `ending`: "remediated", "accepted risk", "still open", "unknown" or
    "continued under version N".
    """

    check_id: str
    check_version: int
    severity: str
    worst_status: str
    first: date
    last: date
    nights: int             # calendar nights first..last inclusive
    gap_nights: int         # of those, nights without a run
    runs: int
    first_evidence: Evidence
    last_evidence: Evidence
    ending: str
    ended_on: date | None   # the night whose result ended it


@dataclass(frozen=True)
class ResponseView:
    owner: str
    response: str
    target_date: date
    overdue: bool


@dataclass(frozen=True)
class ControlOperation:
    """One check version over the part of the period it was in force."""

    check_id: str
    check_version: int
    title: str
    severity: str
    first: date
    last: date
    nights: int
    evaluated: int                         # nights with a result (ERROR included)
    counts: tuple[tuple[str, int], ...]    # status → nights, canonical order, zeros left out
    no_run: tuple[date, ...]               # nights with no result at all
    error_nights: tuple[date, ...]         # evidence missing
    exceptions: tuple[ExceptionInterval, ...]
    last_status: str | None                # of the last evaluated night of the check (any version)
    codes: str                             # one letter per night first..last (_series.CODES; "." no result)
    response: ResponseView | None
    conclusion: str

    def count(self, status: str) -> int:
        return dict(self.counts).get(status, 0)

    @property
    def operated(self) -> int:
        """Nights the control was found operating (PASS): the figure the conclusion leads with."""
        return self.count("PASS")


@dataclass(frozen=True)
class PopulationItem:
    """One item of a population with the runs that first and last saw it."""

    kind: str
    item_id: str
    name: str | None
    related: str | None
    state: str | None
    start: datetime | None
    end: datetime | None
    detail: str | None
    evidence: str | None             # the resource whose raw evidence holds it
    first_seen: Evidence
    last_seen: Evidence
    nights_seen: int
    beyond_policy_nights: int        # assignments: nights it outlived its policy
    outcome: str                     # assignment: expired/removed/still active; guest: added/removed/…


@dataclass(frozen=True)
class NightSource:
    night: date
    run_id: str
    evaluation_id: str
    evaluation_digest: str
    seal_digest: str
    tool_version: str


@dataclass(frozen=True)
class ToolVersionSpan:
    tool_version: str
    first: date
    last: date
    nights: int


@dataclass(frozen=True)
class SignOff:
    checks: tuple[tuple[str, int], ...]          # (check id, version) in scope
    tool_versions: tuple[ToolVersionSpan, ...]
    first_run: NightSource | None
    last_run: NightSource | None
    sources: tuple[NightSource, ...]


@dataclass(frozen=True)
class CustomerPeriod:
    tenant_id: str
    customer: str
    first: date
    last: date
    nights: int
    nights_with_run: int
    controls: tuple[ControlOperation, ...]
    assignments: tuple[PopulationItem, ...]
    reviews: tuple[PopulationItem, ...]
    guests: tuple[PopulationItem, ...]
    gdap: tuple[PopulationItem, ...]
    signoff: SignOff
    generated_at: datetime

    @property
    def exceptions(self) -> tuple[ExceptionInterval, ...]:
        return tuple(e for c in self.controls for e in c.exceptions)

    def conclusion_counts(self) -> dict[str, int]:
        """The cover's figures: controls with no exception, gap or missing evidence, and the rest."""
        return {
            "Controls (check versions)": len(self.controls),
            "Controls with exceptions": sum(1 for c in self.controls if c.exceptions),
            "Controls with nights without a run": sum(1 for c in self.controls if c.no_run),
            "Controls with missing evidence": sum(1 for c in self.controls if c.error_nights),
            "Exceptions in the period": len(self.exceptions),
            "Exceptions still open": sum(1 for e in self.exceptions if e.ending == "still open"),
            "Responses overdue": sum(1 for c in self.controls if c.response and c.response.overdue),
        }


@dataclass(frozen=True)
class PeriodReport:
    first: date
    last: date
    customers: tuple[CustomerPeriod, ...]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def period_json(customer: CustomerPeriod) -> bytes:
    """The figures the PDF is drawn from, attached to it: one customer's period, dates in ISO 8601."""
    data = _plain(dataclasses.asdict(customer))
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()
