"""The emulator's demo estate as the collector would have stored it, without the HTTP server.

Each customer's `audit.emulator` TenantData is turned into the resource → Graph items shape of
tenant_builder (what the resource catalogue, `audit/resources.py`, asks for: guests only, packages with
their policies expanded, pending requests only, …), with the statuses the emulator would have answered:
no P2 → entitlement management and reviews NOT_LICENSED (their fan-outs SKIPPED), no
AuditLog.Read.All or no P1/P2 → sign-ins refused, revoked consent → no token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from urllib.parse import parse_qs, urlsplit

from audit.config import Config
from audit.emulator._filter import parse_filter
from audit.emulator._graph import licence_level
from audit.emulator.estate import ANALYST_DOMAIN, CORPORATE_DOMAIN, Estate, TenantData
from audit.models import ResourceStatus
from audit.normalize import TenantData as Tables
from audit.resources import GUEST_FIELDS, MEMBER_FIELDS, resource
from tests.checks import tenant_builder as tb

GUEST_KEYS = tuple(GUEST_FIELDS.split(","))
LICENSED_P2 = ("connected_organizations", "catalogs", "access_packages", "assignments", "assignment_requests",
               "em_settings", "review_definitions")
SKIPPED_WITH_PARENT = ("review_instances", "review_decisions")
GROUP_NAMES = ("Tier 1 Analyst", "Tier 2 Analyst", "MSSP Analyst Approvers")
# The catalogue's own query for member-type B2B users, evaluated by the emulator's $filter parser.
EXTERNAL_MEMBERS = parse_filter(parse_qs(urlsplit(resource("external_members").path).query)["$filter"][0])


def estate_config(estate: Estate) -> Config:
    """What `audit.demo.demo_config` writes for this estate, minus the emulator's URLs."""
    tenants = estate.tenants
    return Config.model_validate({
        "mssp": {"analyst_tenant_id": estate.mssp_tenant_id, "partner_tenant_id": estate.partner_tenant_id,
                 "corporate_tenant_ids": estate.corporate_tenant_ids, "analyst_domains": [ANALYST_DOMAIN],
                 "corporate_domains": [CORPORATE_DOMAIN]},
        "app": {"client_id": estate.app.client_id, "client_secret_env": "X"},
        "customers": [{"name": c.name, "tenant_id": c.tenant_id, "projected_growth": c.projected_growth,
                       "setup_admin": f"mssp-setup-admin@{tenants[c.tenant_id].default_domain}"}
                      for c in estate.customers],
    })


def _children(parents: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{**item, "_parent": parent} for parent, items in parents.items() for item in items]


def resources(estate: Estate, t: TenantData) -> tuple[dict[str, Any], dict[str, ResourceStatus]]:
    partner = estate.tenants[estate.partner_tenant_id]
    mssp = estate.mssp_tenant_id
    has_p1, has_p2 = licence_level(t)
    sign_ins = "AuditLog.Read.All" in t.granted_roles and has_p1
    guests = [{k: u.get(k) for k in (*GUEST_KEYS, *(("signInActivity",) if sign_ins else ()))}
              for u in t.users if u.get("userType") == "Guest"]
    groups = [g for g in t.groups if g["displayName"] in GROUP_NAMES]
    users = {u["id"]: u for u in t.users}
    members = {g["id"]: [{"@odata.type": "#microsoft.graph.user", **{k: users[i].get(k) for k in MEMBER_FIELDS.split(",")}}
                         for i in t.group_members.get(g["id"], []) if i in users] for g in groups}
    fanout = resource("role_group_members")
    role_groups = {a["principalId"] for a in t.role_assignments if fanout.fans_out_over(a, frozenset())}
    role_members = {g: [{"@odata.type": "#microsoft.graph.user",
                         **{k: users[i].get(k) for k in (*MEMBER_FIELDS.split(","), "accountEnabled")}}
                        for i in t.group_members.get(g, []) if i in users] for g in role_groups}
    out: dict[str, Any] = {
        "guests": guests,
        "external_members": [{k: u.get(k) for k in (*GUEST_KEYS, *(("signInActivity",) if sign_ins else ()))}
                             for u in t.users if EXTERNAL_MEMBERS.matches(u)],
        "connected_organizations": t.connected_organizations,
        "catalogs": t.catalogs,
        "access_packages": [{**p, "assignmentPolicies": [q for q in t.assignment_policies
                                                         if (q.get("accessPackage") or {}).get("id") == p["id"]]}
                            for p in t.access_packages],
        "assignments": t.assignments,
        "assignment_requests": [r for r in t.assignment_requests if r["state"] == "pendingApproval"],
        "em_settings": t.entitlement_settings,
        "review_definitions": t.review_definitions,
        "review_instances": _children(t.review_instances),
        "review_decisions": _children(t.review_decisions),
        "authorization_policy": t.authorization_policy,
        "cross_tenant_default": t.cross_tenant_default,
        "cross_tenant_partner": next((p for p in t.cross_tenant_partners if p["tenantId"] == mssp), None),
        "identity_sync": t.identity_sync.get(mssp),
        "subscribed_skus": t.subscribed_skus,
        "role_assignments": t.role_assignments,
        "role_group_members": _children(role_members),
        "groups": groups,
        "group_members": _children(members),
        "gdap_relationships": partner.delegated_admin_relationships,
        "gdap_access_assignments": _children(partner.access_assignments),
    }
    statuses: dict[str, ResourceStatus] = {}
    if not has_p2:
        statuses.update({name: ResourceStatus.NOT_LICENSED for name in LICENSED_P2})
        statuses.update({name: ResourceStatus.SKIPPED for name in SKIPPED_WITH_PARENT})
    for facet in ("guest_sign_ins", "external_member_sign_ins"):
        if "AuditLog.Read.All" not in t.granted_roles:
            statuses[facet] = ResourceStatus.FORBIDDEN
        elif not has_p1:
            statuses[facet] = ResourceStatus.NOT_LICENSED
    return out, statuses


def build_customer(tmp: Path, estate: Estate, tenant_id: str) -> Tables:
    t = estate.tenants[tenant_id]
    found, statuses = resources(estate, t)
    return tb.build(tmp, found, statuses=statuses, token_ok=t.faults.token_error is None,
                    token_reason=f"{t.faults.token_error}: consent revoked", roles=tuple(t.granted_roles),
                    tenant_id=tenant_id, customer=t.display_name)
