"""The estate's data classes: one app registration, tenants with their Graph objects and faults.

Every Graph object is stored as the plain dict v1.0 returns with everything selected and
every navigation property expanded; the server strips what a request did not ask for. The
server reads these objects live, so a test can change the estate between two runs ("drift")
simply by editing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GraphObject = dict[str, Any]

# The minimal application-permission set of graph-api.md §0 (what the audit app is consented to).
NORMAL_ROLES: tuple[str, ...] = (
    "User.Read.All",
    "AuditLog.Read.All",
    "EntitlementManagement.Read.All",
    "AccessReview.Read.All",
    "Policy.Read.All",
    "RoleManagement.Read.Directory",
    "LicenseAssignment.Read.All",
    "GroupMember.Read.All",
)
# GDAP is read in the partner's own tenant only (graph-api.md §8).
PARTNER_EXTRA_ROLES: tuple[str, ...] = ("DelegatedAdminRelationship.Read.All",)


@dataclass
class AppRegistration:
    """The multi-tenant audit app as Entra knows it: one client id, one or two credentials."""

    client_id: str
    certificate_pem: str | None = None
    client_secret: str | None = None


@dataclass
class Faults:
    """Misbehaviour injected into one tenant's traffic. Everything defaults to off."""

    token_error: str | None = None          # e.g. "AADSTS7000229": the token endpoint refuses
    latency_ms: float = 0.0                 # added to every Graph request of the tenant
    http_errors: dict[str, int] = field(default_factory=dict)  # "/subscribedSkus" -> 403, every time
    transient_503: float = 0.0              # probability of 503 + Retry-After per Graph request
    reset_rate: float = 0.0                 # probability of dropping the connection mid-response
    malformed_json: set[str] = field(default_factory=set)  # path prefixes answered with broken JSON
    truncate_chain: set[str] = field(default_factory=set)  # path prefixes whose page chain breaks
    throttle_budget: int | None = None      # Graph requests per window, then 429 + Retry-After
    throttle_window_s: float = 10.0         # Identity & access limits are per 10 s (§11)
    signin_budget_per_min: int | None = None  # $select=signInActivity: 10/min in Graph; None = off
    # What a real night brings beyond errors: hosts that never answer, tokens Graph stops
    # accepting before their advertised expiry, page chains that never end.
    authority_hang: bool = False            # discovery and token requests are accepted, never answered
    graph_hang: set[str] = field(default_factory=set)      # Graph path prefixes that never answer
    token_valid_s: float | None = None      # Graph rejects tokens older than this (401), though
                                            # the token endpoint advertises an hour (revocation, CAE)
    unauthorized: set[str] = field(default_factory=set)    # path prefixes answered 401, fresh token or not
    unauthorized_next_pages: set[str] = field(default_factory=set)  # …only from the second page on
    page_size_cap: int | None = None        # server-driven paging: fewer items a page than $top asks
    loop_chain: set[str] = field(default_factory=set)      # path prefixes whose nextLink points at itself


@dataclass
class TenantData:
    """One Entra tenant as Graph v1.0 shows it to the audit app."""

    tenant_id: str
    display_name: str
    default_domain: str
    granted_roles: list[str] = field(default_factory=lambda: list(NORMAL_ROLES))
    faults: Faults = field(default_factory=Faults)
    service_principal_id: str = ""          # the app's service principal here: the token's ``oid``
    users: list[GraphObject] = field(default_factory=list)
    groups: list[GraphObject] = field(default_factory=list)
    group_members: dict[str, list[str]] = field(default_factory=dict)  # group id -> transitive member ids
    connected_organizations: list[GraphObject] = field(default_factory=list)
    catalogs: list[GraphObject] = field(default_factory=list)
    access_packages: list[GraphObject] = field(default_factory=list)
    assignment_policies: list[GraphObject] = field(default_factory=list)
    assignments: list[GraphObject] = field(default_factory=list)
    assignment_requests: list[GraphObject] = field(default_factory=list)
    entitlement_settings: GraphObject | None = None
    review_definitions: list[GraphObject] = field(default_factory=list)
    review_instances: dict[str, list[GraphObject]] = field(default_factory=dict)   # definition id ->
    review_decisions: dict[str, list[GraphObject]] = field(default_factory=dict)   # instance id ->
    authorization_policy: GraphObject | None = None
    cross_tenant_default: GraphObject | None = None
    cross_tenant_partners: list[GraphObject] = field(default_factory=list)
    identity_sync: dict[str, GraphObject] = field(default_factory=dict)  # partner tenant id ->
    subscribed_skus: list[GraphObject] = field(default_factory=list)
    role_assignments: list[GraphObject] = field(default_factory=list)
    delegated_admin_relationships: list[GraphObject] = field(default_factory=list)
    access_assignments: dict[str, list[GraphObject]] = field(default_factory=dict)  # relationship id ->
    defender_role_definitions: list[GraphObject] = field(default_factory=list)     # beta only
    defender_role_assignments: list[GraphObject] = field(default_factory=list)     # beta only


@dataclass
class CustomerInfo:
    """What the MSSP's configuration knows about a customer, plus what we planted there."""

    name: str
    tenant_id: str
    current_analysts: int
    projected_growth: int
    planted: list[str] = field(default_factory=list)


@dataclass
class Estate:
    mssp_tenant_id: str          # where the analysts live (not audited, not served)
    partner_tenant_id: str       # where GDAP is read; in ``tenants`` but not in ``customers``
    corporate_tenant_ids: list[str]
    app: AppRegistration
    tenants: dict[str, TenantData]
    customers: list[CustomerInfo]
    mssp_name: str = "Proseware Managed Security"
    generated_at: datetime | None = None   # the "now" every date in the estate is relative to
