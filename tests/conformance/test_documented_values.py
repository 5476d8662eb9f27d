"""Every documented value of every enum and `@odata.type` the checks act on (issue 18), placed in the
compliant test tenant where the resource pages put it, through normalisation and the checks that
read it. The expected status of each check is written here, from what the docs say the value means;
one undocumented value per property shows the ERROR side of the rule (audit/checks/_framework.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from audit.checks import CATALOGUE, Context, run_check
from audit.normalize.vocabulary import VOCABULARIES
from tests.checks import tenant_builder as tb

SURPRISE = "surpriseValue"            # no docs page lists it
Tenant = dict[str, Any]


def _policy(t: Tenant, package: str) -> dict[str, Any]:
    return next(p for pkg in t["access_packages"] if pkg["displayName"] == package for p in pkg["assignmentPolicies"])


def _item(t: Tenant, resource: str, ident: str) -> dict[str, Any]:
    return next(i for i in t[resource] if i["id"] == ident)


def _subject(kind: str, ident: str) -> dict[str, Any]:
    """A subjectSet as its resource page shows it: the id property its type documents."""
    key = {"singleUser": "userId", "groupMembers": "groupId", "connectedOrganizationMembers": "connectedOrganizationId",
           "singleServicePrincipal": "servicePrincipalId", "attributeRuleMembers": "membershipRule"}.get(kind)
    subject: dict[str, Any] = {"@odata.type": f"#microsoft.graph.{kind}", "description": kind}
    if key:
        subject[key] = ident
    if kind in ("requestorManager", "targetManager"):
        subject["managerLevel"] = 1
    return subject


def org_state(t: Tenant, v: str) -> None:
    t["connected_organizations"][0]["state"] = v


def identity_source(t: Tenant, v: str) -> None:
    # The MSSP's own organisation is only proposed; a configured one with this source may be it.
    t["connected_organizations"][0]["state"] = "proposed"
    source = {"@odata.type": f"#microsoft.graph.{v}", "displayName": "source"}
    if v in ("azureActiveDirectoryTenant", "crossCloudAzureActiveDirectoryTenant"):
        source["tenantId"] = tb.MSSP
    if v == "crossCloudAzureActiveDirectoryTenant":
        source["cloudInstance"] = "microsoftonline.us"
    if v in ("domainIdentitySource", "externalDomainFederation"):
        source["domainName"] = tb.ANALYST_DOMAIN
    if v == "externalDomainFederation":
        source["issuerUri"] = "https://idp.soc.mssp.example/"
    t["connected_organizations"].append({"id": "org-2", "displayName": "second", "state": "configured",
                                         "identitySources": [source]})


def target_scope(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["allowedTargetScope"] = v


def allowed_target(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["specificAllowedTargets"] = [_subject(v, tb.MSSP_ORG if v.startswith("connected") else "x")]


def approver(t: Tenant, v: str) -> None:
    # Tier 1 (EM-004): the Approvers group is the right approver; Approvers package (EM-012): a customer group
    _policy(t, tb.T1)["requestApprovalSettings"]["stages"][0]["primaryApprovers"] = [_subject(v, tb.APPROVERS_GROUP)]
    _policy(t, tb.APPROVERS)["requestApprovalSettings"]["stages"][0]["primaryApprovers"] = [
        _subject(v, "grp-customer-admins" if v == "groupMembers" else "cust-admin")]


def reviewer(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["reviewSettings"]["primaryReviewers"] = [_subject(v, tb.APPROVERS_GROUP)]


def expiration_type(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["expiration"] = {"type": v, "duration": "P365D" if v == "afterDuration" else None,
                                       "endDateTime": tb.iso(tb.days(100)) if v == "afterDateTime" else None}


def recurrence(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["reviewSettings"]["schedule"]["recurrence"]["pattern"] = {"type": v, "interval": 1}


def expiration_behavior(t: Tenant, v: str) -> None:
    _policy(t, tb.T1)["reviewSettings"]["expirationBehavior"] = v


def assignment_state(t: Tenant, v: str) -> None:
    _item(t, "assignments", "asg-1")["state"] = v


def request_state(t: Tenant, v: str) -> None:
    t["assignment_requests"][0]["state"] = v


def lifecycle(t: Tenant, v: str) -> None:
    t["em_settings"]["externalUserLifecycleAction"] = v


def instance_status(t: Tenant, v: str) -> None:
    _item(t, "review_instances", "inst-2")["status"] = v


def decision(t: Tenant, v: str) -> None:
    _item(t, "review_decisions", "dec-2")["decision"] = v


def apply_result(t: Tenant, v: str) -> None:
    _item(t, "review_decisions", "dec-5")["applyResult"] = v


def gdap_status(t: Tenant, v: str) -> None:
    relationship = t["gdap_relationships"][0]
    relationship["status"] = v
    relationship["accessDetails"]["unifiedRoles"].append({"roleDefinitionId": tb.GA})   # GDAP-002 has a finding


def gdap_access_status(t: Tenant, v: str) -> None:
    t["gdap_access_assignments"][0]["status"] = v


def invites(t: Tenant, v: str) -> None:
    t["authorization_policy"]["allowInvitesFrom"] = v


def guest_role(t: Tenant, v: str) -> None:
    t["authorization_policy"]["guestUserRoleId"] = v


def sign_up(t: Tenant, v: str) -> None:
    t["authorization_policy"]["allowedToSignUpEmailBasedSubscriptions"] = {"true": True, "false": False}.get(v, v)


def email_join(t: Tenant, v: str) -> None:
    t["authorization_policy"]["allowEmailVerifiedUsersToJoinOrganization"] = {"true": True, "false": False}.get(v, v)


P, F, W, E, NA = "PASS", "FAIL", "WARN", "ERROR", "NOT_APPLICABLE"
G = "10dae51f-b6af-4016-8d66-8c2a99b929b3"
R = "2af84b1e-32c8-42b7-82bc-daa82404023b"
M = "a0b1b346-4d3e-4e8b-98f8-753987be4970"
_EM_SUBJECT_FAIL = {"EM-003": F}
# (resource, property) → (how the value is placed, {value: {check: expected status}})
EXPECTED: dict[tuple[str, str], tuple[Callable[[Tenant, str], None], dict[str, dict[str, str]]]] = {
    ("connected_organizations", "state"): (org_state, {
        "configured": {"EM-001": P, "EM-010": P}, "proposed": {"EM-001": F, "EM-010": W},
        "unknownFutureValue": {"EM-001": W, "EM-010": W}, SURPRISE: {"EM-001": E, "EM-010": E}}),
    ("connected_organizations", "identitySources[].@odata.type"): (identity_source, {
        "azureActiveDirectoryTenant": {"EM-001": P}, "crossCloudAzureActiveDirectoryTenant": {"EM-001": P},
        "domainIdentitySource": {"EM-001": F}, "externalDomainFederation": {"EM-001": F},
        "socialIdentitySource": {"EM-001": F}, SURPRISE: {"EM-001": E}}),
    ("access_packages", "assignmentPolicies[].allowedTargetScope"): (target_scope, {
        "specificConnectedOrganizationUsers": {"EM-003": P},
        **{v: {"EM-003": F} for v in ("notSpecified", "specificDirectoryUsers", "specificDirectoryServicePrincipals",
                                      "allMemberUsers", "allDirectoryUsers", "allDirectoryServicePrincipals",
                                      "allConfiguredConnectedOrganizationUsers", "allExternalUsers",
                                      "allDirectoryAgentIdentities")},
        "unknownFutureValue": {"EM-003": W}, SURPRISE: {"EM-003": E}}),
    ("access_packages", "assignmentPolicies[].specificAllowedTargets[].@odata.type"): (allowed_target, {
        "connectedOrganizationMembers": {"EM-003": P},
        **{v: {"EM-003": F} for v in ("attributeRuleMembers", "externalSponsors", "groupMembers", "internalSponsors",
                                      "requestorManager", "singleServicePrincipal", "singleUser",
                                      "targetAgentIdentitySponsorsOrOwners", "targetApplicationOwners",
                                      "targetManager", "targetUserSponsors")},
        "groupBasedSubjectSet": {"EM-003": W}, "ruleBasedSubjectSet": {"EM-003": W}, SURPRISE: {"EM-003": E}}),
    ("access_packages", "assignmentPolicies[].requestApprovalSettings.stages[].*Approvers[].@odata.type"): (approver, {
        "groupMembers": {"EM-004": P, "EM-012": P}, "singleUser": {"EM-004": F, "EM-012": P},
        "internalSponsors": {"EM-004": F, "EM-012": P},
        **{v: {"EM-004": F, "EM-012": F} for v in ("externalSponsors", "connectedOrganizationMembers",
                                                   "requestorManager", "targetManager", "singleServicePrincipal")},
        **{v: {"EM-004": W, "EM-012": W} for v in ("attributeRuleMembers", "targetUserSponsors",
                                                   "targetAgentIdentitySponsorsOrOwners", "targetApplicationOwners",
                                                   "groupBasedSubjectSet", "ruleBasedSubjectSet")},
        SURPRISE: {"EM-004": E, "EM-012": E}}),
    ("access_packages", "assignmentPolicies[].reviewSettings.*Reviewers[].@odata.type"): (reviewer, {
        **{v: {"EM-013": P} for v in ("attributeRuleMembers", "connectedOrganizationMembers", "externalSponsors",
                                      "groupMembers", "internalSponsors", "requestorManager",
                                      "singleServicePrincipal", "singleUser", "targetAgentIdentitySponsorsOrOwners",
                                      "targetApplicationOwners", "targetManager", "targetUserSponsors")},
        "groupBasedSubjectSet": {"EM-013": W}, "ruleBasedSubjectSet": {"EM-013": W}, SURPRISE: {"EM-013": E}}),
    ("access_packages", "assignmentPolicies[].expiration.type"): (expiration_type, {
        "afterDuration": {"EM-005": P}, "afterDateTime": {"EM-005": P}, "noExpiration": {"EM-005": F},
        "notSpecified": {"EM-005": F}, SURPRISE: {"EM-005": E}}),
    ("access_packages", "assignmentPolicies[].reviewSettings.schedule.recurrence.pattern.type"): (recurrence, {
        **{v: {"EM-013": P} for v in ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly",
                                      "relativeYearly")}, SURPRISE: {"EM-013": E}}),
    ("access_packages", "assignmentPolicies[].reviewSettings.expirationBehavior"): (expiration_behavior, {
        "removeAccess": {"EM-013": P}, "keepAccess": {"EM-013": F}, "acceptAccessRecommendation": {"EM-013": F},
        "unknownFutureValue": {"EM-013": W}, SURPRISE: {"EM-013": E}}),
    ("assignments", "state"): (assignment_state, {
        **{v: {"EM-006": P, "EM-007": P, "EM-011": P} for v in ("delivered", "partiallyDelivered", "delivering")},
        # guest-1 stays in the Tier 1 group without access held: a back door (EM-011)
        **{v: {"EM-006": P, "EM-007": P, "EM-011": F} for v in ("expired", "deliveryFailed")},
        "unknownFutureValue": {"EM-006": W, "EM-007": W, "EM-011": W},
        SURPRISE: {"EM-006": E, "EM-007": E, "EM-011": E}}),
    ("assignment_requests", "state"): (request_state, {
        "pendingApproval": {"EM-008": P},
        **{v: {"EM-008": NA} for v in ("submitted", "delivering", "delivered", "deliveryFailed", "denied",
                                       "scheduled", "canceled", "partiallyDelivered")},
        "unknownFutureValue": {"EM-008": W}, SURPRISE: {"EM-008": E}}),
    ("em_settings", "externalUserLifecycleAction"): (lifecycle, {
        "none": {"EM-009": P}, "blockSignIn": {"EM-009": F}, "blockSignInAndDelete": {"EM-009": F},
        "unknownFutureValue": {"EM-009": W}, SURPRISE: {"EM-009": E}}),
    ("review_instances", "status"): (instance_status, {
        # inst-2 ended 86 days ago; it is Tier 1's only instance of the last year
        **{v: {"AR-001": P, "AR-002": P, "AR-003": P} for v in ("Completed", "AutoReviewed", "Applied")},
        **{v: {"AR-001": F, "AR-002": P, "AR-003": F} for v in ("Initializing", "NotStarted", "Starting",
                                                                "InProgress", "Completing", "AutoReviewing")},
        SURPRISE: {"AR-001": E, "AR-002": E, "AR-003": E}}),
    ("review_decisions", "decision"): (decision, {
        # inst-2: dec-2 (this one), dec-3 Approve, dec-4 NotReviewed — two of three unanswered is "mostly"
        "Approve": {"AR-002": P}, "Deny": {"AR-002": P}, "NotReviewed": {"AR-002": F}, "DontKnow": {"AR-002": F},
        SURPRISE: {"AR-002": E}}),
    ("review_decisions", "applyResult"): (apply_result, {
        # inst-3 has this one decision
        "AppliedSuccessfully": {"AR-002": P}, "AppliedSuccessfullyButObjectNotFound": {"AR-002": P},
        "New": {"AR-002": F}, "AppliedWithUnknownFailure": {"AR-002": F}, "ApplyNotSupported": {"AR-002": F},
        SURPRISE: {"AR-002": E}}),
    ("gdap_relationships", "status"): (gdap_status, {
        # the relationship now also grants Global Administrator; the customer keeps its governed B2B route
        "active": {"GDAP-001": P, "GDAP-002": F, "GDAP-003": P, "GDAP-004": P},
        **{v: {"GDAP-001": NA, "GDAP-002": F, "GDAP-003": P, "GDAP-004": NA}
           for v in ("approved", "activating", "expiring", "terminationRequested")},
        **{v: {"GDAP-001": NA, "GDAP-002": NA, "GDAP-003": P, "GDAP-004": NA}
           for v in ("created", "approvalPending", "terminating", "terminated", "expired")},
        "unknownFutureValue": {"GDAP-001": W, "GDAP-002": W, "GDAP-003": P, "GDAP-004": W},
        SURPRISE: {"GDAP-001": E, "GDAP-002": E, "GDAP-003": P, "GDAP-004": E}}),
    ("gdap_access_assignments", "status"): (gdap_access_status, {
        "active": {"GDAP-003": P, "GDAP-004": P},
        **{v: {"GDAP-003": P, "GDAP-004": F} for v in ("pending", "deleting", "deleted", "error")},
        "unknownFutureValue": {"GDAP-003": P, "GDAP-004": W}, SURPRISE: {"GDAP-003": P, "GDAP-004": E}}),
    ("authorization_policy", "allowInvitesFrom"): (invites, {
        "none": {"GS-001": P}, "adminsAndGuestInviters": {"GS-001": P},
        "adminsGuestInvitersAndAllMembers": {"GS-001": F}, "everyone": {"GS-001": F},
        "unknownFutureValue": {"GS-001": W}, SURPRISE: {"GS-001": E}}),
    ("authorization_policy", "guestUserRoleId"): (guest_role, {
        R: {"GS-002": P}, G: {"GS-002": P}, M: {"GS-002": F}, G.upper(): {"GS-002": P},
        "00000000-0000-4000-8000-000000000000": {"GS-002": E}}),
    ("authorization_policy", "allowedToSignUpEmailBasedSubscriptions"): (sign_up, {
        "false": {"GS-003": P}, "true": {"GS-003": F}, SURPRISE: {"GS-003": E}}),
    ("authorization_policy", "allowEmailVerifiedUsersToJoinOrganization"): (email_join, {
        "false": {"GS-003": P}, "true": {"GS-003": F}, SURPRISE: {"GS-003": E}}),
}
CASES = [(key, value) for key, (_, values) in EXPECTED.items() for value in values]
BY_ID = {c.spec.id: c for c in CATALOGUE}


def test_every_documented_value_has_its_expectation() -> None:
    declared = {(v.resource, v.property): v for v in VOCABULARIES}
    assert set(EXPECTED) == set(declared)
    for key, (_, values) in EXPECTED.items():
        vocabulary = declared[key]
        assert set(vocabulary.documented) <= set(values), (key, set(vocabulary.documented) - set(values))
        for expected in values.values():
            assert set(expected) == set(vocabulary.read_by), (key, expected)


@pytest.mark.parametrize(("key", "value"), CASES, ids=[f"{k[0]}.{k[1]}={v}" for k, v in CASES])
def test_documented_value(key: tuple[str, str], value: str, tmp_path: Path) -> None:
    place, values = EXPECTED[key]
    tenant = tb.good_tenant()
    place(tenant, value)
    # only what the checks read (and the SKUs that license them): a third of the writing, same path
    needed = {"subscribed_skus", *(r for check_id in values[value] for r in BY_ID[check_id].spec.resources)}
    tenant = {name: evidence for name, evidence in tenant.items() if name in needed}
    cfg = tb.config()
    data = tb.build(tmp_path, tenant)
    vocabulary = next(v for v in VOCABULARIES if (v.resource, v.property) == key)
    not_understood = not vocabulary.understands(value)
    for check_id, status in values[value].items():
        result = run_check(BY_ID[check_id], data, Context(tb.NOW, cfg, cfg.customers[0]))
        assert result.status.value == status, (check_id, result.summary, result.reason)
        if status in (W, E) and not_understood and "unreadable" not in result.reason:
            # a value not understood is named with its property in the reason and in the evidence
            assert key[1] in result.reason and any("not understood" in row for row in result.evidence), result
