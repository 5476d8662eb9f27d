"""The resource catalogue: every Graph resource the audit reads, described once (DESIGN.md, Checks).

One `GraphResource` per resource says what is asked (path and query, api version, page size), with
which permission, in whose tenant, what a 404 means, what it fans out over, which normalised tables
it yields, and the reduced request sent when Graph refuses part of it. The collector, the
normaliser, the check framework and the report's provenance all derive what they need from here;
this module imports no stage. graph-api.md is the source of each line.

Paths are relative to the Graph base. Placeholders, filled by `bind` for a run and by `child_path`
for each parent item of a fan-out:
- `{mssp_tenant_id}`  the MSSP's analyst tenant (cross-tenant partner configuration);
- `{group_filter}`    `displayName eq '…' or …` over the MSSP's group names;
- `{<resource>.id}`   the id of the parent (or grandparent) item a fan-out request is made for (or the
                      parent's property named by the fan-out's `key`: `{role_assignments.principalId}`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

EM = "identityGovernance/entitlementManagement"
AR = "identityGovernance/accessReviews"
PARTNER_POLICY = "policies/crossTenantAccessPolicy/partners/{mssp_tenant_id}"

GUEST_FIELDS = ("id,displayName,mail,userPrincipalName,userType,externalUserState,"
                "externalUserStateChangeDateTime,creationType,createdDateTime,accountEnabled,identities")
GUESTS = "users?$filter=userType eq 'Guest'&$select=" + GUEST_FIELDS
# graph-api.md §1 "External users that are not userType=Guest": cross-tenant sync and guest-to-member
# conversion leave B2B users with userType Member, which the guest query cannot see. The directory
# finds them by their external identity: creationType 'Invitation' (the user resource: "as an external
# account"; cross-tenant-synced users carry it too) or an externalUserState. `ne` is an advanced query
# (concepts/aad-advanced-queries.md): it needs $count=true and the ConsistencyLevel: eventual header,
# which the client sends on every request (audit/graph/client.py); without them Graph answers 400
# Request_UnsupportedQuery. A #EXT# UPN alone cannot be queried: endsWith needs the tenant's initial
# domain after #EXT#@, and contains is not supported on users.
EXTERNAL_MEMBERS = ("users?$count=true&$filter=userType ne 'Guest' and (creationType eq 'Invitation' or "
                    "externalUserState ne null)&$select=" + GUEST_FIELDS)
MEMBER_FIELDS = "id,displayName,userPrincipalName,mail,userType,creationType,externalUserState"

# The directory roles whose holders the audit names (graph-api.md §6 template ids): the role
# assignments of these roles held by a group are looked through to the group's members.
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
WATCHED_ROLES = {GLOBAL_ADMIN: "Global Administrator", SECURITY_ADMIN: "Security Administrator",
                 PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator"}

Kind = Literal["list", "single", "fanout", "facet"]
# fanout: which parent items it fans out over
Over = Literal["every", "audited_customers", "role_holding_groups"]


@dataclass(frozen=True)
class ReducedRequest:
    """The request re-sent without an optional part when Graph refuses (403) the full one."""

    path: str
    page_size: int
    without: str                       # the facet resource whose refusal it answers
    leaves_out: str                    # what the reduced request does not ask for, in Graph's words


@dataclass(frozen=True)
class GraphResource:
    name: str                          # the manifest key and the raw file's name
    path: str                          # the first request, query included ("" for a facet)
    permission: str                    # least-privileged application permission (graph-api.md §0)
    # list: a page chain; single: one object (read as a singleton, not a table); fanout: one page
    # chain per item of `parent`; facet: part of `parent`'s request, recorded under its own name
    # so that a refusal of that part alone is evidence of its own (signInActivity).
    kind: Kind = "list"
    tables: tuple[str, ...] = ()       # the normalised tables it yields, in the parser's order
    parent: str | None = None          # fanout: whose items it fans out over; facet: whose request carries it
    partner: bool = False              # read in the MSSP's partner tenant, not the customer's
    absent_ok: bool = False            # 404 means "none configured": evidence of absence, not an error
    page_size: int = 100               # the maximum page size, for the lower bound
    api: Literal["v1.0", "beta"] = "v1.0"   # beta paths sit beside v1.0 on the same Graph host
    opt_in: str | None = None          # an [expectations] flag: collected only when it is true
    reduced: ReducedRequest | None = None
    # fanout: every parent item, the audited customers' GDAP relationships only, or the role
    # assignments of a watched role held by a group; `key` is the parent item's property the child
    # request is made for (and which its pages record as their parent).
    over: Over = "every"
    key: str = "id"

    def fans_out_over(self, item: Mapping[str, Any], audited: frozenset[str]) -> bool:
        """Whether a child request is made for this parent item (`audited`: lower-case tenant ids)."""
        if not isinstance(item.get(self.key), str):
            return False
        if self.over == "audited_customers":
            return _customer_of(item) in audited
        if self.over == "role_holding_groups":
            return item.get("roleDefinitionId") in WATCHED_ROLES and _odata_kind(item.get("principal")) == "group"
        return True

    def child_path(self, item: Mapping[str, Any], grandparent_id: str | None) -> str:
        """The fan-out request for one item of the parent resource."""
        assert self.kind == "fanout" and self.parent
        path = self.path.replace(f"{{{self.parent}.{self.key}}}", str(item[self.key]))
        grandparent = RESOURCES_BY_NAME[self.parent].parent
        return path.replace(f"{{{grandparent}.id}}", str(grandparent_id)) if grandparent else path

    def request_line(self, endpoint: str | None = None) -> str:
        """How the report names a request (`GET /v1.0/users?…`): `endpoint` as the manifest recorded
        it, or this resource's own path. An advanced query names the header it needs, so that whoever
        repeats it is not answered 400 (concepts/aad-advanced-queries.md)."""
        path = (endpoint or self.path).lstrip("/")
        header = " (header ConsistencyLevel: eventual)" if "$count=true" in path else ""
        return f"GET /{self.api}/{path}{header}"


RESOURCES: tuple[GraphResource, ...] = (
    # signInActivity lives in the reports throttling bucket (at most $top=500) and needs
    # AuditLog.Read.All and Entra ID P1/P2 (graph-api.md §1); without them Graph answers 403 and the
    # guests are re-read without it.
    GraphResource("guests", f"{GUESTS},signInActivity&$top=500", "User.Read.All", tables=("guests",),
                  page_size=500, reduced=ReducedRequest(f"{GUESTS}&$top=999", 999, without="guest_sign_ins",
                                         leaves_out="signInActivity")),
    GraphResource("guest_sign_ins", "", "AuditLog.Read.All", kind="facet", parent="guests"),
    GraphResource("external_members", f"{EXTERNAL_MEMBERS},signInActivity&$top=500", "User.Read.All",
                  tables=("external_members",), page_size=500,
                  reduced=ReducedRequest(f"{EXTERNAL_MEMBERS}&$top=999", 999, without="external_member_sign_ins",
                                         leaves_out="signInActivity")),
    GraphResource("external_member_sign_ins", "", "AuditLog.Read.All", kind="facet", parent="external_members"),
    GraphResource("connected_organizations", f"{EM}/connectedOrganizations", "EntitlementManagement.Read.All",
                  tables=("connected_organizations",)),
    GraphResource("catalogs", f"{EM}/catalogs", "EntitlementManagement.Read.All", tables=("catalogs",)),
    GraphResource("access_packages", f"{EM}/accessPackages?$expand=assignmentPolicies",
                  "EntitlementManagement.Read.All", tables=("access_packages", "policies")),
    GraphResource("assignments", f"{EM}/assignments?$expand=target,accessPackage,assignmentPolicy",
                  "EntitlementManagement.Read.All", tables=("assignments",)),
    GraphResource("assignment_requests",
                  f"{EM}/assignmentRequests?$filter=state eq 'pendingApproval'&$expand=requestor,accessPackage",
                  "EntitlementManagement.Read.All", tables=("assignment_requests",)),
    GraphResource("em_settings", f"{EM}/settings", "EntitlementManagement.Read.All", kind="single"),
    GraphResource("review_definitions", f"{AR}/definitions?$top=100", "AccessReview.Read.All",
                  tables=("review_definitions",)),
    GraphResource("review_instances", f"{AR}/definitions/{{review_definitions.id}}/instances?$top=100",
                  "AccessReview.Read.All", kind="fanout", parent="review_definitions", tables=("review_instances",)),
    GraphResource("review_decisions",
                  f"{AR}/definitions/{{review_definitions.id}}/instances/{{review_instances.id}}/decisions?$top=100"
                  "&$select=id,decision,recommendation,principal,reviewedBy,reviewedDateTime,appliedDateTime,"
                  "applyResult",
                  "AccessReview.Read.All", kind="fanout", parent="review_instances", tables=("review_decisions",)),
    GraphResource("authorization_policy", "policies/authorizationPolicy", "Policy.Read.All", kind="single"),
    GraphResource("cross_tenant_default", "policies/crossTenantAccessPolicy/default", "Policy.Read.All",
                  kind="single"),
    GraphResource("cross_tenant_partner", PARTNER_POLICY, "Policy.Read.All", kind="single", absent_ok=True),
    GraphResource("identity_sync", f"{PARTNER_POLICY}/identitySynchronization", "Policy.Read.All", kind="single",
                  absent_ok=True),
    GraphResource("subscribed_skus", "subscribedSkus?$select=skuId,skuPartNumber,capabilityStatus,"
                  "prepaidUnits,consumedUnits,servicePlans", "LicenseAssignment.Read.All", tables=("subscribed_skus",)),
    GraphResource("role_assignments", "roleManagement/directory/roleAssignments?$expand=principal",
                  "RoleManagement.Read.Directory", tables=("role_assignments",)),
    # A privileged role is often assigned to a role-assignable group (activated through PIM for
    # Groups): the assignment's principal is the group, and the people are its members (graph-api.md
    # §6: "Expand role-assignable groups via /groups/{id}/transitiveMembers"; §9 for the permission).
    # Read only for the groups that hold a watched role, once per group.
    GraphResource("role_group_members", f"groups/{{role_assignments.principalId}}/transitiveMembers?$top=999"
                  f"&$select={MEMBER_FIELDS},accountEnabled",
                  "GroupMember.Read.All", kind="fanout", parent="role_assignments", tables=("role_group_members",),
                  page_size=999, over="role_holding_groups", key="principalId"),
    GraphResource("groups", "groups?$filter={group_filter}&$select=id,displayName,securityEnabled&$top=999",
                  "GroupMember.Read.All", tables=("groups",), page_size=999),
    GraphResource("group_members", f"groups/{{groups.id}}/transitiveMembers?$top=999&$select={MEMBER_FIELDS}",
                  "GroupMember.Read.All", kind="fanout", parent="groups", tables=("group_members",), page_size=999),
    # graph-api.md §10: Defender XDR unified RBAC exists only in beta ("unsupported for
    # production"), so it is read only when [expectations] collect_defender_rbac is true.
    GraphResource("defender_role_definitions", "roleManagement/defender/roleDefinitions",
                  "RoleManagement.Read.Defender", tables=("defender_role_definitions",), api="beta",
                  opt_in="collect_defender_rbac"),
    GraphResource("defender_role_assignments", "roleManagement/defender/roleAssignments",
                  "RoleManagement.Read.Defender", tables=("defender_role_assignments",), api="beta",
                  opt_in="collect_defender_rbac"),
    # GDAP is read in the MSSP's partner tenant (graph-api.md §8), which may hold thousands of
    # relationships: the access assignments are read only for the audited customers' ones.
    GraphResource("gdap_relationships", "tenantRelationships/delegatedAdminRelationships?$top=300",
                  "DelegatedAdminRelationship.Read.All", tables=("gdap_relationships",), partner=True,
                  page_size=300),
    GraphResource("gdap_access_assignments",
                  "tenantRelationships/delegatedAdminRelationships/{gdap_relationships.id}/accessAssignments",
                  "DelegatedAdminRelationship.Read.All", kind="fanout", parent="gdap_relationships",
                  tables=("gdap_access_assignments",), partner=True, over="audited_customers"),
)
RESOURCES_BY_NAME: Mapping[str, GraphResource] = {r.name: r for r in RESOURCES}

# What the other stages derive, named here so that each is derived once.
ABSENT_OK = frozenset(r.name for r in RESOURCES if r.absent_ok)
PARTNER_RESOURCES = frozenset(r.name for r in RESOURCES if r.partner)
SINGLETONS = tuple(r.name for r in RESOURCES if r.kind == "single")
# fan-out resource → the resource it fans out over (review_instances → review_definitions, …)
FANOUT_PARENTS = {r.name: r.parent for r in RESOURCES if r.kind == "fanout" and r.parent}
# normalised table → the resource it is built from
TABLE_SOURCES = {table: r.name for r in RESOURCES for table in r.tables}


def resource(name: str) -> GraphResource:
    return RESOURCES_BY_NAME[name]


def bind(mssp_tenant_id: str, group_names: Iterable[str]) -> tuple[GraphResource, ...]:
    """The catalogue with this run's values in its paths: what the collector asks Graph for."""
    group_filter = " or ".join(f"displayName eq '{_odata_quote(n)}'" for n in group_names)
    values = {"{mssp_tenant_id}": mssp_tenant_id, "{group_filter}": group_filter}

    def fill(path: str) -> str:
        for token, value in values.items():
            path = path.replace(token, value)
        return path
    return tuple(r if r.kind in ("fanout", "facet") else dataclasses.replace(r, path=fill(r.path))
                 for r in RESOURCES)


def permissions(*, partner: bool = False, opted_in: Iterable[str] = ()) -> tuple[str, ...]:
    """The permissions the resources on one side need; opt-in resources count only when opted in."""
    chosen = set(opted_in)
    return tuple(sorted({r.permission for r in RESOURCES
                         if r.partner == partner and (r.opt_in is None or r.opt_in in chosen)}))


def opt_in_flags() -> tuple[str, ...]:
    return tuple(sorted({r.opt_in for r in RESOURCES if r.opt_in}))


def _odata_quote(value: str) -> str:
    return value.replace("'", "''")


def _customer_of(relationship: Mapping[str, Any]) -> str | None:
    """A GDAP relationship's customer tenant id, lower case: a partner tenant may hold thousands
    (graph-api.md §8), and the others' access assignments are neither needed nor ours to keep."""
    customer = relationship.get("customer")
    tenant_id = customer.get("tenantId") if isinstance(customer, Mapping) else None
    return tenant_id.lower() if isinstance(tenant_id, str) else None


def _odata_kind(obj: object) -> str | None:
    """'group' of {"@odata.type": "#microsoft.graph.group", …}; None when it says nothing."""
    kind = obj.get("@odata.type") if isinstance(obj, Mapping) else None
    return kind.rsplit(".", 1)[-1] if isinstance(kind, str) else None
