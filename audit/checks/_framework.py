"""The check framework: a check is a spec plus a pure function; the framework owns ERROR.

A check function only ever sees evidence that was collected completely. Whether it can run is
decided here, from the manifest and the tenant's licences:
- a customer whose tenant was not reached makes ERROR every check that needs its tenant; the
  checks that read only the partner tenant (GDAP) are evaluated from the partner's evidence;
- a feature the tenant's subscribed SKUs do not license (entitlement management and access
  reviews without Entra ID P2, sign-in activity without P1/P2) makes its checks NOT_APPLICABLE
  citing the SKUs, whether Graph answered 403 or an empty 200;
- a resource that is forbidden, failed or skipped makes the result ERROR with the reason, one
  Graph refused for want of a licence NOT_APPLICABLE.
Never a FAIL for evidence we did not get (DESIGN.md, "Error ≠ Fail"). And never a PASS that rests
on nothing: a PASS states its population, and a PASS over an empty one is NOT_APPLICABLE.

The "not understood" rule (issue 18), applied here and nowhere else. A check that reads a value it
cannot interpret (audit/normalize/vocabulary.py) returns it in `Outcome.not_understood` and leaves
the object out of its verdict; then:
- a FAIL stands: it rests on objects the check understood, and the values it did not understand are
  listed beside it, never counted as failures;
- any other outcome (PASS, WARN, NOT_APPLICABLE) cannot be told without those objects, so it
  becomes WARN when every such value is documented by Microsoft but unsupported by the checks (a
  person reads the documented meaning and decides), and ERROR when one is not documented at all (the
  evidence is outside Graph's documented schema, so the product cannot say what it shows);
- the reason names each value, its resource, property and object, and the evidence shows them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audit.config import Config, Customer
from audit.models import (CheckResult, CheckSpec, NotUnderstood, Population, ResourceRecord, ResourceStatus, Row,
                          Severity, Status)
from audit.normalize import TenantData
from audit.normalize.licences import features_of, licence_state
from audit.resources import ABSENT_OK, FANOUT_PARENTS, PARTNER_RESOURCES

log = logging.getLogger("audit.checks")

ATTESTATION_LIFETIME = timedelta(days=365)
NOT_APPLICABLE_SUMMARY = "Not applicable to this tenant."
UNCOLLECTED_SUMMARY = "Evidence could not be collected."
UNREACHABLE = "tenant not reachable"
NOT_UNDERSTOOD_SUMMARY = "Evidence holds values the checks do not understand; review them by hand."


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
    reason: str = ""                 # NOT_APPLICABLE: why ("no access reviews exist")
    # values read and not interpreted: the framework decides what they make of the result (module doc)
    not_understood: tuple[NotUnderstood, ...] = ()

    @classmethod
    def of(cls, status: Status, summary: str, evidence: Iterable[Mapping[str, Any]] = (),
           population: Population | None = None, not_understood: Iterable[NotUnderstood | None] = ()) -> Outcome:
        return cls(status, summary, tuple(dict(row) for row in evidence), population,
                   not_understood=_distinct(not_understood))

    @classmethod
    def not_applicable(cls, reason: str, evidence: Iterable[Mapping[str, Any]] = (),
                       population: Population | None = None,
                       not_understood: Iterable[NotUnderstood | None] = ()) -> Outcome:
        """The population the requirement speaks of is empty (or the check is switched off): say why."""
        return cls(Status.NOT_APPLICABLE, f"Not applicable: {reason}.", tuple(dict(row) for row in evidence),
                   population, reason, _distinct(not_understood))


def _distinct(values: Iterable[NotUnderstood | None]) -> tuple[NotUnderstood, ...]:
    """The values not understood, each once (checks pass `vocabulary.judge(…)` results, None included)."""
    return tuple(dict.fromkeys(v for v in values if v is not None))


CheckFunction = Callable[[TenantData, Context], Outcome]


@dataclass(frozen=True)
class Check:
    spec: CheckSpec
    function: CheckFunction = field(repr=False)
    # The name of an [expectations] flag: while it is false the check is MANUAL (its evidence is
    # opt-in, e.g. a beta API), and attestations settle it like any manual check.
    manual_unless: str | None = None
    # Resources whose feature the tenant lacks (by its SKUs, or Graph answered NOT_LICENSED) are
    # themselves the evidence ("the tenant has no such feature"): the check runs and reads the table
    # as absent or empty instead of being NOT_APPLICABLE.
    unlicensed_is_absent: frozenset[str] = frozenset()
    # Resources that can only add another way to meet the requirement (GDAP-003: governed B2B beside
    # GDAP). When one was not collected the check still runs: its PASS stands, while its FAIL or WARN
    # might have been a PASS with that evidence, so it becomes ERROR naming the resource.
    optional: frozenset[str] = frozenset()


def check(spec: CheckSpec, *, manual_unless: str | None = None, unlicensed_is_absent: Iterable[str] = (),
          optional: Iterable[str] = ()) -> Callable[[CheckFunction], Check]:
    """Decorator: keeps a check's spec and its function side by side."""
    def wrap(function: CheckFunction) -> Check:
        return Check(spec, function, manual_unless, frozenset(unlicensed_is_absent), frozenset(optional))
    return wrap


def needs_customer_tenant(item: Check) -> bool:
    """A check needs the customer's own tenant unless everything it requires is read in the partner
    tenant (GDAP relationships are partner-side evidence, graph-api.md §8). A check without
    resources reads the customer's token or awaits the customer's attestation."""
    required = [r for r in item.spec.resources if r not in item.optional]
    return not required or any(r not in PARTNER_RESOURCES for r in required)


def _blocking(data: TenantData, item: Check) -> tuple[Status, str, str] | None:
    """(status, summary, reason) when the check cannot run on this tenant's evidence."""
    if not data.manifest.token_ok and needs_customer_tenant(item):
        return Status.ERROR, UNCOLLECTED_SUMMARY, f"{UNREACHABLE}: {data.manifest.token_reason}"
    # The licence decides before Graph's answers do: without the licence an empty 200 means nothing.
    licence = licence_state(data)
    gated = features_of(r for r in item.spec.resources if r not in item.unlicensed_is_absent)
    unlicensed = [feature for feature in gated if licence.lacks(feature)]
    if unlicensed:
        levels = sorted({f.level.title for f in unlicensed})
        return (Status.NOT_APPLICABLE,
                f"Not applicable: the tenant has no {' or '.join(levels)} (needed for "
                f"{' and '.join(f.title for f in unlicensed)}).",
                "; ".join(why for f in unlicensed if (why := licence.lacks(f))))
    problems = []
    for resource in item.spec.resources:
        record = _record(data, resource)
        if record.status is ResourceStatus.OK or resource in item.optional or _absent(item, data, resource, record):
            continue
        # 404 on these is evidence of absence ("no partner configuration"), not missing evidence.
        if record.status is ResourceStatus.NOT_FOUND and resource in ABSENT_OK:
            continue
        problems.append((resource, record))
    if not problems:
        return None
    if all(r.status is ResourceStatus.NOT_LICENSED for _, r in problems):
        # Graph's own answer; the SKUs could not say (unread) or disagree (a licence still propagating).
        return (Status.NOT_APPLICABLE, NOT_APPLICABLE_SUMMARY,
                "; ".join(f"{name}: {r.reason}" for name, r in problems))
    missing = [(name, r) for name, r in problems if r.status is not ResourceStatus.NOT_LICENSED]
    return Status.ERROR, UNCOLLECTED_SUMMARY, "; ".join(f"{n}: {r.status.value} — {r.reason}" for n, r in missing)


def _absent(item: Check, data: TenantData, resource: str, record: ResourceRecord) -> bool:
    """Whether the resource counts as absent for this check: its feature is not licensed, by the
    SKUs or by Graph's NOT_LICENSED answer, and the check reads that absence as evidence."""
    if resource not in item.unlicensed_is_absent:
        return False
    if record.status is ResourceStatus.NOT_LICENSED:
        return True
    return any(licence_state(data).lacks(f) for f in features_of((resource,)))


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
        status, summary, reason = blocked
        return _apply_overrides(CheckResult(item.spec.id, status, summary, (), reason), context)
    try:
        outcome = item.function(data, context)
    except Exception as exc:  # a defect in one check must not hide the others' results
        log.exception("check %s crashed for %s", item.spec.id, data.manifest.tenant_id)
        return _internal_error(item, f"{type(exc).__name__}: {exc}")
    return _apply_overrides(_truthful(item, data, outcome), context)


def _internal_error(item: Check, why: str) -> CheckResult:
    return CheckResult(item.spec.id, Status.ERROR, "The check could not be evaluated.", (),
                       f"internal error in the check: {why}")


def _truthful(item: Check, data: TenantData, outcome: Outcome) -> CheckResult:
    """The result as the reports may state it (DESIGN.md, "Every statement true").

    - A PASS without a population is a defect of the check, not a fact about the tenant: ERROR
      (internal), so no report ever prints a PASS that does not say what it was measured on.
    - A PASS over an empty population is a vacuous truth ("all 0 review instances are on time"):
      NOT_APPLICABLE, with the empty population as the reason. Checks say so themselves with a
      better reason; this is the guarantee behind them.
    - A FAIL or WARN of a check whose optional evidence is missing might have been a PASS: ERROR.
    - A NOT_APPLICABLE always carries its reason.
    """
    result = CheckResult(item.spec.id, outcome.status, outcome.summary, outcome.evidence, outcome.reason,
                         outcome.population)
    if outcome.not_understood:
        return _not_understood(result, outcome.not_understood)
    population = outcome.population
    if outcome.status is Status.PASS:
        if population is None:
            return _internal_error(item, "a PASS must state its population")
        if population.examined == 0:
            return _with(result, status=Status.NOT_APPLICABLE, summary=NOT_APPLICABLE_SUMMARY,
                         reason=f"nothing to examine: no {population.subject}")
    if outcome.status in (Status.FAIL, Status.WARN):
        missing = [(name, r) for name in sorted(item.optional) if (r := _record(data, name)).status
                   is not ResourceStatus.OK and not _absent(item, data, name, r)]
        if missing:
            return _with(result, status=Status.ERROR, summary=UNCOLLECTED_SUMMARY,
                         reason="; ".join(f"{name}: {r.status.value} — {r.reason}" for name, r in missing)
                         + f" (without it the result would rest on part of the evidence: {outcome.summary})")
    if outcome.status is Status.NOT_APPLICABLE and not outcome.reason:
        return _with(result, reason=outcome.summary)
    return result


def _not_understood(result: CheckResult, values: tuple[NotUnderstood, ...]) -> CheckResult:
    """The one rule for values a check could not interpret (module doc): a FAIL stands beside them,
    anything else becomes WARN (all documented) or ERROR (one undocumented); each value is named."""
    listed = "; ".join(v.text() for v in values)
    # first, so that a report that shows only the first rows of a long evidence table still shows them
    evidence = (*(v.row() for v in values), *result.evidence)
    if result.status is Status.FAIL:
        return _with(result, evidence=evidence,
                     reason=f"not counted as failing, not understood: {listed}")
    status = Status.WARN if all(v.documented for v in values) else Status.ERROR
    rest = f"{result.status.value}: {result.summary}"
    return _with(result, status=status, summary=NOT_UNDERSTOOD_SUMMARY, evidence=evidence,
                 reason=f"not understood: {listed} (on the rest of the evidence: {rest})")


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
    ACCEPTED are left out of the ratio and reported apart, never hidden inside it.

    A customer whose own tenant was not reached has no score: its partner-side GDAP checks are
    still evaluated, but a ratio over them alone would rate none of the customer's controls."""
    if any(r.status is Status.ERROR and r.reason.startswith(f"{UNREACHABLE}:") for r in results):
        return None
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


SEVERITIES = tuple(Severity)
