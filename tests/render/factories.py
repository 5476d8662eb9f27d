"""Hand-built view-models: a realistic customer and portfolio, and hostile variants of both."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from audit.expiry import bucket, days_left
from audit.models import Population, Severity, Status
from audit.render.viewmodel import (
    Cell,
    CustomerReport,
    CustomerSummaryRow,
    ExpiryRow,
    FindingView,
    LicenceRow,
    PortfolioReport,
    ResourceView,
    Table,
)

COLLECTED_AT = datetime(2025, 1, 14, 2, 3, 11, tzinfo=UTC)
EVALUATED_AT = COLLECTED_AT          # no --as-of: the results are evaluated at the collection time
GENERATED_AT = datetime(2025, 1, 14, 2, 41, 0, tzinfo=UTC)
RUN_ID = "20250114T020000Z-7f3a9c"
TENANT_ID = "3f1c6a52-8d0e-4b6f-9a37-2c5d8e1f0b44"
MSSP_TENANT = "a7e0d9c2-1b34-4f58-8c6d-0e2f4a6b8c10"

LONG_NAME = "Contoso" + "W" * 10_000
HOSTILE_STRINGS: tuple[str, ...] = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-2",
    "@SUM(A1)",
    "../../etc/passwd",
    "\u202eevil.exe\u202c safe",
    "bell\x07name",
    "\t=1+1",
    LONG_NAME,
)
HOSTILE_CUSTOMER = '<script>alert(1)</script> =HYPERLINK("http://x","y") \u202eLtd\x07 ' + LONG_NAME


# What the pipeline attaches to the PDF: the tenant manifest and results.json, byte for byte.
MANIFEST_JSON = json.dumps({"schema": "mssp-audit/tenant/1", "tenant_id": TENANT_ID,
                            "collected_at": "2025-01-14T02:03:11Z",
                            "resources": {"guests": {"status": "ok", "items": 150}}}, indent=2).encode()
RESULTS_JSON = json.dumps({"schema": "mssp-audit/results/1", "run_id": RUN_ID, "score": 61.5,
                           "results": [{"check_id": "EM-004", "status": "FAIL", "name": "Zoë \u202e"}]},
                          ensure_ascii=False).encode()
ATTACHMENTS = (("manifest.json", MANIFEST_JSON), ("results.json", RESULTS_JSON))
EXPIRY_BUCKETS = (("Expired", 2), ("≤ 7 days", 1), ("≤ 30 days", 3), ("≤ 90 days", 0), ("≤ 180 days", 5),
                  ("≤ 365 days", 12), ("Later", 0), ("No end", 4))
SCORE_HISTORY = (("2024-12-17", 48.0), ("2024-12-24", 52.5), ("2024-12-31", None), ("2025-01-07", 58.0),
                 ("2025-01-14", 61.5))


def without_controls(text: str) -> str:
    """What survives the writers: C0 controls other than tab, LF and CR are dropped."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def guest_rows(count: int, *, hostile: bool) -> tuple[tuple[Cell, ...], ...]:
    rows: list[tuple[Cell, ...]] = []
    for i in range(count):
        name = HOSTILE_STRINGS[i % len(HOSTILE_STRINGS)] if hostile and i < 20 else f"a-Analyst{i:03d}"
        last = COLLECTED_AT - timedelta(days=(i * 7) % 200) if i % 11 else None
        rows.append((
            name,
            f"a-analyst{i:03d}_mssp.example#EXT#@contoso.onmicrosoft.com",
            MSSP_TENANT if i % 17 else "corp-tenant-0001",
            COLLECTED_AT - timedelta(days=400 - i),
            last,
            i % 13 != 0,
            "Tier 1 Analyst" if i % 3 else "Tier 2 Analyst",
        ))
    return tuple(rows)


GUEST_COLUMNS = ("Display name", "User principal name", "Home tenant", "Created", "Last sign-in",
                 "Enabled", "Access package")


def _finding(check_id: str, title: str, area: str, severity: Severity, status: Status, summary: str,
             requirement: str, *, reason: str = "", evidence: Table | None = None,
             population: Population | None = None) -> FindingView:
    return FindingView(
        check_id=check_id,
        versioned_id=f"{check_id}.v1",
        title=title,
        area=area,
        severity=severity.value,
        status=status.value,
        summary=summary,
        requirement=requirement,
        rationale=f"Without this control, delegated access to the customer tenant is not governed ({check_id}).",
        remediation=f"In Identity Governance, correct the configuration described by {check_id} and re-run the audit.",
        references=("Seed: Multi-tenant access for MSSPs", "https://learn.microsoft.com/entra/id-governance/"),
        frameworks=(("CIS M365", "5.1.6"), ("NIST 800-53", "AC-2(3)"), ("ISO 27001", "A.5.18")),
        reason=reason,
        evidence=evidence or Table("Evidence", ("Item", "Value"), (("policy", "ok"),)),
        population=population,
    )


REQUIREMENTS = {
    "EM-003": "Requests for the analyst access packages must be approved by a member of MSSP Analyst Approvers.",
    "EM-004": "Every analyst access-package assignment must expire within 365 days.",
    "GS-001": "Guests must not be able to invite other guests.",
    "ID-001": "No guest may come from the MSSP's corporate tenant.",
    "AR-001": "Each analyst access package must have an annual access review.",
    "GD-001": "GDAP relationships must end within 730 days and carry least-privilege roles.",
    "EM-001": "The MSSP analyst tenant must be a connected organisation.",
    "EM-002": "A catalog named MSSP Accesses must hold the analyst access packages.",
    "GS-002": "Guests must be blocked from the Entra admin portal.",
    "LC-001": "Sign-in must not be blocked when a guest's last access package expires.",
    "LI-001": "Entra ID P2 licences must cover the analyst guest accounts.",
}


def findings(*, hostile: bool, token_ok: bool = True) -> tuple[FindingView, ...]:
    bad = HOSTILE_STRINGS if hostile else ("a-JoshX1", "a-JoshX2", "a-JoshX3")
    assignments = Table(
        "Assignments without expiry",
        ("Guest", "Access package", "Assigned", "Expires"),
        tuple((bad[i % len(bad)], "Tier 1 Analyst", COLLECTED_AT - timedelta(days=30 * i), None) for i in range(260)),
        source="GET /v1.0/identityGovernance/entitlementManagement/assignments",
        total=260,
    )
    if not token_ok:
        reason = "AADSTS7000215: Invalid client secret provided."
        return tuple(_finding(cid, f"Check {cid}", "Entitlement management", Severity.HIGH, Status.ERROR,
                              "The evidence could not be collected.", req, reason=reason,
                              evidence=Table("Evidence", ("Item",), ()))
                     for cid, req in REQUIREMENTS.items())
    return (
        _finding("EM-004", "Analyst assignments expire within 365 days", "Entitlement management",
                 Severity.CRITICAL, Status.FAIL, "260 assignments never expire.", REQUIREMENTS["EM-004"],
                 evidence=Table(assignments.title, assignments.columns, assignments.rows,
                                assignments.source, total=260),
                 population=Population("delivered MSSP assignments", 300, 40, "expire within 365 days")),
        _finding("EM-003", "Analyst packages require approver sign-off", "Entitlement management",
                 Severity.HIGH, Status.FAIL, "Tier 2 Analyst is granted without approval.", REQUIREMENTS["EM-003"],
                 evidence=Table("Assignment policies", ("Package", "Policy", "Approval required", "Approvers"),
                                (("Tier 1 Analyst", "Initial", True, "MSSP Analyst Approvers"),
                                 ("Tier 2 Analyst", "Initial", False, bad[0])))),
        _finding("GS-001", "Guests cannot invite guests", "Guest settings", Severity.HIGH, Status.FAIL,
                 "allowInvitesFrom is 'everyone'.", REQUIREMENTS["GS-001"]),
        _finding("ID-001", "No guests from the corporate tenant", "Identity hygiene", Severity.MEDIUM,
                 Status.WARN, f"1 guest from a corporate tenant: {bad[1]}", REQUIREMENTS["ID-001"],
                 evidence=Table("Corporate guests", ("Guest", "Home tenant"), ((bad[1], "corp-tenant-0001"),))),
        _finding("AR-001", "Annual access reviews", "Access reviews", Severity.MEDIUM, Status.WARN,
                 "The Tier 2 review is 12 days overdue.", REQUIREMENTS["AR-001"]),
        _finding("GD-001", "GDAP relationships are bounded", "GDAP", Severity.MEDIUM, Status.ERROR,
                 "The evidence could not be collected.", REQUIREMENTS["GD-001"],
                 reason="forbidden: DelegatedAdminRelationship.Read.All is not granted",
                 evidence=Table("GDAP relationships", ("Relationship",), ())),
        _finding("EM-001", "MSSP tenant is a connected organisation", "Entitlement management",
                 Severity.HIGH, Status.PASS, "Connected.", REQUIREMENTS["EM-001"],
                 population=Population("connected organisations", 1, 1, "are the configured MSSP tenant")),
        _finding("EM-002", "MSSP Accesses catalog", "Entitlement management", Severity.MEDIUM, Status.PASS,
                 "Catalog present with 3 packages.", REQUIREMENTS["EM-002"],
                 population=Population("MSSP access packages", 3)),
        _finding("GS-002", "Admin portal restricted for guests", "Guest settings", Severity.MEDIUM,
                 Status.MANUAL, "Graph v1.0 cannot read this setting.", REQUIREMENTS["GS-002"],
                 reason="Needs an attestation from the customer admin."),
        _finding("LC-001", "External-user lifecycle", "Entitlement management", Severity.LOW, Status.ACCEPTED,
                 "Risk accepted.", REQUIREMENTS["LC-001"],
                 reason="Accepted by J. Doe until 2025-06-30: analysts request packages ad hoc."),
        _finding("LI-001", "P2 licences cover analysts", "Licensing", Severity.LOW, Status.NOT_APPLICABLE,
                 "Tenant has E5.", REQUIREMENTS["LI-001"], reason="Microsoft 365 E5 includes Entra ID P2."),
    )


def _counts(items: tuple[FindingView, ...]) -> tuple[dict[str, int], dict[str, int]]:
    status_counts = {s.value: 0 for s in Status}
    by_severity = {s.value: 0 for s in Severity}
    for f in items:
        status_counts[f.status] += 1
        if f.status in (Status.FAIL.value, Status.WARN.value):
            by_severity[f.severity] += 1
    return status_counts, by_severity


def resources(*, token_ok: bool = True) -> tuple[ResourceView, ...]:
    specs = [
        ("guests", "/v1.0/users?$filter=userType eq 'Guest'", "ok", "", 150, 2),
        ("connected_organizations", "/v1.0/identityGovernance/entitlementManagement/connectedOrganizations",
         "ok", "", 1, 1),
        ("catalogs", "/v1.0/identityGovernance/entitlementManagement/catalogs", "ok", "", 2, 1),
        ("access_packages", "/v1.0/identityGovernance/entitlementManagement/accessPackages", "ok", "", 3, 1),
        ("assignment_policies", "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies",
         "ok", "", 4, 1),
        ("assignments", "/v1.0/identityGovernance/entitlementManagement/assignments", "ok", "", 260, 3),
        ("access_reviews", "/v1.0/identityGovernance/accessReviews/definitions", "ok", "", 2, 1),
        ("authorization_policy", "/v1.0/policies/authorizationPolicy", "ok", "", 1, 1),
        ("subscribed_skus", "/v1.0/subscribedSkus", "ok", "", 6, 1),
        ("gdap_relationships", "/v1.0/tenantRelationships/delegatedAdminRelationships", "forbidden",
         "DelegatedAdminRelationship.Read.All is not granted", 0, 1),
    ]
    if not token_ok:
        return tuple(ResourceView(n, e, "failed", "no token", 0, 0, "") for n, e, *_ in specs)
    return tuple(ResourceView(n, e, s, r, i, q, _sha(n) if s == "ok" else "") for n, e, s, r, i, q in specs)


def customer_report(*, hostile: bool = False, guests: int = 150, token_ok: bool = True) -> CustomerReport:
    items = findings(hostile=hostile, token_ok=token_ok)
    status_counts, by_severity = _counts(items)
    guest_table = Table("Guest inventory", GUEST_COLUMNS, guest_rows(guests, hostile=hostile) if token_ok else (),
                        source="GET /v1.0/users?$filter=userType eq 'Guest'")
    packages = Table(
        "Access packages and policies",
        ("Catalog", "Package", "Policy", "Requestors", "Approval", "Expiry (days)", "Review"),
        (("MSSP Accesses", "Tier 1 Analyst", "Initial", "MSSP tenant", True, 365, "annual"),
         ("MSSP Accesses", "Tier 2 Analyst", "Initial", "MSSP tenant", False, None, "annual"),
         ("MSSP Accesses", "MSSP Analyst Approvers", "Customer admin", "MSSP tenant", True, 365, "none")),
        source="GET /v1.0/identityGovernance/entitlementManagement/assignmentPolicies?$expand=accessPackage",
    )
    reviews = Table(
        "Access reviews",
        ("Review", "Scope", "Recurrence", "Last completed", "Next due"),
        (("Tier 1 Analyst annual", "Tier 1 Analyst", "annual", COLLECTED_AT - timedelta(days=200),
          COLLECTED_AT + timedelta(days=165)),
         ("Tier 2 Analyst annual", "Tier 2 Analyst", "annual", COLLECTED_AT - timedelta(days=377),
          COLLECTED_AT - timedelta(days=12))),
        source="GET /v1.0/identityGovernance/accessReviews/definitions",
    )
    return CustomerReport(
        customer=HOSTILE_CUSTOMER if hostile else "Contoso Pharmaceuticals Ltd",
        tenant_id=TENANT_ID,
        run_id=RUN_ID,
        collected_at=COLLECTED_AT,
        evaluated_at=EVALUATED_AT,
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        score=None if not token_ok else 61.5,
        status_counts=status_counts,
        failed_by_severity=by_severity,
        findings=items,
        appendix=(guest_table, packages, reviews),
        resources=resources(token_ok=token_ok),
        granted_permissions=("User.Read.All", "EntitlementManagement.Read.All", "AccessReview.Read.All",
                             "Policy.Read.All", "Organization.Read.All", "AuditLog.Read.All"),
        token_ok=token_ok,
        token_reason="" if token_ok else "AADSTS7000215: Invalid client secret provided.",
        manifest_sha256=hashlib.sha256(MANIFEST_JSON).hexdigest(),
        attachments=ATTACHMENTS,
        expiry_buckets=EXPIRY_BUCKETS if token_ok else (),
        score_history=SCORE_HISTORY if token_ok else (("2025-01-14", None),),
    )


# (current analysts, projected growth, P2 owned, expiring, suspended or locked out) → the seed's example
# first: 20 + 20 → 60 → 12. The second is covered only if its 2 expiring units are renewed.
LICENCE_INPUTS: tuple[tuple[int, int, int | None, int | None, int | None], ...] = (
    (20, 20, 12, 0, 0), (20, 20, 10, 2, 0), (3, 0, None, None, None), (0, 0, 0, 0, 0), (7, 3, 5, 0, 0),
    (11, 4, 2, 0, 4), (1, 1, 1, 0, 0), (5, 5, 3, 0, 0), (2, 3, None, None, None), (40, 10, 15, 1, 0),
)


def portfolio_report(*, hostile: bool = False, expiry_rows: int = 40) -> PortfolioReport:
    names = ["Contoso Pharmaceuticals Ltd", "Fabrikam Inc", "Northwind Traders", "Tailspin Toys",
             "Woodgrove Bank", "Adventure Works", "Litware", "Proseware", "Wide World Importers",
             "Alpine Ski House"]
    if hostile:
        names = list(HOSTILE_STRINGS[: len(LICENCE_INPUTS)])
    tenants = [f"0000000{i}-0000-4000-8000-00000000000{i}" for i in range(len(names))]
    customers = tuple(
        CustomerSummaryRow(name, tenants[i], [72.5, 40.0, None, 100.0][i % 4],
                           {s.value: (i + j) % 4 if s is not Status.ERROR else int(i % 3 == 2)
                            for j, s in enumerate(Status)}, True,
                           f"customer-{i}.pdf", f"customer-{i}.xlsx", evaluated_at=EVALUATED_AT,
                           collected_at=COLLECTED_AT)
        for i, name in enumerate(names)
    )
    licences = tuple(
        LicenceRow(name, f"tenant-{i}", cur, growth, owned, expiring, gone, None if owned is None else 15 + i)
        for i, (name, (cur, growth, owned, expiring, gone)) in enumerate(zip(names, LICENCE_INPUTS, strict=True))
    )
    kinds = ("Access package assignment", "GDAP relationship", "Access review")
    offsets = (-3, 0, 5, 7, 8, 30, 31, 90, 91, 400, None)

    def end(i: int) -> datetime | None:
        offset = offsets[i % len(offsets)]
        return None if offset is None else COLLECTED_AT + timedelta(days=offset)

    expiry = tuple(
        ExpiryRow(names[i % len(names)], tenants[i % len(names)], kinds[i % 3],
                  HOSTILE_STRINGS[i % len(HOSTILE_STRINGS)] if hostile else f"a-JoshX{i}",
                  "Tier 1 Analyst", end(i), "delivered", EVALUATED_AT, days_left(end(i), EVALUATED_AT),
                  bucket(end(i), EVALUATED_AT))
        for i in range(expiry_rows)
    )
    items = findings(hostile=hostile)
    return PortfolioReport(
        run_id=RUN_ID,
        collected_at=COLLECTED_AT,
        evaluated_at=EVALUATED_AT,
        generated_at=GENERATED_AT,
        customers=customers,
        licences=licences,
        expiry=expiry,
        results=tuple((names[i % len(names)], tenants[i % len(names)], f) for i, f in enumerate(items)),
        errors=tuple((names[0], tenants[0], r) for r in resources() if r.status != "ok")
        + ((names[-1], tenants[-1], ResourceView("guests", "/v1.0/users", "failed", HOSTILE_STRINGS[1], 0, 4, "")),),
    )
