"""Every Graph resource the checks need, in one table (graph-api.md is the source of each line).

`$select` asks for just what the checks read; `$top` is each resource's maximum page size, so the
number of requests stays near the lower bound ceil(items / max page) per resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

EM = "identityGovernance/entitlementManagement"
AR = "identityGovernance/accessReviews"

GUEST_FIELDS = ("id,displayName,mail,userPrincipalName,userType,externalUserState,"
                "externalUserStateChangeDateTime,creationType,createdDateTime,accountEnabled,identities")


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    path: str                          # relative to the Graph base, query included
    permission: str                    # least-privileged application permission (graph-api.md §0)
    kind: Literal["list", "single", "fanout"] = "list"
    parent: str | None = None          # fanout: the resource whose items it fans out over
    child: Callable[[Mapping[str, Any], str | None], str] | None = None  # (parent item, grandparent) → path
    wanted: Callable[[Mapping[str, Any]], bool] | None = None  # fanout: the parent items it reads (default all)
    partner: bool = False              # read in the MSSP's partner tenant, not the customer's
    absent_ok: bool = False            # 404 means "none configured": evidence of absence, not an error
    page_size: int = 100               # the maximum page size, for the lower bound
    api: Literal["v1.0", "beta"] = "v1.0"   # beta paths sit beside v1.0 on the same Graph host
    opt_in: str | None = None          # an [expectations] flag: collected only when it is true


def _instances(definition: Mapping[str, Any], _: str | None) -> str:
    return f"{AR}/definitions/{definition['id']}/instances?$top=100"


def _decisions(instance: Mapping[str, Any], definition_id: str | None) -> str:
    return (f"{AR}/definitions/{definition_id}/instances/{instance['id']}/decisions?$top=100"
            "&$select=id,decision,recommendation,principal,reviewedBy,reviewedDateTime,appliedDateTime,applyResult")


def _members(group: Mapping[str, Any], _: str | None) -> str:
    return (f"groups/{group['id']}/transitiveMembers?$top=999"
            "&$select=id,displayName,userPrincipalName,mail,userType,creationType,externalUserState")


def _gdap_assignments(relationship: Mapping[str, Any], _: str | None) -> str:
    return f"tenantRelationships/delegatedAdminRelationships/{relationship['id']}/accessAssignments"


def _for_customers(tenant_ids: frozenset[str]) -> Callable[[Mapping[str, Any]], bool]:
    """GDAP relationships of the audited customers only: a partner tenant may hold thousands
    (graph-api.md §8), and the others' access assignments are neither needed nor ours to keep."""
    def wanted(relationship: Mapping[str, Any]) -> bool:
        customer = relationship.get("customer")
        tenant_id = customer.get("tenantId") if isinstance(customer, Mapping) else None
        return isinstance(tenant_id, str) and tenant_id.lower() in tenant_ids
    return wanted


def resource_specs(mssp_tenant_id: str, group_names: tuple[str, ...],
                   customer_tenant_ids: frozenset[str] = frozenset()) -> tuple[ResourceSpec, ...]:
    quoted = " or ".join(f"displayName eq '{_odata_quote(n)}'" for n in group_names)
    partner = f"policies/crossTenantAccessPolicy/partners/{mssp_tenant_id}"
    return (
        # signInActivity lives in the reports throttling bucket and needs AuditLog.Read.All and
        # P1/P2; the collector falls back to the same query without it (see collect/tenant.py).
        ResourceSpec("guests", f"users?$filter=userType eq 'Guest'&$select={GUEST_FIELDS},signInActivity&$top=500",
                     "User.Read.All", page_size=500),
        ResourceSpec("connected_organizations", f"{EM}/connectedOrganizations", "EntitlementManagement.Read.All"),
        ResourceSpec("catalogs", f"{EM}/catalogs", "EntitlementManagement.Read.All"),
        ResourceSpec("access_packages", f"{EM}/accessPackages?$expand=assignmentPolicies",
                     "EntitlementManagement.Read.All"),
        ResourceSpec("assignments", f"{EM}/assignments?$expand=target,accessPackage,assignmentPolicy",
                     "EntitlementManagement.Read.All"),
        ResourceSpec("assignment_requests",
                     f"{EM}/assignmentRequests?$filter=state eq 'pendingApproval'&$expand=requestor,accessPackage",
                     "EntitlementManagement.Read.All"),
        ResourceSpec("em_settings", f"{EM}/settings", "EntitlementManagement.Read.All", kind="single"),
        ResourceSpec("review_definitions", f"{AR}/definitions?$top=100", "AccessReview.Read.All"),
        ResourceSpec("review_instances", "", "AccessReview.Read.All", kind="fanout",
                     parent="review_definitions", child=_instances),
        ResourceSpec("review_decisions", "", "AccessReview.Read.All", kind="fanout",
                     parent="review_instances", child=_decisions),
        ResourceSpec("authorization_policy", "policies/authorizationPolicy", "Policy.Read.All", kind="single"),
        ResourceSpec("cross_tenant_default", "policies/crossTenantAccessPolicy/default", "Policy.Read.All",
                     kind="single"),
        ResourceSpec("cross_tenant_partner", partner, "Policy.Read.All", kind="single", absent_ok=True),
        ResourceSpec("identity_sync", f"{partner}/identitySynchronization", "Policy.Read.All", kind="single",
                     absent_ok=True),
        ResourceSpec("subscribed_skus", "subscribedSkus?$select=skuId,skuPartNumber,capabilityStatus,"
                     "prepaidUnits,consumedUnits,servicePlans", "LicenseAssignment.Read.All"),
        ResourceSpec("role_assignments", "roleManagement/directory/roleAssignments?$expand=principal",
                     "RoleManagement.Read.Directory"),
        ResourceSpec("groups", f"groups?$filter={quoted}&$select=id,displayName,securityEnabled&$top=999",
                     "GroupMember.Read.All", page_size=999),
        ResourceSpec("group_members", "", "GroupMember.Read.All", kind="fanout", parent="groups", child=_members,
                     page_size=999),
        # graph-api.md §10: Defender XDR unified RBAC exists only in beta ("unsupported for
        # production"), so it is read only when [expectations] collect_defender_rbac is true.
        ResourceSpec("defender_role_definitions", "roleManagement/defender/roleDefinitions",
                     "RoleManagement.Read.Defender", api="beta", opt_in="collect_defender_rbac"),
        ResourceSpec("defender_role_assignments", "roleManagement/defender/roleAssignments",
                     "RoleManagement.Read.Defender", api="beta", opt_in="collect_defender_rbac"),
        ResourceSpec("gdap_relationships", "tenantRelationships/delegatedAdminRelationships?$top=300",
                     "DelegatedAdminRelationship.Read.All", partner=True, page_size=300),
        ResourceSpec("gdap_access_assignments", "", "DelegatedAdminRelationship.Read.All", kind="fanout",
                     parent="gdap_relationships", child=_gdap_assignments, partner=True,
                     wanted=_for_customers(frozenset(t.lower() for t in customer_tenant_ids))),
    )


def _odata_quote(value: str) -> str:
    return value.replace("'", "''")
