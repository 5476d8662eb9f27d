"""A Graph-shaped, compliant customer tenant that tests mutate into failing ones.

The objects follow the v1.0 shapes of graph-api.md (as the collector stores them in raw/*.jsonl),
so every check test also runs the normalizers over realistic input.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from audit.checks.app_permissions import required_permissions
from audit.config import Config
from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.normalize import TenantData, normalize_tenant
from audit.resources import PARTNER_RESOURCES, RESOURCES, SINGLETONS, bind

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
TENANT = "11111111-1111-4111-8111-111111111111"
MSSP = "22222222-2222-4222-8222-222222222222"
PARTNER = "33333333-3333-4333-8333-333333333333"
MSSP_ORG = "org-mssp"
APPROVERS_GROUP = "grp-approvers"
ANALYST_DOMAIN = "soc.mssp.example"
VENDOR_DOMAIN = "vendor.example"
OPT_INS = ("collect_defender_rbac",)   # the test configuration reads every opt-in resource

SINGLETON_RESOURCES = set(SINGLETONS)                 # the resource catalogue's, audit/resources.py


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "mssp": {"analyst_tenant_id": MSSP, "partner_tenant_id": PARTNER, "analyst_domains": [ANALYST_DOMAIN],
                 "corporate_domains": ["corp.mssp.example"]},
        "app": {"client_id": "44444444-4444-4444-8444-444444444444", "client_secret_env": "X"},
        "expectations": {"collect_defender_rbac": True},
        "customers": [{"name": "Contoso", "tenant_id": TENANT, "projected_growth": 2,
                       "setup_admin": "mssp-setup-admin@contoso.onmicrosoft.com"}],
    }
    for key, value in overrides.items():
        data.setdefault(key, {}).update(value) if isinstance(value, dict) else data.__setitem__(key, value)
    return Config.model_validate(data)


def guest(n: int, *, last: datetime | None = None, created: datetime | None = None, domain: str = ANALYST_DOMAIN,
          name: str | None = None, enabled: bool = True, state: str = "Accepted",
          changed: datetime | None = None) -> dict[str, Any]:
    local = name or f"a-Analyst{n}"
    mail = f"{local.lower()}@{domain}"
    user: dict[str, Any] = {
        "id": f"guest-{n}", "displayName": local, "mail": mail,
        "userPrincipalName": f"{mail.replace('@', '_')}#EXT#@contoso.onmicrosoft.com", "userType": "Guest",
        "externalUserState": state, "externalUserStateChangeDateTime": iso(changed or days(-200)),
        "creationType": "Invitation", "createdDateTime": iso(created or days(-300)), "accountEnabled": enabled,
        "identities": [{"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}],
    }
    if last is not None:
        user["signInActivity"] = {"lastSignInDateTime": iso(last), "lastNonInteractiveSignInDateTime": iso(last),
                                  "lastSuccessfulSignInDateTime": iso(last)}
    return user


def policy(package: str, **changes: Any) -> dict[str, Any]:
    approvers_pkg = package == "MSSP Analyst Approvers"
    base: dict[str, Any] = {
        "id": f"pol-{package}", "displayName": f"{package} — MSSP analysts",
        "allowedTargetScope": "specificConnectedOrganizationUsers",
        "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.connectedOrganizationMembers",
                                    "connectedOrganizationId": MSSP_ORG, "description": "MSSP"}],
        "expiration": {"type": "afterDuration", "duration": "P365D", "endDateTime": None},
        "requestorSettings": {"enableTargetsToSelfAddAccess": True, "enableTargetsToSelfUpdateAccess": True,
                              "enableTargetsToSelfRemoveAccess": True},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": True, "isApprovalRequiredForUpdate": True,
                                    "stages": [{"durationBeforeAutomaticDenial": "P14D", "primaryApprovers": [
                                        {"@odata.type": "#microsoft.graph.singleUser", "userId": "cust-admin"}
                                        if approvers_pkg else
                                        {"@odata.type": "#microsoft.graph.groupMembers", "groupId": APPROVERS_GROUP}]}]},
        "reviewSettings": {"isEnabled": True, "expirationBehavior": "removeAccess",
                           "schedule": {"recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 12}}},
                           "primaryReviewers": [{"@odata.type": "#microsoft.graph.groupMembers",
                                                 "groupId": APPROVERS_GROUP}]},
    }
    base.update(changes)
    return base


def assignment(n: int, package: str = "Tier 1 Analyst", *, end: datetime | None = None,
               state: str = "delivered", expiration_type: str = "afterDateTime") -> dict[str, Any]:
    return {
        "id": f"asg-{n}", "state": state, "status": "Delivered",
        "schedule": {"startDateTime": iso(days(-100)),
                     "expiration": {"type": expiration_type, "endDateTime": iso(end) if end else None}},
        "target": {"objectId": f"guest-{n}", "displayName": f"a-Analyst{n}", "email": f"a-analyst{n}@{ANALYST_DOMAIN}",
                   "principalName": f"a-analyst{n}_{ANALYST_DOMAIN}#EXT#@contoso.onmicrosoft.com",
                   "subjectType": "user", "subjectLifecycle": "governed"},
        "accessPackage": {"id": f"pkg-{package}", "displayName": package},
        "assignmentPolicy": {"id": f"pol-{package}"},
    }


def request(n: int, *, created: datetime, package: str = "Tier 1 Analyst") -> dict[str, Any]:
    return {"id": f"req-{n}", "state": "pendingApproval", "requestType": "userAdd", "createdDateTime": iso(created),
            "requestor": {"displayName": f"a-Analyst{n + 10}", "email": f"a-analyst{n + 10}@{ANALYST_DOMAIN}"},
            "accessPackage": {"displayName": package}}


def role_assignment(n: int, role: str, *, user_type: str = "Member", upn: str | None = None) -> dict[str, Any]:
    return {"id": f"ra-{n}", "roleDefinitionId": role, "principalId": f"user-{n}", "directoryScopeId": "/",
            "principal": {"@odata.type": "#microsoft.graph.user", "id": f"user-{n}", "displayName": f"Admin {n}",
                          "userPrincipalName": upn or f"admin{n}@contoso.onmicrosoft.com", "userType": user_type}}


GA = "62e90394-69f5-4237-9190-012177145e10"


T1, T2, APPROVERS = "Tier 1 Analyst", "Tier 2 Analyst", "MSSP Analyst Approvers"
PACKAGES = (T1, T2, APPROVERS)
GROUP_OF = {T1: "grp-t1", T2: "grp-t2", APPROVERS: APPROVERS_GROUP}
# who holds what in the compliant tenant: guest n → package (and so → the package's group)
HOLDINGS = {1: T1, 2: T1, 3: T2, 4: APPROVERS}


def member(n: int, group: str, **changes: Any) -> dict[str, Any]:
    """A transitiveMembers item of an MSSP group, as the collector's $select returns it."""
    user = guest(n)
    item = {"@odata.type": "#microsoft.graph.user", "id": user["id"], "displayName": user["displayName"],
            "userPrincipalName": user["userPrincipalName"], "mail": user["mail"], "userType": "Guest",
            "creationType": "Invitation", "externalUserState": "Accepted", "_parent": group}
    item.update(changes)
    return item


def instance(n: int, definition: str, *, start: float, status: str = "Completed") -> dict[str, Any]:
    return {"id": f"inst-{n}", "startDateTime": iso(days(start)), "endDateTime": iso(days(start + 14)),
            "status": status, "_parent": definition}


def decision(n: int, instance_id: str, decision: str = "Approve",
             apply_result: str = "AppliedSuccessfully") -> dict[str, Any]:
    return {"id": f"dec-{n}", "decision": decision, "principal": {"displayName": f"a-Analyst{n}"},
            # graph-api.md §3: reviewedBy is a userIdentity; an unreviewed item carries the all-zero id.
            "reviewedBy": {"id": "rev-1", "displayName": "Customer Admin",
                           "userPrincipalName": "admin@contoso.onmicrosoft.com"} if decision != "NotReviewed" else
                          {"id": "00000000-0000-0000-0000-000000000000", "displayName": "", "userPrincipalName": ""},
            "applyResult": apply_result, "_parent": instance_id}


def defender_role(role_id: str, actions: list[str]) -> dict[str, Any]:
    return {"id": role_id, "displayName": role_id, "isBuiltIn": False,
            "rolePermissions": [{"allowedResourceActions": actions}]}


SOC_READ = ["microsoft.xdr/secops/securitydata/basics/read", "microsoft.xdr/secops/securitydata/alerts/manage",
            "microsoft.xdr/secops/securitydata/response/manage", "microsoft.xdr/configuration/security/read"]
LIVE_RESPONSE = "microsoft.xdr/secops/securitydata/liveresponse-basic/manage"   # name not published (rbac.py)


def _review(definition: str, name: str, scope: dict[str, Any]) -> dict[str, Any]:
    return {"id": definition, "displayName": name, "status": "InProgress", "scope": scope,
            "settings": {"recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 12}},
                         "autoApplyDecisionsEnabled": True}, "reviewers": [{"query": "/y"}]}


def _policy_scope(package: str, *, by_policy: bool) -> dict[str, Any]:
    # graph-api.md §3 principalResourceMembershipsScope with an access-package policy resource scope
    # (v1.0 accessReviewAccessPackageAssignmentPolicyScope: resourceId = policy id).
    resource = {"@odata.type": "#microsoft.graph.accessReviewAccessPackageAssignmentPolicyScope",
                "resourceId": f"pol-{package}", "scopeType": "accessPackageAssignmentPolicy"}
    if not by_policy:
        resource["accessPackageId"] = f"pkg-{package}"
    return {"@odata.type": "#microsoft.graph.principalResourceMembershipsScope",
            "principalScopes": [{"@odata.type": "#microsoft.graph.accessReviewQueryScope", "query": "/users"}],
            "resourceScopes": [resource]}


def good_tenant() -> dict[str, Any]:
    """resource name → its Graph items (lists) or object (singletons)."""
    group_scope = {"@odata.type": "#microsoft.graph.accessReviewQueryScope",
                   "query": "/groups/grp-t1/transitiveMembers/microsoft.graph.user/?$count=true"
                            "&$filter=(userType eq 'Guest')", "queryType": "MicrosoftGraph"}
    return {
        "guests": [*(guest(i, last=days(-5)) for i in range(1, 5)),
                   # a fresh unanswered invitation from a vendor: not a finding (GA-001, GA-002)
                   guest(5, domain=VENDOR_DOMAIN, name="new.contact", state="PendingAcceptance",
                         created=days(-3), changed=days(-3))],
        "connected_organizations": [{"id": MSSP_ORG, "displayName": "MSSP analysts", "state": "configured",
                                     "identitySources": [{"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant",
                                                          "tenantId": MSSP, "displayName": "MSSP"}]}],
        "catalogs": [{"id": "cat-1", "displayName": "MSSP Accesses", "state": "published",
                      "isExternallyVisible": True}],
        "access_packages": [{"id": f"pkg-{p}", "displayName": p, "isHidden": False,
                             "assignmentPolicies": [policy(p)]} for p in PACKAGES],
        "assignments": [assignment(n, package, end=days(200)) for n, package in HOLDINGS.items()],
        # a request waiting three days: the approvers are keeping up (EM-008)
        "assignment_requests": [request(1, created=days(-3))],
        "em_settings": {"id": "settings", "externalUserLifecycleAction": "none",
                        "durationUntilExternalUserDeletedAfterBlocked": "P30D"},
        # One review per package, each naming it differently: by group, by package id, by policy id.
        "review_definitions": [_review("def-1", "Tier 1 annual review", group_scope),
                               _review("def-2", "Tier 2 package review", _policy_scope(T2, by_policy=False)),
                               _review("def-3", "Approvers package review", _policy_scope(APPROVERS, by_policy=True))],
        "review_instances": [instance(1, "def-1", start=-400), instance(2, "def-1", start=-100),
                             instance(3, "def-2", start=-50), instance(4, "def-3", start=-200)],
        "review_decisions": [decision(1, "inst-1"), decision(2, "inst-2"), decision(3, "inst-2"),
                             decision(4, "inst-2", "NotReviewed", "AppliedSuccessfullyButObjectNotFound"),
                             decision(5, "inst-3"), decision(6, "inst-4", "Deny")],
        "authorization_policy": {"id": "authorizationPolicy", "allowInvitesFrom": "adminsAndGuestInviters",
                                 "guestUserRoleId": "2af84b1e-32c8-42b7-82bc-daa82404023b",
                                 "allowedToSignUpEmailBasedSubscriptions": False,
                                 "allowEmailVerifiedUsersToJoinOrganization": False},
        "cross_tenant_default": {"isServiceDefault": True},
        "cross_tenant_partner": {"tenantId": MSSP, "inboundTrust": {"isMfaAccepted": True},
                                 "automaticUserConsentSettings": {"inboundAllowed": False, "outboundAllowed": False}},
        "identity_sync": None,
        "subscribed_skus": [{"skuId": "84a661c4-e949-4bd2-a560-ed7766fcaf2b", "skuPartNumber": "AAD_PREMIUM_P2",
                             "capabilityStatus": "Enabled", "consumedUnits": 3,
                             "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0},
                             "servicePlans": [{"servicePlanId": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
                                               "servicePlanName": "AAD_PREMIUM_P2",
                                               "provisioningStatus": "Success"}]}],
        # graph-api.md §1: member-type B2B users (cross-tenant sync, converted guests); none in this tenant
        "external_members": [],
        "role_assignments": [role_assignment(1, GA), role_assignment(2, GA)],
        # the transitive members of groups holding a watched role; no role is held by a group here
        "role_group_members": [],
        "groups": [{"id": APPROVERS_GROUP, "displayName": APPROVERS},
                   {"id": "grp-t1", "displayName": T1}, {"id": "grp-t2", "displayName": T2}],
        "group_members": [*(member(n, GROUP_OF[package]) for n, package in HOLDINGS.items()),
                          # transitiveMembers also lists a nested group beside its flattened members
                          {"@odata.type": "#microsoft.graph.group", "id": "grp-nested", "displayName": "Nested",
                           "_parent": "grp-t1"}],
        "defender_role_definitions": [defender_role("role-t1", SOC_READ),
                                      defender_role("role-t2", [*SOC_READ, LIVE_RESPONSE])],
        "defender_role_assignments": [{"id": "dra-1", "displayName": "Tier 1", "roleDefinitionId": "role-t1",
                                       "principalIds": ["grp-t1"], "appScopeIds": ["All"]},
                                      {"id": "dra-2", "displayName": "Tier 2", "roleDefinitionId": "role-t2",
                                       "principalIds": ["grp-t2"], "appScopeIds": ["All"]}],
        "gdap_relationships": [{"id": "rel-1", "displayName": "SOC", "status": "active",
                                "autoExtendDuration": "P180D", "endDateTime": iso(days(300)),
                                "customer": {"tenantId": TENANT, "displayName": "Contoso"},
                                "accessDetails": {"unifiedRoles": [
                                    {"roleDefinitionId": "5d6b6bb7-de71-4623-b4af-96380a352509"}]}}],
        "gdap_access_assignments": [{"id": "aa-1", "status": "active", "_parent": "rel-1",
                                     "accessContainer": {"accessContainerId": "g",
                                                         "accessContainerType": "securityGroup"},
                                     "accessDetails": {"unifiedRoles": []}}],
    }


def _write_raw(path: Path, records: list[dict[str, Any]]) -> str:
    """The raw/<resource>.jsonl format of the snapshot store, without its fsync (tests need speed)."""
    blob = b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return hashlib.sha256(blob).hexdigest()


def build(tmp: Path, resources: dict[str, Any] | None = None, *,
          statuses: dict[str, ResourceStatus] | None = None, token_ok: bool = True,
          roles: tuple[str, ...] | None = None, tenant_id: str = TENANT, customer: str = "Contoso",
          token_reason: str = "AADSTS7000229: revoked") -> TenantData:
    """Write the resources as a collector would (raw jsonl + manifest records) and normalize them."""
    resources = copy.deepcopy(good_tenant() if resources is None else resources)
    statuses = statuses or {}
    records: dict[str, dict[str, ResourceRecord]] = {tenant_id: {}, PARTNER: {}}
    for name, value in resources.items():
        owner = PARTNER if name in PARTNER_RESOURCES else tenant_id
        status = statuses.get(name, ResourceStatus.OK)
        if status is not ResourceStatus.OK:
            records[owner][name] = ResourceRecord(name, _endpoint(name), status, reason=f"{status.value} in test",
                                                  http_status=403 if status is ResourceStatus.FORBIDDEN else None)
            continue
        if value is None and name in SINGLETON_RESOURCES:
            records[owner][name] = ResourceRecord(name, _endpoint(name), ResourceStatus.NOT_FOUND, reason="404")
            continue
        if name in SINGLETON_RESOURCES:
            lines = [{"request": name, "parent": None, "page": value}]
        else:
            by_parent: dict[str | None, list[dict[str, Any]]] = {}
            for item in value:
                by_parent.setdefault(item.pop("_parent", None), []).append(item)
            lines = [{"request": name, "parent": parent, "page": {"value": items}}
                     for parent, items in (by_parent.items() or {None: []}.items())]
        sha = _write_raw(tmp / owner / "raw" / f"{name}.jsonl", lines)
        records[owner][name] = ResourceRecord(name, _endpoint(name), ResourceStatus.OK, items=len(value or []),
                                              file=f"raw/{name}.jsonl", sha256=sha)
    for spec in RESOURCES:              # a facet is recorded from its carrier's request (guest_sign_ins)
        carrier, facet = records[tenant_id].get(spec.name), spec.reduced.without if spec.reduced else None
        if carrier and facet and facet not in records[tenant_id]:
            status = statuses.get(facet, carrier.status)
            records[tenant_id][facet] = ResourceRecord(facet, carrier.endpoint, status, reason="test",
                                                       file=carrier.file)
    if not token_ok:                 # no token, no request: the customer's tenant recorded nothing
        records[tenant_id] = {}
    manifest = TenantManifest(tenant_id, customer, NOW, token_ok, "" if token_ok else token_reason,
                              required_permissions(opted_in=OPT_INS) if roles is None else roles,
                              records[tenant_id])
    partner = TenantManifest(PARTNER, "partner", NOW, True, "", (), records[PARTNER])
    return normalize_tenant(tmp / tenant_id, manifest, partner_dir=tmp / PARTNER, partner=partner)


def _endpoint(name: str) -> str:
    """The request the catalogue makes for `name`, as a manifest records it (a test's own names as is)."""
    return _requests().get(name, name)


@cache
def _requests() -> dict[str, str]:
    mssp = config().mssp
    return {r.name: r.path for r in bind(MSSP, (mssp.tier1_group, mssp.tier2_group, mssp.approvers_group))}


def dump(resources: dict[str, Any]) -> str:
    return json.dumps(resources, default=str)
