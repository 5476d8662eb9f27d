"""Types that cross stage boundaries: collect → snapshot → normalize → checks → render.

Every stage imports these; none of them imports a stage.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class ResourceStatus(enum.StrEnum):
    """How the collection of one Graph resource ended (DESIGN.md, "The snapshot")."""

    OK = "ok"
    FORBIDDEN = "forbidden"          # 401/403: the app lacks a permission (reason names it)
    NOT_LICENSED = "not_licensed"    # the tenant lacks the licence (e.g. no Entra ID P1/P2)
    NOT_FOUND = "not_found"          # 404: the object does not exist in this tenant
    FAILED = "failed"                # anything else: network, 5xx after retries, bad JSON, broken page chain
    SKIPPED = "skipped"              # not asked for (opt-in resource, or its parent failed)


class Status(enum.StrEnum):
    """The result of one check for one customer."""

    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"                    # needs attention, no control failure (e.g. expiring next week)
    ERROR = "ERROR"                  # the evidence could not be collected: never a FAIL
    NOT_APPLICABLE = "NOT_APPLICABLE"
    MANUAL = "MANUAL"                # Graph cannot tell; needs an attestation
    ATTESTED = "ATTESTED"
    ACCEPTED = "ACCEPTED"            # a documented, unexpired risk acceptance


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def weight(self) -> int:
        return SEVERITY_WEIGHTS[self]

    @property
    def rank(self) -> int:
        """0 for the most severe, so that sorting ascending puts critical first."""
        return list(Severity).index(self)


SEVERITY_WEIGHTS: Mapping[Severity, int] = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 6,
    Severity.MEDIUM: 3,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


def is_collection_error(status: ResourceStatus | str, *, absent_ok: bool = False) -> bool:
    """Evidence that should have been read and was not: forbidden, failed, or a 404 that is not Graph's
    answer "none configured".

    Not errors: a licence the tenant lacks (a fact about the tenant; its checks are NOT_APPLICABLE), a 404
    where 404 is the answer (`absent_ok`: no partner policy, no sync policy), and a skipped resource (opt-in
    and not asked for, or under a parent that is itself the error or unlicensed).
    """
    status = ResourceStatus(status)
    if status is ResourceStatus.NOT_FOUND:
        return not absent_ok
    return status in (ResourceStatus.FORBIDDEN, ResourceStatus.FAILED)


def tenant_errors(*, reachable: bool, reason: str = "", failure: str = "", error_results: int = 0,
                  unread: Collection[str] = ()) -> tuple[str, ...]:
    """The one meaning of "tenant with errors" — the console line, summary.json, `runs show` and the
    portfolio all ask this: why the customer's report does not rest on all of its evidence; () when it does.

    That is: the tenant was not reached (`reason`), a stage of its evaluation or rendering failed
    (`failure`), a check ended ERROR, or a resource could not be read (`unread`: names for which
    `is_collection_error`).
    """
    if not reachable:
        return (f"not reached: {reason}" if reason else "not reached",)
    found = [failure] if failure else []
    if error_results:
        found.append(f"{error_results} result(s) ERROR")
    if unread:
        found.append(f"not read: {', '.join(unread)}")
    return tuple(found)


@dataclass(frozen=True)
class ResourceRecord:
    """What the collector knows about one resource of one tenant; one entry of manifest.json."""

    name: str                        # e.g. "guests", "access_packages"
    endpoint: str                    # the relative Graph URL of the first request that produced the evidence
    status: ResourceStatus
    reason: str = ""                 # empty when ok; otherwise why (permission name, error code…)
    http_status: int | None = None
    error_code: str = ""             # Graph's error.code, e.g. Authorization_RequestDenied
    pages: int = 0
    items: int = 0
    requests: int = 0                # Graph requests spent, retries and each $batch item included
    retries: int = 0                 # of which repeated after a throttle or a transient fault
    lower_bound: int = 0             # fewest requests any client needs: ceil(items / max page) per chain
    file: str = ""                   # raw file relative to the tenant directory
    sha256: str = ""                 # of the raw file as written
    started_at: str = ""
    finished_at: str = ""
    # When Graph refused the full request and a reduced one produced the evidence (the guests
    # without signInActivity): the refused request and why; `endpoint` is then the reduced one.
    refused_endpoint: str = ""
    refused_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, enum.Enum) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "status": ResourceStatus(data["status"])})


@dataclass(frozen=True)
class TenantManifest:
    tenant_id: str
    customer: str
    collected_at: datetime           # "now" for every check of this tenant
    token_ok: bool
    token_reason: str = ""           # the AADSTS reason when no token could be had
    granted_roles: tuple[str, ...] = ()
    resources: Mapping[str, ResourceRecord] = field(default_factory=dict)

    def status_of(self, resource: str) -> ResourceRecord:
        """The record of a resource; one that was never attempted counts as skipped."""
        record = self.resources.get(resource)
        if record is not None:
            return record
        reason = self.token_reason if not self.token_ok else "not collected in this run"
        return ResourceRecord(resource, "", ResourceStatus.SKIPPED if self.token_ok else ResourceStatus.FAILED,
                              reason=reason)


@dataclass(frozen=True)
class CheckSpec:
    """Everything a report says about a check; the requirement text lives only here."""

    id: str                          # versioned, e.g. "EM-003"
    version: int
    title: str
    area: str                        # "Entitlement management", "Guest settings", …
    severity: Severity
    requirement: str                 # one sentence: what must be true
    rationale: str
    remediation: str
    references: tuple[str, ...]      # a cited source document (and section) or a public page: title, https URL
    frameworks: tuple[tuple[str, str], ...] = ()   # (framework, control id), filled from checks/mappings.toml
    resources: tuple[str, ...] = ()  # the collected resources it needs

    @property
    def versioned_id(self) -> str:
        return f"{self.id}.v{self.version}"


Row = Mapping[str, Any]


@dataclass(frozen=True)
class NotUnderstood:
    """A value from Graph that a check read and could not interpret (issue 18): documented by Microsoft
    but given no meaning by the checks (`documented`), or not documented at all. The framework turns it
    into the result's status (audit/checks/_framework.py); the evidence shows it as `row()`."""

    resource: str                    # the catalogue's name, e.g. "assignments"
    property: str                    # the Graph property path, e.g. "state"
    value: str                       # the value as a reason can show it ("the string 'foo'", "no value")
    subject: str                     # which object carried it ("assignment 2a35…", "the settings")
    documented: bool
    why: str = ""

    def text(self) -> str:
        return f"{self.resource}: {self.property} = {self.value} ({self.subject}; {self.why})"

    def row(self) -> dict[str, Any]:
        return {"not understood": f"{self.resource}.{self.property}", "value": self.value, "object": self.subject,
                "documented": "yes" if self.documented else "no", "why": self.why}


@dataclass(frozen=True)
class Population:
    """What a result was measured on (DESIGN.md, "Every statement true": every PASS states it).

    `examined` items of `subject` were looked at, `conforming` of them met `predicate`:
    "26 of 26 enabled guests signed in within 90 days". `conforming` is None when the check
    looks at the population as a whole ("3 MSSP package policies examined").
    """

    subject: str                     # plural noun phrase: "enabled guests", "MSSP package policies"
    examined: int
    conforming: int | None = None
    predicate: str = ""              # what conforming means: "signed in within 90 days"

    @property
    def text(self) -> str:
        if self.conforming is None:
            return f"{self.examined} {self.subject} examined"
        return f"{self.conforming} of {self.examined} {self.subject} {self.predicate}".rstrip()

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "examined": self.examined, "conforming": self.conforming,
                "predicate": self.predicate, "text": self.text}


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    status: Status
    summary: str                     # one line a person reads first
    evidence: tuple[Row, ...] = ()   # the rows behind the result, always present (may be empty)
    reason: str = ""                 # for ERROR / NOT_APPLICABLE / ACCEPTED / ATTESTED: why
    population: Population | None = None   # what was examined; every PASS has one

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "status": self.status.value,
            "summary": self.summary,
            "reason": self.reason,
            "population": self.population.to_json() if self.population else None,
            "evidence": [dict(r) for r in self.evidence],
        }
