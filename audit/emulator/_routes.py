"""Graph paths -> the tenant data behind them, with each path's permission and paging rules.

Paths, least-privileged permissions and page limits are those of graph-api.md (§0, §11
"Paging"): users/groups/members ``$top`` ≤ 999 (≤ 500 with signInActivity), access reviews
≤ 100, GDAP ≤ 300, entitlement management server-paged, subscribedSkus not paged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit.emulator._errors import GraphError, not_found, unknown_segment
from audit.emulator._gen_directory import ROLE_NAMES, role_definition
from audit.emulator.estate import TenantData

GraphObject = dict[str, Any]

# Required permission -> application permissions that satisfy it (higher ones included).
SATISFIED_BY: dict[str, frozenset[str]] = {
    "User.Read.All": frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
                                "Directory.ReadWrite.All"}),
    "AuditLog.Read.All": frozenset({"AuditLog.Read.All"}),
    "GroupMember.Read.All": frozenset({"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All",
                                       "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}),
    "EntitlementManagement.Read.All": frozenset({"EntitlementManagement.Read.All",
                                                 "EntitlementManagement.ReadWrite.All"}),
    "AccessReview.Read.All": frozenset({"AccessReview.Read.All", "AccessReview.ReadWrite.All",
                                        "AccessReview.ReadWrite.Membership"}),
    "Policy.Read.All": frozenset({"Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess",
                                  "Policy.ReadWrite.Authorization"}),
    "RoleManagement.Read.Directory": frozenset({"RoleManagement.Read.Directory", "RoleManagement.Read.All",
                                                "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                                                "Directory.ReadWrite.All"}),
    "LicenseAssignment.Read.All": frozenset({"LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All",
                                             "Organization.Read.All", "Directory.Read.All"}),
    "DelegatedAdminRelationship.Read.All": frozenset({"DelegatedAdminRelationship.Read.All",
                                                      "DelegatedAdminRelationship.ReadWrite.All"}),
    "RoleManagement.Read.Defender": frozenset({"RoleManagement.Read.Defender", "RoleManagement.ReadWrite.Defender"}),
}


@dataclass(frozen=True)
class Resource:
    type_name: str
    context: str                    # the @odata.context fragment after "$metadata#"
    permission: str
    items: list[GraphObject] | None = None     # a collection…
    entity: GraphObject | None = None          # …or a single object
    directory: bool = False         # directory objects: advanced-query rules apply
    needs_p2: bool = False          # entitlement management and access reviews (§2, §3)
    default_page: int = 100
    max_top: int | None = 999       # None: $top is ignored, the server pages (entitlement management)
    pageable: bool = True
    skip_supported: bool = False
    cast: str | None = None         # "@odata.type" added to each item (directoryObject collections)

    @property
    def is_collection(self) -> bool:
        return self.items is not None


Params = dict[str, str]
Builder = Callable[[TenantData, Params], Resource]

_EM = "identityGovernance/entitlementManagement"
_AR = "identityGovernance/accessReviews/definitions"


def _find(items: list[GraphObject], value: str, *, key: str = "id", what: str | None = None) -> GraphObject:
    lowered = value.lower()
    for item in items:
        if str(item.get(key, "")).lower() == lowered:
            return item
    raise not_found(what or value)


def _users(t: TenantData, p: Params) -> Resource:
    return Resource("user", "users", "User.Read.All", items=t.users, directory=True)


def _user(t: TenantData, p: Params) -> Resource:
    key = "userPrincipalName" if "@" in p["id"] else "id"
    return Resource("user", "users/$entity", "User.Read.All", entity=_find(t.users, p["id"], key=key),
                    directory=True)


def _groups(t: TenantData, p: Params) -> Resource:
    return Resource("group", "groups", "GroupMember.Read.All", items=t.groups, directory=True)


def _group(t: TenantData, p: Params) -> Resource:
    return Resource("group", "groups/$entity", "GroupMember.Read.All", entity=_find(t.groups, p["id"]),
                    directory=True)


def _members(t: TenantData, p: Params) -> Resource:
    group = _find(t.groups, p["id"])
    by_id = {u["id"]: u for u in t.users}
    members = [by_id[i] for i in t.group_members.get(group["id"], []) if i in by_id]
    return Resource("user", "directoryObjects", "GroupMember.Read.All", items=members, directory=True,
                    cast="#microsoft.graph.user")


_EM_LISTS = (
    ("connected_organizations", "connectedOrganizations", "connectedOrganization"),
    ("catalogs", "catalogs", "accessPackageCatalog"),
    ("access_packages", "accessPackages", "accessPackage"),
    ("assignment_policies", "assignmentPolicies", "accessPackageAssignmentPolicy"),
    ("assignments", "assignments", "accessPackageAssignment"),
    ("assignment_requests", "assignmentRequests", "accessPackageAssignmentRequest"),
)


def _em_list(attr: str, segment: str, type_name: str) -> tuple[Builder, Builder]:
    # Entitlement management pages on the server whatever $top says (§2, §11): max_top=None.
    def collection(t: TenantData, p: Params) -> Resource:
        return Resource(type_name, f"{_EM}/{segment}", "EntitlementManagement.Read.All",
                        items=getattr(t, attr), needs_p2=True, max_top=None)

    def entity(t: TenantData, p: Params) -> Resource:
        return Resource(type_name, f"{_EM}/{segment}/$entity", "EntitlementManagement.Read.All",
                        entity=_find(getattr(t, attr), p["id"]), needs_p2=True)

    return collection, entity


def _em_settings(t: TenantData, p: Params) -> Resource:
    if t.entitlement_settings is None:
        raise not_found("settings")
    return Resource("entitlementManagementSettings", f"{_EM}/settings/$entity", "EntitlementManagement.Read.All",
                    entity=t.entitlement_settings, needs_p2=True)


def _review(kind: str, items: list[GraphObject] | None = None, entity: GraphObject | None = None,
            context: str = _AR) -> Resource:
    return Resource(kind, context, "AccessReview.Read.All", items=items, entity=entity, needs_p2=True,
                    max_top=100, skip_supported=True)


def _definitions(t: TenantData, p: Params) -> Resource:
    return _review("accessReviewScheduleDefinition", items=t.review_definitions)


def _definition(t: TenantData, p: Params) -> Resource:
    return _review("accessReviewScheduleDefinition", entity=_find(t.review_definitions, p["def"]),
                   context=f"{_AR}/$entity")


def _instances(t: TenantData, p: Params) -> Resource:
    definition = _find(t.review_definitions, p["def"])
    return _review("accessReviewInstance", items=t.review_instances.get(definition["id"], []),
                   context=f"{_AR}('{definition['id']}')/instances")


def _instance(t: TenantData, p: Params) -> Resource:
    definition = _find(t.review_definitions, p["def"])
    instance = _find(t.review_instances.get(definition["id"], []), p["inst"])
    return _review("accessReviewInstance", entity=instance, context=f"{_AR}('{definition['id']}')/instances/$entity")


def _decisions(t: TenantData, p: Params) -> Resource:
    definition = _find(t.review_definitions, p["def"])
    instance = _find(t.review_instances.get(definition["id"], []), p["inst"])
    return _review("accessReviewInstanceDecisionItem", items=t.review_decisions.get(instance["id"], []),
                   context=f"{_AR}('{definition['id']}')/instances('{instance['id']}')/decisions")


def _singleton(attr: str, context: str, type_name: str) -> Builder:
    def build(t: TenantData, p: Params) -> Resource:
        value = getattr(t, attr)
        if value is None:
            raise not_found(context)
        return Resource(type_name, f"{context}/$entity", "Policy.Read.All", entity=value)
    return build


def _partners(t: TenantData, p: Params) -> Resource:
    return Resource("crossTenantAccessPolicyConfigurationPartner", "policies/crossTenantAccessPolicy/partners",
                    "Policy.Read.All", items=t.cross_tenant_partners, skip_supported=True)


def _partner(t: TenantData, p: Params) -> Resource:
    # Partners are keyed by tenantId, not by an id property (§5).
    return Resource("crossTenantAccessPolicyConfigurationPartner",
                    "policies/crossTenantAccessPolicy/partners/$entity", "Policy.Read.All",
                    entity=_find(t.cross_tenant_partners, p["tid"], key="tenantId"))


def _identity_sync(t: TenantData, p: Params) -> Resource:
    partner = _find(t.cross_tenant_partners, p["tid"], key="tenantId")
    sync = t.identity_sync.get(partner["tenantId"])
    if sync is None:
        raise not_found(f"identitySynchronization of {p['tid']}")
    return Resource("crossTenantIdentitySyncPolicyPartner",
                    f"policies/crossTenantAccessPolicy/partners('{partner['tenantId']}')/identitySynchronization/$entity",
                    "Policy.Read.All", entity=sync)


def _skus(t: TenantData, p: Params) -> Resource:
    return Resource("subscribedSku", "subscribedSkus", "LicenseAssignment.Read.All", items=t.subscribed_skus,
                    pageable=False, directory=True)


def _role_assignments(t: TenantData, p: Params) -> Resource:
    return Resource("unifiedRoleAssignment", "roleManagement/directory/roleAssignments",
                    "RoleManagement.Read.Directory", items=t.role_assignments)


def _role_definitions(t: TenantData, p: Params) -> Resource:
    return Resource("unifiedRoleDefinition", "roleManagement/directory/roleDefinitions",
                    "RoleManagement.Read.Directory", items=[role_definition(i) for i in ROLE_NAMES])


def _gdap(t: TenantData, p: Params) -> Resource:
    return Resource("delegatedAdminRelationship", "tenantRelationships/delegatedAdminRelationships",
                    "DelegatedAdminRelationship.Read.All", items=t.delegated_admin_relationships, max_top=300)


def _gdap_one(t: TenantData, p: Params) -> Resource:
    return Resource("delegatedAdminRelationship", "tenantRelationships/delegatedAdminRelationships/$entity",
                    "DelegatedAdminRelationship.Read.All", entity=_find(t.delegated_admin_relationships, p["rel"]))


def _gdap_access(t: TenantData, p: Params) -> Resource:
    relationship = _find(t.delegated_admin_relationships, p["rel"])
    return Resource("delegatedAdminAccessAssignment",
                    f"tenantRelationships/delegatedAdminRelationships('{relationship['id']}')/accessAssignments",
                    "DelegatedAdminRelationship.Read.All",
                    items=t.access_assignments.get(relationship["id"], []), max_top=300)


def _defender(attr: str, context: str) -> Builder:
    def build(t: TenantData, p: Params) -> Resource:
        return Resource("unifiedRoleAssignmentMultiple", context, "RoleManagement.Read.Defender",
                        items=getattr(t, attr))
    return build


Route = tuple[tuple[str, ...], Builder]


def _build_routes() -> dict[str, list[Route]]:
    v1: list[tuple[str, Builder]] = [
        ("users", _users), ("users/{id}", _user),
        ("groups", _groups), ("groups/{id}", _group),
        ("groups/{id}/members", _members), ("groups/{id}/transitiveMembers", _members),
        (f"{_EM}/settings", _em_settings),
        (_AR, _definitions),
        (f"{_AR}/{{def}}", _definition),
        (f"{_AR}/{{def}}/instances", _instances),
        (f"{_AR}/{{def}}/instances/{{inst}}", _instance),
        (f"{_AR}/{{def}}/instances/{{inst}}/decisions", _decisions),
        ("policies/authorizationPolicy",
         _singleton("authorization_policy", "policies/authorizationPolicy", "authorizationPolicy")),
        ("policies/crossTenantAccessPolicy/default",
         _singleton("cross_tenant_default", "policies/crossTenantAccessPolicy/default",
                    "crossTenantAccessPolicyConfigurationDefault")),
        ("policies/crossTenantAccessPolicy/partners", _partners),
        ("policies/crossTenantAccessPolicy/partners/{tid}", _partner),
        ("policies/crossTenantAccessPolicy/partners/{tid}/identitySynchronization", _identity_sync),
        ("subscribedSkus", _skus),
        ("roleManagement/directory/roleAssignments", _role_assignments),
        ("roleManagement/directory/roleDefinitions", _role_definitions),
        ("tenantRelationships/delegatedAdminRelationships", _gdap),
        ("tenantRelationships/delegatedAdminRelationships/{rel}", _gdap_one),
        ("tenantRelationships/delegatedAdminRelationships/{rel}/accessAssignments", _gdap_access),
    ]
    for attr, segment, type_name in _EM_LISTS:
        collection, entity = _em_list(attr, segment, type_name)
        v1 += [(f"{_EM}/{segment}", collection), (f"{_EM}/{segment}/{{id}}", entity)]
    beta: list[tuple[str, Builder]] = [
        ("roleManagement/defender/roleAssignments",
         _defender("defender_role_assignments", "roleManagement/defender/roleAssignments")),
        ("roleManagement/defender/roleDefinitions",
         _defender("defender_role_definitions", "roleManagement/defender/roleDefinitions")),
    ]
    return {version: [(tuple(pattern.split("/")), builder) for pattern, builder in routes]
            for version, routes in (("v1.0", v1), ("beta", beta))}


ROUTES: dict[str, list[Route]] = _build_routes()


def _matches(pattern: tuple[str, ...], segments: list[str]) -> Params | None:
    if len(pattern) != len(segments):
        return None
    params: Params = {}
    for expected, actual in zip(pattern, segments):
        if expected.startswith("{"):
            params[expected[1:-1]] = actual
        elif expected.lower() != actual.lower():
            return None
    return params


def resolve(version: str, path: str, tenant: TenantData) -> Resource:
    """The resource behind ``path`` (relative to ``/v1.0``, no query); GraphError when unknown."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise unknown_segment(version)
    for pattern, builder in ROUTES.get(version, []):
        params = _matches(pattern, segments)
        if params is not None:
            return builder(tenant, params)
    # Name the first segment no route knows, as Graph's "Resource not found for the segment".
    for depth, segment in enumerate(segments):
        prefix = [s.lower() for s in segments[: depth + 1]]
        if not any(len(p) > depth and all(e.startswith("{") or e.lower() == a for e, a in zip(p, prefix))
                   for p, _ in ROUTES.get(version, [])):
            raise unknown_segment(segment)
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segments[-1]}'.")
