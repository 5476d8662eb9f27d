"""The generated estate: determinism, shapes, sizes, and every planted problem, asserted on the data.

Each ``Plant`` has a detector written from the Graph data alone, the way a collector would see
it (so problems behind a 403 — no P2, no AuditLog.Read.All — are not visible). For every
customer, the detected set must equal the planted set: the plants are there, and nothing else
looks like one.
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import is_dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from audit.emulator import (
    AppRegistration,
    CustomerInfo,
    Estate,
    Plant,
    TenantData,
    generate_estate,
)
from audit.emulator._gen_common import ANALYST_DOMAIN, CORPORATE_DOMAIN, new_uuid
from audit.normalize.governance import HOLDS_ACCESS

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=timezone.utc)
APP = AppRegistration("app-id", None, "secret")
GA = "62e90394-69f5-4237-9190-012177145e10"
P2_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
MSSP_GROUPS = {"Tier 1 Analyst": "Tier 1 Analyst", "Tier 2 Analyst": "Tier 2 Analyst",
               "MSSP Analyst Approvers": "MSSP Analyst Approvers"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class View:
    """What the audit can see of one customer."""

    def __init__(self, estate: Estate, info: CustomerInfo) -> None:
        self.estate, self.info = estate, info
        assert estate.generated_at is not None
        self.now = estate.generated_at
        self.t: TenantData = estate.tenants[info.tenant_id]
        assert self.t.authorization_policy is not None and self.t.entitlement_settings is not None
        self.authorization = self.t.authorization_policy
        self.settings = self.t.entitlement_settings
        plans = [p for s in self.t.subscribed_skus for p in s["servicePlans"]]
        self.p2 = any(p["servicePlanId"] == P2_PLAN for p in plans)
        self.sign_ins = self.p2 and "AuditLog.Read.All" in self.t.granted_roles
        self.guests = [u for u in self.t.users if u["userType"] == "Guest"]
        # the documented states that hold access (audit.normalize.governance.HOLDS_ACCESS)
        self.delivered = [a for a in self.t.assignments if a["state"] in HOLDS_ACCESS] if self.p2 else []
        self.holders = {a["target"]["objectId"] for a in self.delivered}
        self.policies = self.t.assignment_policies if self.p2 else []
        self.gdap = [r for r in estate.tenants[estate.partner_tenant_id].delegated_admin_relationships
                     if r["customer"]["tenantId"] == info.tenant_id and r["status"] == "active"]

    def tier_policies(self) -> list[dict[str, Any]]:
        return [p for p in self.policies if p["accessPackage"]["displayName"].startswith("Tier")]

    def group(self, name: str) -> dict[str, Any]:
        return next(g for g in self.t.groups if g["displayName"] == name)

    def mssp_partner(self) -> dict[str, Any]:
        return next(p for p in self.t.cross_tenant_partners if p["tenantId"] == self.estate.mssp_tenant_id)

    def global_admins(self) -> list[dict[str, Any]]:
        return [r["principal"] for r in self.t.role_assignments
                if r["roleDefinitionId"] == GA and r["principal"]["@odata.type"] == "#microsoft.graph.user"]

    def last_success(self, user: dict[str, Any]) -> datetime | None:
        value = (user.get("signInActivity") or {}).get("lastSuccessfulSignInDateTime")
        return None if value is None or value.startswith("0001") else at(value)


def _em(view: View, test: Callable[[View], bool]) -> bool:
    return view.p2 and test(view)


def _days(view: View, a: dict[str, Any]) -> float | None:
    end = a["schedule"]["expiration"]["endDateTime"]
    return None if end is None else (at(end) - view.now).total_seconds() / 86400


def _back_door(v: View) -> bool:
    members = {m for name in MSSP_GROUPS for m in v.t.group_members[v.group(name)["id"]]}
    return bool(members - v.holders)


def _not_reviewed(v: View) -> bool:
    for instances in v.t.review_instances.values():
        for instance in instances:
            decisions = v.t.review_decisions[instance["id"]]
            if instance["status"] == "Completed" and decisions and \
                    sum(d["decision"] == "NotReviewed" for d in decisions) > len(decisions) / 2:
                return True
    return False


def _analysts(v: View) -> list[dict[str, Any]]:
    return [g for g in v.guests if g["mail"].endswith("@" + ANALYST_DOMAIN)]


def _b2b_members(v: View) -> list[dict[str, Any]]:
    """Member-type B2B users, as the directory query by external identity finds them (§1)."""
    return [u for u in v.t.users if u["userType"] == "Member"
            and (u["creationType"] == "Invitation" or u["externalUserState"] is not None)]


def _p2_units(v: View) -> int:
    return sum(s["prepaidUnits"]["enabled"] for s in v.t.subscribed_skus
               if any(p["servicePlanId"] == P2_PLAN for p in s["servicePlans"]))


def _p2_skus(v: View) -> list[dict[str, Any]]:
    return [s for s in v.t.subscribed_skus if any(p["servicePlanId"] == P2_PLAN for p in s["servicePlans"])]


def _required_p2(v: View) -> int:
    return math.ceil((v.info.current_analysts + v.info.projected_growth) * 1.5 / 5)


DETECTORS: dict[Plant, Callable[[View], bool]] = {
    Plant.GUESTS_CAN_INVITE: lambda v: v.authorization["allowInvitesFrom"] == "everyone",
    Plant.GUEST_ROLE_MEMBER: lambda v: v.authorization["guestUserRoleId"] == "a0b1b346-4d3e-4e8b-98f8-753987be4970",
    Plant.EMAIL_SIGNUP: lambda v: v.authorization["allowedToSignUpEmailBasedSubscriptions"] is True,
    Plant.TIER_NO_EXPIRATION: lambda v: any(p["expiration"]["type"] == "noExpiration" for p in v.tier_policies()),
    Plant.POLICY_730_DAYS: lambda v: any(p["expiration"]["duration"] == "P730D" for p in v.policies),
    Plant.POLICY_ALL_EXTERNAL: lambda v: any(p["allowedTargetScope"] == "allExternalUsers" for p in v.policies),
    Plant.POLICY_ALL_CONNECTED: lambda v: any(p["allowedTargetScope"] == "allConfiguredConnectedOrganizationUsers"
                                              for p in v.policies),
    Plant.NO_APPROVAL: lambda v: any(not p["requestApprovalSettings"]["isApprovalRequiredForAdd"]
                                     for p in v.tier_policies()),
    Plant.APPROVER_SELF_LOOP: lambda v: any(
        approver.get("groupId") == v.group("MSSP Analyst Approvers")["id"]
        for p in v.policies if p["accessPackage"]["displayName"] == "MSSP Analyst Approvers"
        for stage in p["requestApprovalSettings"]["stages"] for approver in stage["primaryApprovers"]),
    Plant.REVIEWS_DISABLED: lambda v: any(not p["reviewSettings"]["isEnabled"] for p in v.tier_policies()),
    Plant.REVIEW_KEEP_ACCESS: lambda v: any(p["reviewSettings"]["isEnabled"]
                                            and p["reviewSettings"]["expirationBehavior"] == "keepAccess"
                                            for p in v.policies),
    Plant.DUPLICATE_GROUP: lambda v: len([g for g in v.t.groups if g["displayName"] == "Tier 1 Analyst"]) > 1,
    Plant.NO_SELF_EXTEND: lambda v: any(not p["requestorSettings"]["enableTargetsToSelfUpdateAccess"]
                                        for p in v.tier_policies()),
    Plant.MISSING_TIER2: lambda v: _em(v, lambda v: not any(p["displayName"] == "Tier 2 Analyst"
                                                            for p in v.t.access_packages)),
    Plant.PROPOSED_ORG: lambda v: _em(v, lambda v: any(
        o["state"] == "proposed" and all(s.get("tenantId") != v.estate.mssp_tenant_id for s in o["identitySources"])
        for o in v.t.connected_organizations)),
    Plant.MSSP_ORG_PROPOSED: lambda v: _em(v, lambda v: {
        o["state"] for o in v.t.connected_organizations
        if any(s.get("tenantId") == v.estate.mssp_tenant_id for s in o["identitySources"])} == {"proposed"}),
    Plant.EXPIRING_7: lambda v: any(0 < (_days(v, a) or 99) <= 7 for a in v.delivered),
    Plant.EXPIRING_30: lambda v: any(7 < (_days(v, a) or 99) <= 30 for a in v.delivered),
    Plant.NO_END_DATE: lambda v: any(a["schedule"]["expiration"]["endDateTime"] is None for a in v.delivered),
    Plant.STALE_REQUESTS: lambda v: _em(v, lambda v: any(
        r["state"] == "pendingApproval" and at(r["createdDateTime"]) < v.now - timedelta(days=14)
        for r in v.t.assignment_requests)),
    Plant.LIFECYCLE_DELETE: lambda v: _em(
        v, lambda v: v.settings["externalUserLifecycleAction"] == "blockSignInAndDelete"),
    Plant.BACK_DOOR: lambda v: _em(v, _back_door),
    Plant.REVIEW_OVERDUE: lambda v: _em(v, lambda v: any(
        i["status"] == "InProgress" and at(i["endDateTime"]) < v.now
        for instances in v.t.review_instances.values() for i in instances)),
    Plant.REVIEW_NOT_REVIEWED: lambda v: _em(v, _not_reviewed),
    Plant.STALE_GUEST: lambda v: v.sign_ins and any(
        (last := v.last_success(g)) is not None and last < v.now - timedelta(days=90) for g in v.guests),
    Plant.NEVER_SIGNED_IN: lambda v: v.sign_ins and any(
        v.last_success(g) is None and g["externalUserState"] == "Accepted"
        and at(g["createdDateTime"]) < v.now - timedelta(days=90) for g in v.guests),
    Plant.PENDING_INVITE: lambda v: any(
        g["externalUserState"] == "PendingAcceptance"
        and at(g["externalUserStateChangeDateTime"]) < v.now - timedelta(days=30) for g in v.guests),
    Plant.CORPORATE_GUEST: lambda v: any(g["mail"].endswith("@" + CORPORATE_DOMAIN) for g in v.guests),
    Plant.PII_USERNAME: lambda v: any(not re.fullmatch(r"a-[a-z]+\d+", g["mail"].split("@")[0]) for g in _analysts(v)),
    Plant.ANALYST_NO_ASSIGNMENT: lambda v: _em(v, lambda v: any(
        g["id"] not in v.holders
        and all(g["id"] not in v.t.group_members[v.group(n)["id"]] for n in MSSP_GROUPS) for g in _analysts(v))),
    Plant.DISABLED_WITH_ASSIGNMENT: lambda v: any(not g["accountEnabled"] and g["id"] in v.holders for g in v.guests),
    Plant.LOCAL_ANALYST: lambda v: any(
        u["userType"] == "Member" and u["creationType"] is None and "#EXT#" not in u["userPrincipalName"]
        and u["id"] in v.t.group_members[v.group(name)["id"]] for u in v.t.users for name in MSSP_GROUPS),
    Plant.SYNCED_ANALYST: lambda v: _em(v, lambda v: any(
        u["mail"].endswith("@" + ANALYST_DOMAIN) and u["id"] not in v.holders for u in _b2b_members(v))),
    Plant.CORPORATE_SYNCED: lambda v: any(u["mail"].endswith("@" + CORPORATE_DOMAIN) for u in _b2b_members(v)),
    Plant.CONVERTED_GUEST: lambda v: v.sign_ins and any(
        (last := v.last_success(u)) is not None and last < v.now - timedelta(days=90) for u in _b2b_members(v)),
    Plant.ADMIN_GROUP_GUEST: lambda v: any(
        r["roleDefinitionId"] == GA and r["principal"]["@odata.type"] == "#microsoft.graph.group"
        and any(u["id"] in v.t.group_members[r["principalId"]] and u["userType"] == "Guest" for u in v.t.users)
        for r in v.t.role_assignments),
    Plant.MANY_GLOBAL_ADMINS: lambda v: len(v.global_admins()) > 5,
    Plant.GUEST_GLOBAL_ADMIN: lambda v: any(p["userType"] == "Guest" for p in v.global_admins()),
    Plant.SETUP_ADMIN_LEFT: lambda v: any(p["userPrincipalName"].startswith("mssp-setup-admin@")
                                          for p in v.global_admins()),
    Plant.TOO_FEW_P2: lambda v: 0 < _p2_units(v) < _required_p2(v),
    Plant.NO_P2: lambda v: not v.p2,
    # licenseUnitsDetail: units in warning are the grace period after expiry; none enabled anywhere.
    Plant.P2_EXPIRING: lambda v: bool(_p2_skus(v)) and all(
        s["capabilityStatus"] == "Warning" and s["prepaidUnits"]["warning"] > 0 == s["prepaidUnits"]["enabled"]
        for s in _p2_skus(v)),
    Plant.P2_SUSPENDED_SKU: lambda v: any(s["capabilityStatus"] == "Suspended" and s["prepaidUnits"]["suspended"] > 0
                                          for s in _p2_skus(v)),
    Plant.E5_P2_DISABLED: lambda v: any(s["skuPartNumber"] == "SPE_E5" and any(
        p["servicePlanId"] == P2_PLAN and p["provisioningStatus"] == "Disabled" for p in s["servicePlans"])
        for s in v.t.subscribed_skus),
    Plant.MFA_NOT_TRUSTED: lambda v: not v.mssp_partner()["inboundTrust"]["isMfaAccepted"],
    Plant.IDENTITY_SYNC: lambda v: (v.t.identity_sync.get(v.estate.mssp_tenant_id) or {}).get(
        "userSyncInbound", {}).get("isSyncAllowed") is True,
    Plant.GDAP_EXPIRING: lambda v: any(at(r["endDateTime"]) < v.now + timedelta(days=30)
                                       and r["autoExtendDuration"] in ("PT0S", "P0D") for r in v.gdap),
    Plant.GDAP_GLOBAL_ADMIN: lambda v: any(role["roleDefinitionId"] == GA for r in v.gdap
                                           for role in r["accessDetails"]["unifiedRoles"]),
    Plant.GDAP_NO_ACCESS: lambda v: any(not [a for a in v.estate.tenants[v.estate.partner_tenant_id]
                                             .access_assignments[r["id"]] if a["status"] == "active"]
                                        for r in v.gdap),
    Plant.NO_GDAP: lambda v: not v.gdap,
    Plant.NO_AUDITLOG: lambda v: "AuditLog.Read.All" not in v.t.granted_roles,
    Plant.WRITE_PERMISSION: lambda v: any("ReadWrite" in role for role in v.t.granted_roles),
    Plant.CONSENT_REVOKED: lambda v: v.t.faults.token_error == "AADSTS7000229",
    Plant.DOCUMENTED_VARIANTS: lambda v: _em(v, lambda v: {
        s["@odata.type"] for o in v.t.connected_organizations for s in o["identitySources"]} >= {
        f"#microsoft.graph.{k}" for k in ("azureActiveDirectoryTenant", "crossCloudAzureActiveDirectoryTenant",
                                          "domainIdentitySource", "externalDomainFederation", "socialIdentitySource")}
        and any(a["state"] == "partiallyDelivered" for a in v.t.assignments)),
}


@pytest.fixture(scope="module")
def demo() -> Estate:
    return generate_estate(now=NOW, app=APP)


def detected(estate: Estate, info: CustomerInfo) -> set[Plant]:
    view = View(estate, info)
    return {plant for plant, detect in DETECTORS.items() if detect(view)}


def test_every_plant_has_a_detector() -> None:
    assert set(DETECTORS) == set(Plant)


def test_demo_customers(demo: Estate) -> None:
    assert [c.name for c in demo.customers] == [
        "Contoso Retail", "Fabrikam Health", "Northwind Traders", "Tailspin Toys", "Woodgrove Bank",
        "Adatum Logistics", "Litware Energy", "Wingtip Legal"]
    assert demo.partner_tenant_id in demo.tenants
    assert demo.partner_tenant_id not in {c.tenant_id for c in demo.customers}
    sizes = {c.name: len(demo.tenants[c.tenant_id].users) for c in demo.customers}
    assert sizes["Tailspin Toys"] <= 20 and sizes["Contoso Retail"] >= 400


def test_every_plant_appears_and_one_customer_is_clean(demo: Estate) -> None:
    planted = {Plant(text) for c in demo.customers for text in c.planted}
    assert planted == set(Plant)
    assert [c.name for c in demo.customers if not c.planted] == ["Northwind Traders"]


@pytest.mark.parametrize("index", range(8))
def test_detected_problems_are_exactly_the_planted_ones(demo: Estate, index: int) -> None:
    info = demo.customers[index]
    assert detected(demo, info) == {Plant(text) for text in info.planted}


def test_broken_tenant_is_opt_out() -> None:
    estate = generate_estate(now=NOW, app=APP, include_broken_tenant=False)
    assert all(t.faults.token_error is None for t in estate.tenants.values())
    assert Plant.CONSENT_REVOKED.value not in estate.customers[7].planted


def _plain(value: object) -> object:
    if is_dataclass(value):
        return vars(value)
    return sorted(value) if isinstance(value, set) else str(value)


def test_same_seed_same_json_other_seed_other_json() -> None:
    def dump(seed: int) -> str:
        estate = generate_estate(now=NOW, app=APP, seed=seed, customers=10)
        return json.dumps(estate, default=_plain, sort_keys=True)

    assert dump(3) == dump(3)
    assert dump(3) != dump(4)


def test_dates_follow_now(demo: Estate) -> None:
    later = generate_estate(now=NOW + timedelta(days=100), app=APP)
    for before, after in zip(demo.customers, later.customers):
        assert detected(demo, before) == detected(later, after)


def test_cycled_and_benchmark_estates_keep_their_plants() -> None:
    estate = generate_estate(now=NOW, app=APP, customers=20, guests_per_tenant=150, assignments_per_tenant=300,
                             reviews_per_tenant=5)
    for info in estate.customers:
        tenant = estate.tenants[info.tenant_id]
        guests = sum(u["userType"] == "Guest" for u in tenant.users)
        assert 140 <= guests <= 160, info.name
        if info.name.startswith("Tailspin"):
            continue   # no P2: no entitlement management, no reviews
        assert 290 <= len(tenant.assignments) <= 320, info.name
        assert len(tenant.review_definitions) == 5
        assert detected(estate, info) == {Plant(text) for text in info.planted}, info.name
    assert estate.customers[15].name == "Wingtip Legal 2"
    assert estate.tenants[estate.customers[15].tenant_id].faults.token_error is None


def test_graph_shapes(demo: Estate) -> None:
    tenant = demo.tenants[demo.customers[0].tenant_id]
    guest = next(u for u in tenant.users if u["userType"] == "Guest" and u["mail"].startswith("a-"))
    assert guest["userPrincipalName"] == guest["mail"].replace("@", "_") + f"#EXT#@{tenant.default_domain}"
    assert guest["creationType"] == "Invitation" and guest["identities"][0]["issuer"] == "ExternalAzureAD"
    assert re.fullmatch(r"a-[A-Z][a-z]+\d+", guest["displayName"])
    assignment = next(a for a in tenant.assignments if a["state"] == "delivered")
    assert {"target", "accessPackage", "assignmentPolicy", "schedule", "status"} <= assignment.keys()
    assert set(assignment["schedule"]["expiration"]) == {"type", "endDateTime", "duration"}
    policy = next(p for p in tenant.assignment_policies if p["accessPackage"]["displayName"] == "Tier 1 Analyst")
    assert policy["specificAllowedTargets"][0]["@odata.type"] == "#microsoft.graph.connectedOrganizationMembers"
    assert policy["requestApprovalSettings"]["stages"][0]["primaryApprovers"][0]["@odata.type"] \
        == "#microsoft.graph.groupMembers"
    assert policy["expiration"] == {"type": "afterDuration", "duration": "P365D", "endDateTime": None}
    assert policy["reviewSettings"]["schedule"]["recurrence"]["pattern"]["type"] == "absoluteYearly"
    gdap = demo.tenants[demo.partner_tenant_id].delegated_admin_relationships[0]
    assert re.fullmatch(r"[0-9a-f-]{36}-[0-9a-f-]{36}", gdap["id"])


def test_new_uuid_matches_the_uuid_module() -> None:
    probe = random.Random(42).getrandbits(128)
    assert new_uuid(random.Random(42)) == str(uuid.UUID(int=probe, version=4))
