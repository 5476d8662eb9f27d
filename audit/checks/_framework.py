"""The check framework: a check is a spec plus a pure function; the framework owns ERROR.

A check function only ever sees evidence that was collected completely. Whether it can run is
decided here, from the manifest: a resource that is forbidden, failed or skipped makes the
result ERROR with the reason, one the tenant is not licensed for makes it NOT_APPLICABLE.
Never a FAIL for evidence we did not get (DESIGN.md, "Error ≠ Fail").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from audit.config import Config, Customer
from audit.models import CheckResult, CheckSpec, Population, ResourceRecord, ResourceStatus, Row, Severity, Status
from audit.normalize import TenantData
from audit.resources import ABSENT_OK, FANOUT_PARENTS

log = logging.getLogger("audit.checks")

ATTESTATION_LIFETIME = timedelta(days=365)


@dataclass(frozen=True)
class Context:
    now: datetime                    # the run's collection time (or --as-of), never the wall clock
    config: Config
    customer: Customer


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the framework adds the id and applies attestations."""

    status: Status
    summary: str
    evidence: tuple[Row, ...] = ()
    population: Population | None = None

    @classmethod
    def of(cls, status: Status, summary: str, evidence: Iterable[Mapping[str, Any]] = (),
           population: Population | None = None) -> Outcome:
        return cls(status, summary, tuple(dict(row) for row in evidence), population)


CheckFunction = Callable[[TenantData, Context], Outcome]


@dataclass(frozen=True)
class Check:
    spec: CheckSpec
    function: CheckFunction = field(repr=False)
    # The name of an [expectations] flag: while it is false the check is MANUAL (its evidence is
    # opt-in, e.g. a beta API), and attestations settle it like any manual check.
    manual_unless: str | None = None
    # Resources whose NOT_LICENSED status is itself the evidence ("the tenant has no such feature"),
    # so the check runs and reads the table as absent instead of being NOT_APPLICABLE.
    unlicensed_is_absent: frozenset[str] = frozenset()


def check(spec: CheckSpec, *, manual_unless: str | None = None,
          unlicensed_is_absent: Iterable[str] = ()) -> Callable[[CheckFunction], Check]:
    """Decorator: keeps a check's spec and its function side by side."""
    def wrap(function: CheckFunction) -> Check:
        return Check(spec, function, manual_unless, frozenset(unlicensed_is_absent))
    return wrap


def _blocking(data: TenantData, item: Check) -> tuple[Status, str] | None:
    if not data.manifest.token_ok:
        return Status.ERROR, f"tenant not reachable: {data.manifest.token_reason}"
    problems = []
    for resource in item.spec.resources:
        record = _record(data, resource)
        if record.status is ResourceStatus.OK:
            continue
        # 404 on these is evidence of absence ("no partner configuration"), not missing evidence.
        if record.status is ResourceStatus.NOT_FOUND and resource in ABSENT_OK:
            continue
        if record.status is ResourceStatus.NOT_LICENSED and resource in item.unlicensed_is_absent:
            continue
        problems.append((resource, record))
    if not problems:
        return None
    if all(r.status is ResourceStatus.NOT_LICENSED for _, r in problems):
        return Status.NOT_APPLICABLE, "; ".join(f"{name}: {r.reason}" for name, r in problems)
    return Status.ERROR, "; ".join(f"{name}: {r.status.value} — {r.reason}" for name, r in problems
                                   if r.status is not ResourceStatus.NOT_LICENSED)


def _record(data: TenantData, resource: str) -> ResourceRecord:
    """A fan-out the collector skipped because its parent was not licensed is not licensed either
    (no P2: access-review definitions answer AadPremiumLicenseRequired, so no instances are asked for)."""
    record = data.record(resource)
    parent = FANOUT_PARENTS.get(resource)
    if record.status is ResourceStatus.SKIPPED and parent is not None:
        upstream = _record(data, parent)
        if upstream.status is ResourceStatus.NOT_LICENSED:
            return ResourceRecord(resource, record.endpoint, ResourceStatus.NOT_LICENSED,
                                  reason=f"its parent {parent}: {upstream.reason}")
    return record


def run_check(item: Check, data: TenantData, context: Context) -> CheckResult:
    if item.manual_unless and not getattr(context.config.expectations, item.manual_unless) \
            and data.manifest.token_ok:
        # Not collected on purpose: MANUAL (an attestation settles it), never ERROR.
        return _apply_overrides(CheckResult(
            item.spec.id, Status.MANUAL, "Not collected by choice; needs the customer's attestation.",
            ({"evidence": ", ".join(item.spec.resources), "collected": "no",
              "enable with": f"[expectations] {item.manual_unless} = true"},),
            f"[expectations] {item.manual_unless} is false"), context)
    blocked = _blocking(data, item)
    if blocked is not None:
        status, reason = blocked
        summary = "Evidence could not be collected." if status is Status.ERROR else "Not applicable to this tenant."
        return _apply_overrides(CheckResult(item.spec.id, status, summary, (), reason), context)
    try:
        outcome = item.function(data, context)
    except Exception as exc:  # a defect in one check must not hide the others' results
        log.exception("check %s crashed for %s", item.spec.id, data.manifest.tenant_id)
        return CheckResult(item.spec.id, Status.ERROR, "The check could not be evaluated.", (),
                           f"internal error in the check: {type(exc).__name__}: {exc}")
    return _apply_overrides(CheckResult(item.spec.id, outcome.status, outcome.summary, outcome.evidence,
                                        population=outcome.population), context)


def _apply_overrides(result: CheckResult, context: Context) -> CheckResult:
    """Attestations settle MANUAL checks; unexpired accepted risks settle FAIL/WARN."""
    today = context.now.date()
    if result.status is Status.MANUAL:
        for attestation in context.customer.attestations:
            if attestation.check_id != result.check_id:
                continue
            if today - attestation.on > ATTESTATION_LIFETIME:
                return _with(result, reason=f"attestation by {attestation.by} on {attestation.on} is over a year "
                                            "old and no longer counts")
            return _with(result, status=Status.ATTESTED,
                         reason=f"attested by {attestation.by} on {attestation.on} ({attestation.evidence})")
    if result.status in (Status.FAIL, Status.WARN):
        for risk in context.customer.accepted_risks:
            if risk.check_id != result.check_id:
                continue
            if risk.expires < today:
                return _with(result, reason=f"risk acceptance by {risk.owner} expired on {risk.expires}")
            return _with(result, status=Status.ACCEPTED,
                         reason=f"risk accepted by {risk.owner} until {risk.expires}: {risk.rationale}")
    return result


def _with(result: CheckResult, **changes: Any) -> CheckResult:
    return dataclasses.replace(result, **changes)


def evaluate(data: TenantData, context: Context, catalogue: Sequence[Check]) -> list[CheckResult]:
    return [run_check(item, data, context) for item in catalogue]


def score(results: Sequence[CheckResult], specs: Mapping[str, CheckSpec]) -> float | None:
    """Severity-weighted share of passed controls; WARN earns half. ERROR, MANUAL, N/A and
    ACCEPTED are left out of the ratio and reported apart, never hidden inside it."""
    earned = possible = 0.0
    for result in results:
        weight = specs[result.check_id].severity.weight or 0.5
        if result.status in (Status.PASS, Status.ATTESTED):
            earned += weight
            possible += weight
        elif result.status is Status.WARN:
            earned += weight / 2
            possible += weight
        elif result.status is Status.FAIL:
            possible += weight
    return round(100 * earned / possible, 1) if possible else None


def days_between(later: datetime | date, earlier: datetime | date) -> int:
    return (later - earlier).days


SEVERITIES = tuple(Severity)
