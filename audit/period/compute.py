"""The period report's figures, from the results ledger: pure functions, no I/O.

Input is the results frame already reduced to one result per night × tenant × check (the ledger's
`nightly()`), the items frame over the same nights, the period, the customers, a lookup of management
responses and the check catalogue. A night with no row is a gap — never a pass.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import polars as pl

from audit.models import CheckSpec, Status
from audit.period._populations import populations
from audit.period.model import (ControlOperation, CustomerPeriod, Evidence, ExceptionInterval, NightSource,
                                PeriodReport, ResponseLike, ResponseView, SignOff, ToolVersionSpan)

ResponseLookup = Callable[[str, str], ResponseLike | None]

OPEN = frozenset({Status.FAIL.value, Status.WARN.value})      # an open finding (responses contract)
REMEDIATED = frozenset({Status.PASS.value, Status.NOT_APPLICABLE.value, Status.ATTESTED.value})
STATUS_ORDER = tuple(s.value for s in Status)


class CustomerLike(Protocol):
    tenant_id: str
    name: str


@dataclass(frozen=True)
class _Night:
    """One check's result on one night."""

    version: int
    status: str
    severity: str
    run_id: str
    seal_digest: str


def nights_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _no_responses(_tenant: str, _check: str) -> None:
    return None


def compute(results: pl.DataFrame, items: pl.DataFrame, first: date, last: date, customers: Sequence[CustomerLike],
            responses: ResponseLookup = _no_responses, specs: Mapping[str, CheckSpec] | None = None, *,
            generated_at: datetime | None = None) -> PeriodReport:
    """Every customer's period, in the order given; a customer without any row is all gaps."""
    if specs is None:
        from audit.checks import SPECS
        specs = SPECS
    generated_at = generated_at or datetime.now(UTC)
    items = nightly_items(items, results)
    by_tenant = results.partition_by("tenant_id", as_dict=True) if results.height else {}
    items_by_tenant = items.partition_by("tenant_id", as_dict=True) if items.height else {}
    empty_results, empty_items = results.clear(), items.clear()
    return PeriodReport(first, last, tuple(
        customer_period(by_tenant.get((c.tenant_id.lower(),), empty_results),
                        items_by_tenant.get((c.tenant_id.lower(),), empty_items),
                        first, last, c.tenant_id.lower(), c.name, responses, specs, generated_at)
        for c in customers))


def nightly_items(items: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    """The items of the evaluations that are the nights' results: a second run or a re-evaluation of a
    night must not make an item look first or last seen by a run whose results the report does not use."""
    if not items.height:
        return items
    keys = ["night", "tenant_id", "run_id", "evaluation_id"]
    return items.join(results.select(keys).unique(), on=keys, how="semi")


def customer_period(results: pl.DataFrame, items: pl.DataFrame, first: date, last: date, tenant_id: str,
                    customer: str, responses: ResponseLookup, specs: Mapping[str, CheckSpec],
                    generated_at: datetime) -> CustomerPeriod:
    """One customer's period; `results` and `items` hold that customer's rows only."""
    period = nights_between(first, last)
    sources = _sources(results)
    evaluated = [s.night for s in sources]
    by_check: dict[str, dict[date, _Night]] = {}
    for night, check, version, status, severity, run_id, seal in results.select(
            "night", "check_id", "check_version", "status", "severity", "run_id", "seal_digest").iter_rows():
        by_check.setdefault(check, {})[night] = _Night(version, status, severity, run_id, seal)
    check_ids = list(specs) + sorted(set(by_check) - set(specs))
    controls = tuple(op for check in check_ids
                     for op in _check_operations(check, by_check.get(check, {}), period, specs.get(check),
                                                 responses(tenant_id, check)))
    assignments, reviews, guests, gdap = populations(items, evaluated)
    return CustomerPeriod(
        tenant_id=tenant_id, customer=customer, first=first, last=last, nights=len(period),
        nights_with_run=len(evaluated), controls=controls, assignments=assignments, reviews=reviews,
        guests=guests, gdap=gdap, generated_at=generated_at,
        signoff=SignOff(checks=tuple((c.check_id, c.check_version) for c in controls),
                        tool_versions=_tool_versions(sources), first_run=sources[0] if sources else None,
                        last_run=sources[-1] if sources else None, sources=tuple(sources)))


def _sources(results: pl.DataFrame) -> list[NightSource]:
    """Per night the run and evaluation record its results came from (nightly() leaves one per night)."""
    if not results.height:
        return []
    columns = ("night", "run_id", "evaluation_id", "evaluation_digest", "seal_digest", "tool_version")
    frame = results.select(columns).unique(subset=["night"], keep="first").sort("night")
    return [NightSource(*row) for row in frame.iter_rows()]


def _tool_versions(sources: Iterable[NightSource]) -> tuple[ToolVersionSpan, ...]:
    spans: dict[str, list[date]] = {}
    for source in sources:
        spans.setdefault(source.tool_version, []).append(source.night)
    return tuple(ToolVersionSpan(version, min(n), max(n), len(n))
                 for version, n in sorted(spans.items(), key=lambda kv: min(kv[1])))


def version_ranges(nights: Mapping[date, _Night], period: Sequence[date],
                   default_version: int) -> list[tuple[int, list[date]]]:
    """The nights each version was in force: from its first result (the period's start for the first
    version) to the night before the next version's first result. Gaps belong to the version in force."""
    firsts: dict[int, date] = {}
    for night in sorted(nights):
        firsts.setdefault(nights[night].version, night)
    order = sorted(firsts.items(), key=lambda kv: kv[1]) or [(default_version, period[0])]
    ranges = []
    for index, (version, start) in enumerate(order):
        start = period[0] if index == 0 else start
        end = order[index + 1][1] if index + 1 < len(order) else period[-1] + timedelta(days=1)
        ranges.append((version, [n for n in period if start <= n < end]))
    return ranges


def _check_operations(check: str, nights: Mapping[date, _Night], period: Sequence[date], spec: CheckSpec | None,
                      response: ResponseLike | None) -> list[ControlOperation]:
    title = spec.title if spec else check
    default_severity = spec.severity.value if spec else ""
    ordered = sorted(nights)
    last_status = nights[ordered[-1]].status if ordered else None
    view = None
    if response is not None:
        view = ResponseView(response.owner, response.response, response.target_date,
                            response.overdue(period[-1], last_status in OPEN))
    operations = []
    for version, in_force in version_ranges(nights, period, spec.version if spec else 1):
        own = [nights[n] for n in in_force if n in nights and nights[n].version == version]
        counts = Counter(r.status for r in own)
        severity = own[-1].severity if own else default_severity
        exceptions = exception_intervals(check, version, severity, nights, ordered, in_force, period[-1])
        no_run = tuple(n for n in in_force if n not in nights)
        errors = tuple(n for n in in_force if n in nights and nights[n].status == Status.ERROR.value)
        operations.append(ControlOperation(
            check_id=check, check_version=version, title=title, severity=severity, first=in_force[0],
            last=in_force[-1], nights=len(in_force), evaluated=len(own),
            counts=tuple((s, counts[s]) for s in (*STATUS_ORDER, *sorted(set(counts) - set(STATUS_ORDER)))
                         if counts[s]),
            statuses=tuple(nights[n].status if n in nights and nights[n].version == version else None
                           for n in in_force),
            no_run=no_run, error_nights=errors, exceptions=exceptions, last_status=last_status, response=view,
            conclusion=conclusion(len(own) - len(errors), len(in_force), exceptions, counts[Status.ACCEPTED.value],
                                  len(no_run), len(errors))))
    return operations


def exception_intervals(check: str, version: int, severity: str, nights: Mapping[date, _Night],
                        ordered: Sequence[date], in_force: Sequence[date], period_last: date,
                        ) -> tuple[ExceptionInterval, ...]:
    """Maximal runs of FAIL/WARN nights of `version` within the nights it was in force.

    A night with no run between two FAIL/WARN nights does not end the exception — nothing showed it
    fixed — and is counted in the interval's `gap_nights`; gaps after its last FAIL/WARN night are not
    part of it. Any other result (PASS, ACCEPTED, ERROR, …) ends it; how it ended is read from the
    next night with a conclusive result (see `_ending`).
    """
    intervals: list[ExceptionInterval] = []
    current: list[date] = []
    pending_gaps = gaps = 0

    def close() -> None:
        if current:
            intervals.append(_interval(check, version, severity, nights, current, gaps, ordered, period_last))

    for night in in_force:
        result = nights.get(night)
        if result is None or result.version != version:
            pending_gaps += 1 if current and result is None else 0
        elif result.status in OPEN:
            if current:
                gaps += pending_gaps
            current.append(night)
            pending_gaps = 0
        else:
            close()
            current, pending_gaps, gaps = [], 0, 0
    close()
    return tuple(intervals)


def _interval(check: str, version: int, severity: str, nights: Mapping[date, _Night], evaluated: list[date],
              gaps: int, ordered: Sequence[date], period_last: date) -> ExceptionInterval:
    first, last = evaluated[0], evaluated[-1]
    rows = [nights[n] for n in evaluated]
    ending, ended_on = _ending(version, nights, ordered, last, period_last)
    return ExceptionInterval(
        check_id=check, check_version=version, severity=severity,
        worst_status=Status.FAIL.value if any(r.status == Status.FAIL.value for r in rows) else Status.WARN.value,
        first=first, last=last, nights=(last - first).days + 1, gap_nights=gaps,
        runs=len({r.run_id for r in rows}),
        first_evidence=Evidence(first, rows[0].run_id, rows[0].seal_digest),
        last_evidence=Evidence(last, rows[-1].run_id, rows[-1].seal_digest), ending=ending, ended_on=ended_on)


def _ending(version: int, nights: Mapping[date, _Night], ordered: Sequence[date], last: date,
            period_last: date) -> tuple[str, date | None]:
    """How an exception ended, from the first later night of the check that is neither a gap nor ERROR:
    PASS / NOT_APPLICABLE / ATTESTED "remediated", ACCEPTED "accepted risk", FAIL/WARN of a newer
    version "continued under version N", anything else "unknown". With no later result at all it is
    "still open" when its last night is the period's last night, else "unknown" (only ERROR or gaps
    followed, so nobody can say)."""
    for night in ordered[bisect.bisect_right(ordered, last):]:
        result = nights[night]
        if result.status == Status.ERROR.value:
            continue
        if result.status in REMEDIATED:
            return "remediated", night
        if result.status == Status.ACCEPTED.value:
            return "accepted risk", night
        if result.status in OPEN and result.version != version:
            return f"continued under version {result.version}", night
        return "unknown", night
    return ("still open" if last == period_last else "unknown"), None


def _nights(count: int) -> str:
    return f"{count} night" if count == 1 else f"{count} nights"


def conclusion(operated: int, nights: int, exceptions: Sequence[ExceptionInterval], accepted: int, no_run: int,
               errors: int) -> str:
    """One line of numbers: never "operated effectively" — the reader weighs gaps and missing evidence."""
    parts = [f"Operated on {operated} of {_nights(nights)}"]
    if exceptions:
        endings = Counter(e.ending for e in exceptions)
        said = (next(iter(endings)) if len(exceptions) == 1
                else ", ".join(f"{n} {ending}" for ending, n in endings.items()))
        duration = sum(e.nights for e in exceptions)
        within = sum(e.gap_nights for e in exceptions)
        gap_note = f", {_nights(within)} of them without a run" if within else ""
        parts.append(f"{len(exceptions)} exception{'s' if len(exceptions) != 1 else ''} of "
                     f"{_nights(duration)}{gap_note} ({said})")
    else:
        parts.append("no exceptions")
    if accepted:
        parts.append(f"{_nights(accepted)} under accepted risk")
    if no_run:
        parts.append(f"{_nights(no_run)} without a run")
    if errors:
        parts.append(f"{_nights(errors)} with missing evidence")
    return "; ".join(parts) + "."
