"""Plain view-models: built once per customer from results and tables; writers only read them.

Every `str` in here that came from a tenant is hostile (HTML, formulas, RTL marks, 10 KB names):
the PDF template escapes it (Jinja2 autoescape) and the workbook writer never writes it as a formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from audit.models import Population, Status, tenant_errors
from audit.responses import Response

Cell = str | int | float | bool | date | datetime | None
# The order results are shown in, everywhere: those that need attention first.
STATUS_ORDER = (Status.FAIL, Status.WARN, Status.ERROR, Status.MANUAL, Status.ACCEPTED, Status.ATTESTED,
                Status.NOT_APPLICABLE, Status.PASS)


@dataclass(frozen=True)
class Table:
    """A titled table of evidence; `source` names the Graph resource it came from."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    source: str = ""                 # e.g. "GET /v1.0/users?$filter=userType eq 'Guest'"
    total: int | None = None         # rows in the full list when `rows` is a shortened one

    @property
    def truncated(self) -> bool:
        return self.total is not None and self.total > len(self.rows)

    @property
    def row_count(self) -> int:
        """Rows in the full list, shown or not."""
        return max(self.total or 0, len(self.rows))


@dataclass(frozen=True)
class FindingView:
    check_id: str                    # e.g. "GS-001"
    versioned_id: str                # e.g. "GS-001.v1"
    title: str
    area: str
    severity: str                    # "critical" … "info"
    status: str                      # "PASS", "FAIL", "WARN", "ERROR", …
    summary: str
    requirement: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    frameworks: tuple[tuple[str, str], ...]
    reason: str                      # why ERROR / NOT_APPLICABLE / ACCEPTED …
    evidence: Table                  # rows behind the result (bounded for the PDF)
    population: Population | None = None   # what the result was measured on; every PASS has one
    response: Response | None = None       # the MSSP's management response to this check (audit.responses)
    overdue: bool = False                  # that response is past its target date while the finding is open


@dataclass(frozen=True)
class ResourceView:
    """One line of the provenance table: what was requested, and how it ended."""

    name: str
    endpoint: str
    status: str
    reason: str
    items: int
    requests: int
    sha256: str
    partner: bool = False    # read from the MSSP's partner tenant: its hash is not in the customer's manifest
    # When Graph refused the fuller request and `endpoint`, a reduced one, produced the evidence:
    # the refused request, and why it was refused and what the reduced one leaves out.
    refused_endpoint: str = ""
    refused_reason: str = ""


@dataclass(frozen=True)
class ExpiryRow:
    """Something that ends, with its time left counted (audit.expiry) from the instant its customer's
    results were evaluated: the PDF, both workbooks and the checks agree on every figure."""

    customer: str
    tenant_id: str                   # the key: display names are not unique
    kind: str                        # "Access package assignment", "GDAP relationship", "Access review due"
    subject: str                     # who holds it / relationship / review name
    item: str                        # package name / roles / …
    end: datetime | None
    state: str
    evaluated_at: datetime           # the instant days are counted from
    days_left: int | None            # audit.expiry.days_left(end, evaluated_at); None: no end
    bucket: str                      # audit.expiry.bucket(end, evaluated_at)


@dataclass(frozen=True)
class CustomerReport:
    customer: str
    tenant_id: str
    run_id: str
    collected_at: datetime           # the tenant manifest's collection time
    evaluated_at: datetime           # "now" for every check and every days-left figure: --as-of, else collected_at
    generated_at: datetime           # when the files were written; says nothing about the tenant
    tool_version: str
    score: float | None              # 0–100 over evaluable checks; None when nothing could be evaluated
    status_counts: dict[str, int]    # every Status value, zero included
    failed_by_severity: dict[str, int]   # FAIL + WARN counts per severity, every severity included
    findings: tuple[FindingView, ...]    # catalogue order sorted: FAIL/WARN/ERROR first, then severity
    appendix: tuple[Table, ...]          # guest inventory, packages & policies, assignments, reviews…
    resources: tuple[ResourceView, ...]
    granted_permissions: tuple[str, ...]
    token_ok: bool
    token_reason: str
    manifest_sha256: str             # sha256 of the tenant manifest.json
    extra: dict[str, Any] = field(default_factory=dict)
    previous_run: str | None = None  # the run the changes are measured against; None on a first run
    changes: Table | None = None     # "changes since last run": kind, subject, detail
    attachments: tuple[tuple[str, bytes], ...] = ()   # (file name, exact bytes) embedded in the PDF
    # Delivered MSSP assignments by time left, soonest first: ("Expired", 2), ("≤ 7 days", 1), …, ("No end", 0);
    # () when the assignments were not collected.
    expiry_buckets: tuple[tuple[str, int], ...] = ()
    score_history: tuple[tuple[str, float | None], ...] = ()   # (run date, score), oldest first, this run last
    # MSSP package assignments, GDAP relationships and open reviews, with days left: the workbook's Expiry sheet.
    expiry: tuple[ExpiryRow, ...] = ()
    # First request started and last one finished for this tenant's own resources; None when none was made.
    requests_between: tuple[datetime, datetime] | None = None
    # Resources whose evidence should have been read and was not (audit.models.is_collection_error).
    unread: tuple[str, ...] = ()
    evaluation: str = ""             # the evaluation record these reports come from (evaluations/<id>.json)
    seal_digest: str = ""            # the digest of the seal that evaluation evaluated


@dataclass(frozen=True)
class LicenceRow:
    """One customer on the portfolio Licences sheet (seed: 'Entitlement Management requires AAD P2')."""

    customer: str
    tenant_id: str
    current_analysts: int            # editable input
    projected_growth: int            # editable input
    # audit.normalize.licences.Units; None when subscribedSkus could not be read or was not understood
    p2_owned: int | None             # enabled units of SKUs whose P2 plan is in force
    p2_expiring: int | None          # their units in the grace period after expiry: renew them
    p2_not_owned: int | None         # suspended and locked-out units
    guests_active_30d: int | None    # MAU estimate: guests with a successful sign-in in 30 days


@dataclass(frozen=True)
class CustomerSummaryRow:
    customer: str
    tenant_id: str
    score: float | None
    status_counts: dict[str, int]
    reachable: bool                  # a token was obtained for the tenant
    pdf: str                         # file name relative to the reports folder
    workbook: str
    previous_score: float | None = None   # the score of the previous complete run, for the trend
    unread: tuple[str, ...] = ()     # resources that could not be read (audit.models.is_collection_error)
    failure: str = ""                # what stopped its evaluation or rendering
    evaluated_at: datetime | None = None
    collected_at: datetime | None = None
    reason: str = ""                 # why the tenant was not reached

    @property
    def errors(self) -> tuple[str, ...]:
        """Why it is a "tenant with errors" (audit.models.tenant_errors); () when it is not."""
        return tenant_errors(reachable=self.reachable, reason=self.reason, failure=self.failure,
                             error_results=self.status_counts.get(Status.ERROR.value, 0), unread=self.unread)

    @property
    def in_error(self) -> bool:
        return bool(self.errors)


@dataclass(frozen=True)
class PortfolioReport:
    run_id: str
    collected_at: datetime           # the run's collection time
    evaluated_at: datetime           # the run's evaluation instant: --as-of, else collected_at
    generated_at: datetime           # when the workbook was written
    customers: tuple[CustomerSummaryRow, ...]
    licences: tuple[LicenceRow, ...]
    expiry: tuple[ExpiryRow, ...]    # each row counted from its own customer's evaluation instant
    # Every row carries the tenant id beside the display name: two customers may share a name.
    results: tuple[tuple[str, str, FindingView], ...]    # (customer, tenant id, result), PASS included
    errors: tuple[tuple[str, str, ResourceView], ...]    # (customer, tenant id, resource) that could not be read
