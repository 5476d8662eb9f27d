"""The period report's figures, from the results ledger: pure functions, no I/O.

Input is the results frame already reduced to one result per night × tenant × check (the ledger's
`nightly()`), the items frame over the same nights, the period, the customers, a lookup of management
responses and the check catalogue. A night with no row is a gap — never a pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import polars as pl

from audit.models import CheckSpec, Status
from audit.period._populations import populations
from audit.period._series import CODES, NO_RESULT, STATUSES, UNKNOWN, CheckSeries, series
from audit.period.model import (ControlOperation, CustomerPeriod, Evidence, ExceptionInterval, NightSource,
                                PeriodReport, ResponseLike, ResponseView, SignOff, ToolVersionSpan)

ResponseLookup = Callable[[str, str], ResponseLike | None]

OPEN = frozenset({Status.FAIL.value, Status.WARN.value})      # an open finding (responses contract)
REMEDIATED = frozenset({Status.PASS.value, Status.NOT_APPLICABLE.value, Status.ATTESTED.value})


class CustomerLike(Protocol):
    tenant_id: str
    name: str


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
    nights = (last - first).days + 1
    checks = series(results, first, nights)
    sources = _sources(results)
    items_by_tenant = items.partition_by("tenant_id", as_dict=True) if items.height else {}
    empty_items = items.clear()
    return PeriodReport(first, last, tuple(
        customer_period(checks.get(c.tenant_id.lower(), []), sources.get(c.tenant_id.lower(), []),
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


def customer_period(checks: Sequence[CheckSeries], sources: Sequence[NightSource], items: pl.DataFrame,
                    first: date, last: date, tenant_id: str, customer: str, responses: ResponseLookup,
                    specs: Mapping[str, CheckSpec], generated_at: datetime) -> CustomerPeriod:
    """One customer's period from its checks' series, its nights' sources and its items."""
    period = nights_between(first, last)
    by_check = {c.check_id: c for c in checks}
    by_night = {s.night: s for s in sources}
    check_ids = list(specs) + sorted(set(by_check) - set(specs))
    controls = tuple(op for check in check_ids
                     for op in _check_operations(check, by_check.get(check), period, by_night, specs.get(check),
                                                 responses(tenant_id, check)))
    assignments, reviews, guests, gdap = populations(items, [s.night for s in sources])
    return CustomerPeriod(
        tenant_id=tenant_id, customer=customer, first=first, last=last, nights=len(period),
        nights_with_run=len(sources), controls=controls, assignments=assignments, reviews=reviews,
        guests=guests, gdap=gdap, generated_at=generated_at,
        signoff=SignOff(checks=tuple((c.check_id, c.check_version) for c in controls),
                        tool_versions=_tool_versions(sources), first_run=sources[0] if sources else None,
                        last_run=sources[-1] if sources else None, sources=tuple(sources)))


def _sources(results: pl.DataFrame) -> dict[str, list[NightSource]]:
    """Per tenant, per night the run and evaluation record its results came from (nightly() leaves one)."""
    if not results.height:
        return {}
    columns = ("tenant_id", "night", "run_id", "evaluation_id", "evaluation_digest", "seal_digest", "tool_version")
    frame = results.select(columns).unique(subset=["tenant_id", "night"], keep="first").sort("tenant_id", "night")
    out: dict[str, list[NightSource]] = {}
    for tenant, *row in frame.iter_rows():
        out.setdefault(tenant, []).append(NightSource(*row))
    return out


def _tool_versions(sources: Iterable[NightSource]) -> tuple[ToolVersionSpan, ...]:
    spans: dict[str, list[date]] = {}
    for source in sources:
        spans.setdefault(source.tool_version, []).append(source.night)
    return tuple(ToolVersionSpan(version, min(n), max(n), len(n))
                 for version, n in sorted(spans.items(), key=lambda kv: min(kv[1])))


def version_ranges(firsts: Sequence[tuple[int, int]], nights: int, default_version: int,
                   ) -> list[tuple[int, int, int]]:
    """(version, start, end) offsets, end exclusive: each version is in force from its first result
    (the period's start for the first version) to the next version's first result. Gaps belong to the
    version in force; a stray result of another version inside a range (a roll-back) counts for it."""
    order = list(firsts) or [(default_version, 0)]
    return [(version, 0 if index == 0 else start, order[index + 1][1] if index + 1 < len(order) else nights)
            for index, (version, start) in enumerate(order)]


_EXCEPTION = re.compile(r"[FW](?:\.*[FW])*")
_CONCLUSIVE = re.compile(r"[^E.]")
_REMEDIATED = frozenset(CODES[s] for s in REMEDIATED)


def _offsets(codes: str, code: str, start: int) -> list[int]:
    """Where `code` occurs in `codes`, as offsets in the period (str.find: most lines have none or few)."""
    found, at = [], codes.find(code)
    while at != -1:
        found.append(start + at)
        at = codes.find(code, at + 1)
    return found


def _check_operations(check: str, line: CheckSeries | None, period: Sequence[date],
                      sources: Mapping[date, NightSource], spec: CheckSpec | None,
                      response: ResponseLike | None) -> list[ControlOperation]:
    title = spec.title if spec else check
    codes = line.codes if line else NO_RESULT * len(period)
    conclusive = codes.rstrip(NO_RESULT)
    last_status = STATUSES.get(conclusive[-1], UNKNOWN) if conclusive else None
    view = None
    if response is not None:
        view = ResponseView(response.owner, response.response, response.target_date,
                            response.overdue(period[-1], last_status in OPEN))
    severity = line.severity if line else (spec.severity.value if spec else "")
    ranges = version_ranges(line.firsts if line else (), len(period), spec.version if spec else 1)
    operations = []
    for version, start, end in ranges:
        part = codes[start:end]
        counts = Counter(part)
        no_run, errors = counts.pop(NO_RESULT, 0), counts[CODES[Status.ERROR.value]]
        exceptions = tuple(_interval(check, version, severity, match.group(), start + match.start(), codes, end,
                                     ranges, period, sources)
                           for match in _EXCEPTION.finditer(part))
        operations.append(ControlOperation(
            check_id=check, check_version=version, title=title, severity=severity, first=period[start],
            last=period[end - 1], nights=end - start, evaluated=end - start - no_run,
            counts=tuple((STATUSES.get(c, UNKNOWN), counts[c]) for c in (*CODES.values(), UNKNOWN) if counts[c]),
            codes=part,
            no_run=tuple(period[i] for i in _offsets(part, NO_RESULT, start)),
            error_nights=tuple(period[i] for i in _offsets(part, CODES[Status.ERROR.value], start)),
            exceptions=exceptions, last_status=last_status, response=view,
            conclusion=conclusion(counts[CODES[Status.PASS.value]], end - start, exceptions,
                                  counts[CODES[Status.ACCEPTED.value]], no_run, errors,
                                  not_applicable=counts[CODES[Status.NOT_APPLICABLE.value]],
                                  manual=counts[CODES[Status.MANUAL.value]],
                                  attested=counts[CODES[Status.ATTESTED.value]])))
    return operations


def _interval(check: str, version: int, severity: str, run: str, start: int, codes: str, range_end: int,
              ranges: Sequence[tuple[int, int, int]], period: Sequence[date],
              sources: Mapping[date, NightSource]) -> ExceptionInterval:
    """An exception: a maximal run of FAIL/WARN nights of one version within the nights it was in force.

    A night with no run between two FAIL/WARN nights does not end it — nothing showed the finding
    fixed — and is counted in `gap_nights`; gaps after its last FAIL/WARN night are not part of it.
    Any other result (PASS, ACCEPTED, ERROR, …) ends it; how, is read from the next night with a
    conclusive result (see `_ending`).
    """
    end = start + len(run) - 1
    first, last = period[start], period[end]
    runs = {sources[period[start + i]].run_id for i, c in enumerate(run) if c != NO_RESULT
            and period[start + i] in sources}
    ending, ended_on = _ending(codes, end, range_end, ranges, period)
    return ExceptionInterval(
        check_id=check, check_version=version, severity=severity,
        worst_status=Status.FAIL.value if "F" in run else Status.WARN.value,
        first=first, last=last, nights=len(run), gap_nights=run.count(NO_RESULT), runs=len(runs),
        first_evidence=_evidence(first, sources), last_evidence=_evidence(last, sources),
        ending=ending, ended_on=ended_on)


def _evidence(night: date, sources: Mapping[date, NightSource]) -> Evidence:
    source = sources.get(night)
    return Evidence(night, source.run_id if source else "", source.seal_digest if source else "")


def _ending(codes: str, end: int, range_end: int, ranges: Sequence[tuple[int, int, int]],
            period: Sequence[date]) -> tuple[str, date | None]:
    """How an exception ended, from the first later night of the check that is neither a gap nor ERROR:
    PASS / NOT_APPLICABLE / ATTESTED "remediated", ACCEPTED "accepted risk", FAIL/WARN under a newer
    version "continued under version N", anything else "unknown". With no later result at all it is
    "still open" when its last night is the period's last night, else "unknown" (only ERROR or gaps
    followed, so nobody can say)."""
    found = _CONCLUSIVE.search(codes, end + 1)
    if found is None:
        return ("still open" if end == len(period) - 1 else "unknown"), None
    code, at = found.group(), found.start()
    if code in _REMEDIATED:
        return "remediated", period[at]
    if code == CODES[Status.ACCEPTED.value]:
        return "accepted risk", period[at]
    if code in "FW" and at >= range_end:
        version = next(v for v, a, b in ranges if a <= at < b)
        return f"continued under version {version}", period[at]
    return "unknown", period[at]


def _nights(count: int) -> str:
    return f"{count} night" if count == 1 else f"{count} nights"


def conclusion(operated: int, nights: int, exceptions: Sequence[ExceptionInterval], accepted: int, no_run: int,
               errors: int, *, not_applicable: int = 0, manual: int = 0, attested: int = 0) -> str:
    """One line of numbers: never "operated effectively" — the reader weighs gaps and missing evidence.

    `operated` counts the nights the control was found operating (PASS) and nothing else: a night
    in an exception, under accepted risk, not applicable, waiting for an attestation, without
    evidence or without a run is a night the record does not show it operating, and each is named."""
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
    if not_applicable:
        parts.append(f"not applicable on {_nights(not_applicable)}")
    if attested:
        parts.append(f"{_nights(attested)} attested")
    if manual:
        parts.append(f"{_nights(manual)} awaiting a manual attestation")
    if no_run:
        parts.append(f"{_nights(no_run)} without a run")
    if errors:
        parts.append(f"{_nights(errors)} with missing evidence")
    return "; ".join(parts) + "."
