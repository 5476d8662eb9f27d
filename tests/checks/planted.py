"""Planted problems: each mutates the compliant tenant of tenant_builder into one failing check.

`FAILURES` maps a case name to (check id, mutation, expected status); test_catalogue runs them all
and insists every check has at least one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from audit.models import Status
from tests.checks import tenant_builder as tb

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    resource, _, key = path.partition(".")

    def mutate(t: dict[str, Any]) -> None:
        t[resource][key] = value
    return mutate


def _policy(package: str, **changes: Any) -> Mutation:
    def mutate(t: dict[str, Any]) -> None:
        for pkg in t["access_packages"]:
            if pkg["displayName"] == package:
                pkg["assignmentPolicies"] = [tb.policy(package, **changes)]
    return mutate


def _append(resource: str, item: Any) -> Mutation:
    return lambda t: t[resource].append(item)


def _set_all(resource: str, value: Any) -> Mutation:
    return lambda t: t.__setitem__(resource, value)


def _where(resource: str, key: str, value: Any, **changes: Any) -> Mutation:
    def mutate(t: dict[str, Any]) -> None:
        for item in t[resource]:
            if item.get(key) == value:
                item.update(changes)
    return mutate


def _remove(resource: str, key: str, value: Any) -> Mutation:
    def mutate(t: dict[str, Any]) -> None:
        t[resource][:] = [item for item in t[resource] if item.get(key) != value]
    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(t: dict[str, Any]) -> None:
        for m in mutations:
            m(t)
    return mutate


def _approver(subject: dict[str, Any]) -> Mutation:
    stage = {"durationBeforeAutomaticDenial": "P14D", "primaryApprovers": [subject]}
    return _policy(tb.APPROVERS, requestApprovalSettings={"isApprovalRequiredForAdd": True, "stages": [stage]})


def _reviews(package: str, **changes: Any) -> Mutation:
    review = tb.policy(package)["reviewSettings"]
    review.update(changes)
    return _policy(package, reviewSettings=review)


def _roles(role: str, actions: list[str]) -> Mutation:
    return _where("defender_role_definitions", "id", role, rolePermissions=[{"allowedResourceActions": actions}])


# Graph-shaped fixtures written from the documentation (each file's "_source" says which pages).
FIXTURES = Path(__file__).parent / "fixtures" / "principals"


@cache
def _fixture_file(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("_source")
    return data


def fixture(name: str) -> dict[str, list[dict[str, Any]]]:
    """resource → Graph items of one fixture file (a fresh copy)."""
    return copy.deepcopy(_fixture_file(name))


def _add_fixture(name: str, **changes: Any) -> Mutation:
    """Add a fixture's items to the tenant; `changes` update every item of one resource: {resource: {…}}."""
    def mutate(t: dict[str, Any]) -> None:
        for resource, items in fixture(name).items():
            for item in items:
                item.update(changes.get(resource, {}))
            t[resource].extend(items)
    return mutate


# A member-type B2B user (cross-tenant sync from `domain`'s tenant), as the directory query by
# external identity returns it: userType Member, creationType Invitation, #EXT# UPN (graph-api.md §1).
def _b2b_member(local: str, domain: str, **changes: Any) -> dict[str, Any]:
    user = fixture("synced_corporate_member")["external_members"][0]
    user.update({"id": "b2b-1", "displayName": local, "mail": f"{local}@{domain}",
                 "userPrincipalName": f"{local}_{domain}#EXT#@contoso.onmicrosoft.com", **changes})
    return user


def _role_group_member(n: int, upn: str, **changes: Any) -> dict[str, Any]:
    member = fixture("role_group_global_admin")["role_group_members"][0]
    member.update({"id": f"rgm-{n}", "displayName": f"Group Admin {n}", "userPrincipalName": upn, "mail": None,
                   **changes})
    return member


# An account of the customer tenant itself: no #EXT#, creationType null, no externalUserState (graph-api.md §1).
def _local(n: int, local: str, *, user_type: str = "Member", group: str | None = "grp-t1") -> dict[str, Any]:
    user = {"@odata.type": "#microsoft.graph.user", "id": f"local-{n}", "displayName": local,
            "userPrincipalName": f"{local}@contoso.onmicrosoft.com", "mail": f"{local}@contoso.com",
            "userType": user_type, "creationType": None, "externalUserState": None}
    return {**user, "_parent": group} if group else user


def _local_holder(t: dict[str, Any]) -> None:
    held = tb.assignment(7, tb.T2, end=tb.days(100))
    held["target"].update(objectId="local-7", displayName="Dana Ops", principalName="dana.ops@contoso.onmicrosoft.com",
                          email="dana.ops@contoso.com")
    t["assignments"].append(held)


CORPORATE = "corp.mssp.example"
GROUP_SELF = {"@odata.type": "#microsoft.graph.groupMembers", "groupId": tb.APPROVERS_GROUP}

FAILURES: dict[str, tuple[str, Mutation, Status]] = {
    "proposed MSSP org": ("EM-001", lambda t: t["connected_organizations"][0].update(state="proposed"), Status.FAIL),
    "no MSSP org": ("EM-001", lambda t: t["connected_organizations"].clear(), Status.FAIL),
    "Tier 2 package missing": ("EM-002", lambda t: t["access_packages"].pop(1), Status.FAIL),
    "package without policy": ("EM-002", lambda t: t["access_packages"][0].update(assignmentPolicies=[]), Status.FAIL),
    "open to all external users": ("EM-003", _policy("Tier 1 Analyst", allowedTargetScope="allExternalUsers",
                                                     specificAllowedTargets=[]), Status.FAIL),
    "all configured orgs": ("EM-003", _policy("Tier 2 Analyst",
                                              allowedTargetScope="allConfiguredConnectedOrganizationUsers"),
                            Status.FAIL),
    "other connected org": ("EM-003", _policy("Tier 1 Analyst", specificAllowedTargets=[
        {"@odata.type": "#microsoft.graph.connectedOrganizationMembers", "connectedOrganizationId": "other"}]),
        Status.FAIL),
    "no approval": ("EM-004", _policy("Tier 1 Analyst", requestApprovalSettings={
        "isApprovalRequiredForAdd": False, "stages": []}), Status.FAIL),
    "approvers group missing": ("EM-004", lambda t: t["groups"].pop(0), Status.FAIL),
    "no expiration": ("EM-005", _policy("Tier 1 Analyst", expiration={"type": "noExpiration"}), Status.FAIL),
    "P730D": ("EM-005", _policy("Tier 2 Analyst", expiration={"type": "afterDuration", "duration": "P730D"}),
              Status.FAIL),
    "PT8760H plus a day": ("EM-005", _policy("Tier 2 Analyst", expiration={"type": "afterDuration",
                                                                          "duration": "PT8784H"}), Status.FAIL),
    "expiring next week": ("EM-006", _append("assignments", tb.assignment(9, end=tb.days(7))), Status.WARN),
    "no end date": ("EM-007", _append("assignments", tb.assignment(9, end=None, expiration_type="noExpiration")),
                    Status.FAIL),
    "two years out": ("EM-007", _append("assignments", tb.assignment(9, end=tb.days(700))), Status.FAIL),
    "old pending request": ("EM-008", _append("assignment_requests", tb.request(9, created=tb.days(-20))),
                            Status.WARN),
    "block and delete": ("EM-009", _set("em_settings.externalUserLifecycleAction", "blockSignInAndDelete"), Status.FAIL),
    "overdue review": ("AR-001", _append("review_instances", {"id": "inst-9", "startDateTime": tb.iso(tb.days(-40)),
                                                              "endDateTime": tb.iso(tb.days(-10)),
                                                              "status": "InProgress", "_parent": "def-1"}), Status.FAIL),
    "guests can invite": ("GS-001", _set("authorization_policy.allowInvitesFrom", "everyone"), Status.FAIL),
    "members can invite": ("GS-001", _set("authorization_policy.allowInvitesFrom", "adminsGuestInvitersAndAllMembers"),
                           Status.FAIL),
    "unknownFutureValue inviters": ("GS-001", _set("authorization_policy.allowInvitesFrom", "unknownFutureValue"),
                                    Status.WARN),
    "member-equivalent guests": ("GS-002", _set("authorization_policy.guestUserRoleId",
                                                "a0b1b346-4d3e-4e8b-98f8-753987be4970"), Status.FAIL),
    "self sign-up": ("GS-003", _set("authorization_policy.allowedToSignUpEmailBasedSubscriptions", True), Status.FAIL),
    "stale guest": ("GA-001", _append("guests", tb.guest(9, last=tb.days(-120))), Status.FAIL),
    "never signed in, old": ("GA-001", _append("guests", tb.guest(9, last=None, created=tb.days(-200))), Status.FAIL),
    "converted guest, stale": ("GA-001", _add_fixture("converted_guest"), Status.FAIL),
    "0001-01-01 means never": ("GA-001", _append("guests", {**tb.guest(9, created=tb.days(-200)), "signInActivity": {
        "lastSuccessfulSignInDateTime": "0001-01-01T00:00:00Z"}}), Status.FAIL),
    "one Global Admin": ("ADM-001", lambda t: t["role_assignments"].pop(), Status.FAIL),
    "six Global Admins": ("ADM-001", lambda t: t["role_assignments"].extend(
        tb.role_assignment(i, tb.GA) for i in range(3, 7)), Status.FAIL),
    "guest Global Admin": ("ADM-002", _append("role_assignments", tb.role_assignment(
        8, tb.GA, user_type="Guest", upn="x_y.com#EXT#@contoso.onmicrosoft.com")), Status.FAIL),
    "setup admin left": ("ADM-003", _append("role_assignments", tb.role_assignment(
        9, tb.GA, upn="mssp-setup-admin@contoso.onmicrosoft.com")), Status.FAIL),
    # Roles held through a role-assignable group: the group's members are the holders.
    "guest Global Admin through a role-assignable group": ("ADM-002", _add_fixture("role_group_global_admin"),
                                                           Status.FAIL),
    "Global Admins through a group count as people": ("ADM-001", _both(
        _add_fixture("role_group_global_admin"),
        _append("role_group_members", _role_group_member(3, "admin3@contoso.onmicrosoft.com",
                                                         _parent="b6c76b64-9a50-45f5-b343-f6c53d69ce61"))),
        Status.FAIL),
    "setup admin left in a role-holding group": ("ADM-003", _both(
        _add_fixture("role_group_global_admin"),
        _append("role_group_members", _role_group_member(4, "mssp-setup-admin@contoso.onmicrosoft.com",
                                                         _parent="b6c76b64-9a50-45f5-b343-f6c53d69ce61"))),
        Status.FAIL),
    "cross-tenant-synced member holds Security Administrator": ("ADM-002", _append("role_assignments", {
        **tb.role_assignment(10, "194ae4cb-b126-40b2-bd5b-6091b380977d",
                             upn=f"a-kai4_{tb.ANALYST_DOMAIN}#EXT#@contoso.onmicrosoft.com")}), Status.FAIL),
    "too few P2": ("LIC-001", lambda t: t["subscribed_skus"][0]["prepaidUnits"].update(enabled=1), Status.FAIL),
    "P2 plan disabled": ("LIC-001", lambda t: t["subscribed_skus"][0]["servicePlans"][0].update(
        provisioningStatus="Disabled"), Status.FAIL),
    "too few P2 unless the expiring units are renewed": ("LIC-001", lambda t: t["subscribed_skus"][0][
        "prepaidUnits"].update(enabled=1, warning=4), Status.WARN),
    "GDAP lapsing": ("GDAP-001", lambda t: t["gdap_relationships"][0].update(
        endDateTime=tb.iso(tb.days(10)), autoExtendDuration="PT0S"), Status.WARN),
    "GDAP with Global Admin": ("GDAP-002", lambda t: t["gdap_relationships"][0]["accessDetails"].update(
        unifiedRoles=[{"roleDefinitionId": tb.GA}]), Status.FAIL),
    # EM-005: the durations the brief names (P1Y/P365D/PT8760H pass: test_expiry_durations)
    "P366D": ("EM-005", _policy("Tier 1 Analyst", expiration={"type": "afterDuration", "duration": "P366D"}),
              Status.FAIL),
    "notSpecified expiry": ("EM-005", _policy("Tier 1 Analyst", expiration={"type": "notSpecified"}), Status.FAIL),
    # EM-010
    "proposed vendor org": ("EM-010", _append("connected_organizations", {
        "id": "org-x", "displayName": "auto-created", "state": "proposed", "createdDateTime": tb.iso(tb.days(-80)),
        "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource", "domainName": "x.example"}]}),
        Status.WARN),
    # EM-011
    "hand-added Tier 2 member": ("EM-011", _append("group_members", tb.member(9, "grp-t2")), Status.FAIL),
    "member holds another package": ("EM-011", _append("group_members", tb.member(1, "grp-t2")), Status.FAIL),
    "assignment expired, membership kept": ("EM-011", _where("assignments", "id", "asg-3", state="expired"),
                                            Status.FAIL),
    # EM-012
    "approvers approve themselves": ("EM-012", _approver(GROUP_SELF), Status.FAIL),
    "an approver approves": ("EM-012", _approver({"@odata.type": "#microsoft.graph.singleUser", "userId": "guest-4"}),
                             Status.FAIL),
    "an MSSP guest approves": ("EM-012", _approver({"@odata.type": "#microsoft.graph.singleUser",
                                                    "userId": "guest-1"}), Status.FAIL),
    "a member-type B2B user approves": ("EM-012", _both(
        _append("external_members", _b2b_member("a-ava2", tb.ANALYST_DOMAIN)),
        _approver({"@odata.type": "#microsoft.graph.singleUser", "userId": "b2b-1"})), Status.FAIL),
    "requestor's manager approves": ("EM-012", _approver({"@odata.type": "#microsoft.graph.requestorManager",
                                                          "managerLevel": 1}), Status.FAIL),
    "Approvers need no approval": ("EM-012", _policy(tb.APPROVERS, requestApprovalSettings={
        "isApprovalRequiredForAdd": False, "stages": []}), Status.FAIL),
    # issue 18: not a documented subjectSet at all → ERROR; documented but unsupported → WARN
    "unknownFutureValue approver": ("EM-012", _approver({"@odata.type": "#microsoft.graph.unknownFutureValue"}),
                                    Status.ERROR),
    "target user's sponsors approve": ("EM-012", _approver({"@odata.type": "#microsoft.graph.targetUserSponsors"}),
                                       Status.WARN),
    # EM-013
    "reviews disabled": ("EM-013", _reviews(tb.T1, isEnabled=False), Status.FAIL),
    "review keeps access": ("EM-013", _reviews(tb.T2, expirationBehavior="keepAccess"), Status.FAIL),
    "review every two years": ("EM-013", _reviews(tb.T1, schedule={"recurrence": {"pattern": {
        "type": "absoluteYearly", "interval": 2}}}), Status.FAIL),
    "review every 13 months": ("EM-013", _reviews(tb.APPROVERS, schedule={"recurrence": {"pattern": {
        "type": "relativeMonthly", "interval": 13}}}), Status.FAIL),
    # recurrencePatternType documents no unknownFutureValue: not understood, ERROR (issue 18)
    "unknownFutureValue recurrence": ("EM-013", _reviews(tb.T1, schedule={"recurrence": {"pattern": {
        "type": "unknownFutureValue", "interval": 1}}}), Status.ERROR),
    "self-review": ("EM-013", _reviews(tb.T2, isSelfReview=True), Status.FAIL),
    "review without reviewers": ("EM-013", _reviews(tb.T2, primaryReviewers=[]), Status.FAIL),
    # EM-014
    "no self-extension": ("EM-014", _policy(tb.T2, requestorSettings={"enableTargetsToSelfUpdateAccess": False}),
                          Status.FAIL),
    # AR-002
    "mostly NotReviewed": ("AR-002", _where("review_decisions", "_parent", "inst-2", decision="NotReviewed"),
                           Status.FAIL),
    "decisions never applied": ("AR-002", _where("review_decisions", "_parent", "inst-3", applyResult="New"),
                                Status.FAIL),
    # AR-003
    "Approvers never reviewed": ("AR-003", _remove("review_definitions", "id", "def-3"), Status.FAIL),
    "Tier 2 last reviewed 14 months ago": ("AR-003", _where("review_instances", "id", "inst-3",
                                                            startDateTime=tb.iso(tb.days(-430)),
                                                            endDateTime=tb.iso(tb.days(-416))), Status.FAIL),
    "Tier 1 review never completed": ("AR-003", _where("review_instances", "_parent", "def-1", status="InProgress"),
                                      Status.FAIL),
    # GA-002
    "invitation pending 45 days": ("GA-002", _append("guests", tb.guest(9, state="PendingAcceptance",
                                                                         created=tb.days(-45), changed=tb.days(-45))),
                                   Status.FAIL),
    "pending, no change date": ("GA-002", _append("guests", {**tb.guest(9, state="PendingAcceptance",
                                                                        created=tb.days(-60)),
                                                             "externalUserStateChangeDateTime": None}), Status.FAIL),
    "invited as member, pending 45 days": ("GA-002", _append("external_members", _b2b_member(
        "new.partner", "vendor.example", externalUserState="PendingAcceptance", signInActivity=None,
        createdDateTime=tb.iso(tb.days(-45)), externalUserStateChangeDateTime=tb.iso(tb.days(-45)))), Status.FAIL),
    # GA-003
    "corporate guest": ("GA-003", _append("guests", tb.guest(9, domain=CORPORATE, name="jordan.lee", last=tb.days(-3))),
                        Status.FAIL),
    "corporate member-type B2B": ("GA-003", _append("external_members", _b2b_member("jordan.lee", CORPORATE)),
                                  Status.FAIL),
    "cross-tenant-synced member from the corporate tenant": ("GA-003", _add_fixture("synced_corporate_member"),
                                                             Status.FAIL),
    # GA-004
    "john.smith": ("GA-004", _append("guests", tb.guest(9, name="john.smith", last=tb.days(-2))), Status.FAIL),
    "member-type B2B john.smith": ("GA-004", _append("external_members",
                                                     _b2b_member("john.smith", tb.ANALYST_DOMAIN)), Status.FAIL),
    # GA-005
    "MSSP guest outside governance": ("GA-005", _append("guests", tb.guest(9, last=tb.days(-2))), Status.FAIL),
    "MSSP member-type B2B outside governance": ("GA-005", _append("external_members",
                                                                  _b2b_member("a-kai4", tb.ANALYST_DOMAIN)),
                                                Status.FAIL),
    # GA-006
    "disabled guest keeps assignment": ("GA-006", _where("guests", "id", "guest-2", accountEnabled=False), Status.FAIL),
    "disabled synced member keeps assignment": ("GA-006", _both(
        _remove("guests", "id", "guest-2"),
        _append("external_members", _b2b_member("a-analyst2", tb.ANALYST_DOMAIN, id="guest-2", accountEnabled=False))),
        Status.FAIL),
    # GA-007
    "local account in the Tier 1 group": ("GA-007", _append("group_members", _local(1, "a-Josh7")), Status.FAIL),
    "local account without an analyst name in the Approvers group": (
        "GA-007", _append("group_members", _local(2, "it.helpdesk", group=tb.APPROVERS_GROUP)), Status.FAIL),
    "local account holds a Tier 2 package": ("GA-007", _local_holder, Status.FAIL),
    "internal guest named like an analyst": ("GA-007", _append("guests", {
        **_local(3, "a-Ava3", user_type="Guest", group=None), "createdDateTime": tb.iso(tb.days(-10)),
        "accountEnabled": True, "externalUserStateChangeDateTime": None}), Status.FAIL),
    # RBAC-001
    "duplicate Tier 1 group": ("RBAC-001", _append("groups", {"id": "grp-t1-bis", "displayName": "tier 1 analyst"}),
                               Status.FAIL),
    "no Approvers group": ("RBAC-001", _remove("groups", "id", tb.APPROVERS_GROUP), Status.FAIL),
    # RBAC-002
    "Tier 1 has live response": ("RBAC-002", _roles("role-t1", [*tb.SOC_READ, tb.LIVE_RESPONSE]), Status.FAIL),
    "Tier 1 has every secops action": ("RBAC-002", _roles("role-t1", ["microsoft.xdr/secops/*/manage"]), Status.FAIL),
    "Tier 1 manages security settings": ("RBAC-002", _roles("role-t1", [
        *tb.SOC_READ, "microsoft.xdr/configuration/security/manage"]), Status.FAIL),
    "Tier 2 lacks live response": ("RBAC-002", _roles("role-t2", tb.SOC_READ), Status.FAIL),
    "Tier 2 group unbound": ("RBAC-002", _remove("defender_role_assignments", "id", "dra-2"), Status.FAIL),
    # LIC-002
    "no P2 at all": ("LIC-002", lambda t: t["subscribed_skus"][0]["servicePlans"].clear(), Status.FAIL),
    "P2 only in the grace period": ("LIC-002", lambda t: t["subscribed_skus"][0].update(
        capabilityStatus="Warning", prepaidUnits={"enabled": 0, "warning": 5, "suspended": 0, "lockedOut": 0}),
        Status.WARN),
    "P2 SKU suspended": ("LIC-002", lambda t: t["subscribed_skus"][0].update(
        capabilityStatus="Suspended", prepaidUnits={"enabled": 0, "warning": 0, "suspended": 5, "lockedOut": 0}),
        Status.FAIL),
    # GDAP-003
    "no GDAP, no packages": ("GDAP-003", _both(lambda t: t["gdap_relationships"].clear(),
                                               lambda t: t["assignments"].clear()), Status.FAIL),
    "GDAP without access, no packages": ("GDAP-003", _both(lambda t: t["gdap_access_assignments"].clear(),
                                                           lambda t: t["assignments"].clear()), Status.FAIL),
    # GDAP-004
    "active GDAP without access": ("GDAP-004", lambda t: t["gdap_access_assignments"].clear(), Status.FAIL),
    "access assignment being deleted": ("GDAP-004", _where("gdap_access_assignments", "id", "aa-1",
                                                           status="deleting"), Status.FAIL),
    # XT-001
    "MSSP MFA not accepted": ("XT-001", _set("cross_tenant_partner.inboundTrust", {"isMfaAccepted": False}),
                              Status.FAIL),
    "no partner entry, default distrusts": ("XT-001", _set_all("cross_tenant_partner", None), Status.FAIL),
    # XT-002
    "sync from the MSSP allowed": ("XT-002", _set_all("identity_sync", {
        "tenantId": tb.MSSP, "userSyncInbound": {"isSyncAllowed": True}}), Status.WARN),
}
