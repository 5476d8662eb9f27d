"""Assembles one customer tenant, and the MSSP's partner tenant with its GDAP relationships."""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence

from audit.emulator import _gen_directory as directory
from audit.emulator._gen_common import ANALYST_FIRST_NAMES, Ctx, GraphObject
from audit.emulator._gen_governance import (
    APPROVERS,
    TIER1,
    TIER2,
    VENDOR,
    build_governance,
)
from audit.emulator._gen_people import Analyst, People, build_people, local_analyst
from audit.emulator._gen_reviews import build_reviews
from audit.emulator._gen_variants import customer_variants, partner_variants
from audit.emulator._model import (
    NORMAL_ROLES,
    PARTNER_EXTRA_ROLES,
    CustomerInfo,
    Faults,
    TenantData,
)
from audit.emulator._profiles import Plan, Plant

GROUP_NAMES = {TIER1: "Tier 1 Analyst", TIER2: "Tier 2 Analyst", APPROVERS: "MSSP Analyst Approvers"}


def analyst_pool(rng: random.Random, *, size: int) -> list[Analyst]:
    """The MSSP's analysts, pseudonymous as the seed recommends: a-Josh1, a-Ava1, … a-Josh2, …"""
    pool = [
        (f"a-{first}{n // len(ANALYST_FIRST_NAMES) + 1}",
         f"a-{first.lower()}{n // len(ANALYST_FIRST_NAMES) + 1}")
        for n, first in ((n, ANALYST_FIRST_NAMES[n % len(ANALYST_FIRST_NAMES)]) for n in range(size))
    ]
    rng.shuffle(pool)
    return pool


def _group(ctx: Ctx, name: str, description: str, created: str, *, role_assignable: bool = False) -> GraphObject:
    nickname = "".join(ch for ch in name.lower() if ch.isalnum())
    return {
        "id": ctx.uuid(), "displayName": name, "description": description, "createdDateTime": created,
        "classification": None, "groupTypes": [], "isAssignableToRole": role_assignable, "mail": None,
        "mailEnabled": False, "mailNickname": nickname, "membershipRule": None,
        "membershipRuleProcessingState": None, "onPremisesSyncEnabled": None, "securityEnabled": True,
        "visibility": "Private" if role_assignable else None,
    }


def build_customer(
    ctx: Ctx, plan: Plan, *, tenant_id: str, mssp_tenant_id: str, corporate_tenant_id: str,
    analyst_pool: Sequence[Analyst],
) -> TenantData:
    onboard_days = ctx.between(400, 900)
    onboard = ctx.at(-onboard_days)
    people = build_people(ctx, plan, list(analyst_pool), onboard_days=onboard_days)
    mssp_groups = {key: _group(ctx, name, f"MSSP SOC analysts: {name} (Defender RBAC)", onboard)
                   for key, name in GROUP_NAMES.items()}
    admin_group = _group(ctx, "SOC Escalation Admins", "Role-assignable group for security admins",
                         ctx.at(-onboard_days - 30), role_assignable=True)
    staff_group = _group(ctx, "All Staff", "Every employee", ctx.at(-1500))
    partner_group = _group(ctx, "Partner Portal Users", "Partners with portal access", ctx.at(-500))
    gov = build_governance(ctx, plan, people, mssp_groups, mssp_tenant_id=mssp_tenant_id,
                           corporate_tenant_id=corporate_tenant_id, onboard_days=onboard_days)
    tenant = TenantData(
        tenant_id=tenant_id,
        display_name=plan.name,
        default_domain=plan.domain,
        service_principal_id=ctx.uuid(),
        users=people.all_users(),
    )
    tenant.groups = [*mssp_groups.values(), admin_group, staff_group, partner_group]
    if plan.has(Plant.DUPLICATE_GROUP):
        # A hand-made look-alike: empty, not bound to any package, same display name.
        tenant.groups.append(_group(ctx, mssp_groups[TIER1]["displayName"], "created by hand", onboard))
    members: dict[str, list[str]] = {}
    for key, group in mssp_groups.items():
        ids = [*gov.holders.get(key, []), *gov.group_only.get(key, [])]
        members[group["id"]] = list(dict.fromkeys(ids))   # EM adds a holder once, whatever the count
    members[admin_group["id"]] = [u["id"] for u in people.admins[1:]] or [people.admins[0]["id"]]
    members[staff_group["id"]] = [u["id"] for u in people.members]
    members[partner_group["id"]] = list(dict.fromkeys(gov.holders.get(VENDOR, [])))
    tenant.group_members = members

    tenant.connected_organizations = gov.connected_organizations
    tenant.catalogs = gov.catalogs
    tenant.access_packages = list(gov.packages.values())
    tenant.assignment_policies = list(gov.policies.values())
    tenant.assignments = gov.assignments
    tenant.assignment_requests = gov.requests
    tenant.entitlement_settings = gov.settings

    by_id = {u["id"]: u for u in tenant.users}
    reviewed = [(mssp_groups[key], [by_id[i] for i in members[mssp_groups[key]["id"]] if i in by_id])
                for key in (TIER1, TIER2, APPROVERS)]
    reviews = build_reviews(ctx, plan, groups=[pair for pair in reviewed if pair[1]],
                            reviewer_group=mssp_groups[APPROVERS], owner=people.admins[0])
    tenant.review_definitions = reviews.definitions
    tenant.review_instances = reviews.instances
    tenant.review_decisions = reviews.decisions

    tenant.authorization_policy = directory.authorization_policy(plan)
    tenant.cross_tenant_default, tenant.cross_tenant_partners, tenant.identity_sync = directory.cross_tenant(
        ctx, plan, mssp_tenant_id)
    tenant.subscribed_skus = directory.subscribed_skus(ctx, plan, tenant_id)
    global_admin_group = _global_admin_group(ctx, plan, people, tenant, onboard_days=onboard_days)
    tenant.role_assignments = directory.role_assignments(ctx, plan, people, tenant_id, admin_group=admin_group,
                                                         global_admin_group=global_admin_group)
    tenant.granted_roles = _granted_roles(plan)
    tenant.faults = Faults(token_error="AADSTS7000229" if plan.has(Plant.CONSENT_REVOKED) else None)
    if plan.has(Plant.LOCAL_ANALYST):
        # Drawn last, so that nothing else generated for this tenant moves; added by hand after the
        # reviews were built, so no review has seen it yet.
        local = local_analyst(ctx, plan, analyst_pool[-1])
        tenant.users.append(local)
        tenant.group_members[mssp_groups[TIER1]["id"]].append(local["id"])
    if plan.has(Plant.DOCUMENTED_VARIANTS):
        customer_variants(ctx, tenant)
    return tenant


def _global_admin_group(ctx: Ctx, plan: Plan, people: People, tenant: TenantData, *,
                        onboard_days: float) -> GraphObject | None:
    """A role-assignable group holding Global Administrator: an employee and a vendor guest."""
    if not plan.has(Plant.ADMIN_GROUP_GUEST) or not people.vendors or len(people.members) <= len(people.admins) + 1:
        return None
    group = _group(ctx, "Cloud Platform Admins", "Role-assignable group, members activated through PIM for Groups",
                   ctx.at(-onboard_days + 100), role_assignable=True)
    tenant.groups.append(group)
    tenant.group_members[group["id"]] = [people.members[len(people.admins) + 1]["id"], people.vendors[0]["id"]]
    return group


def _granted_roles(plan: Plan) -> list[str]:
    roles = list(NORMAL_ROLES)
    if plan.has(Plant.NO_AUDITLOG):
        roles.remove("AuditLog.Read.All")
    if plan.has(Plant.WRITE_PERMISSION):
        roles.append("User.ReadWrite.All")
    return roles


def _etag(ctx: Ctx) -> str:
    inner = f"'\"{ctx.uuid()}\"'".encode()
    return 'W/"' + base64.b64encode(inner).decode("ascii") + '"'


def build_partner(ctx: Ctx, *, tenant_id: str, customers: Sequence[tuple[CustomerInfo, Plan]]) -> TenantData:
    """The MSSP's partner tenant: where GDAP relationships to every customer are read (§8)."""
    plan = Plan(index=-1, key="partner", name="Proseware Managed Security", domain="prosewaremssp.onmicrosoft.com",
                members=6, analysts=0, growth=0, vendors=0, reviews=0, admins=2, licence="e5", plants=())
    people: People = build_people(ctx, plan, [], onboard_days=1200)
    tenant = TenantData(tenant_id=tenant_id, display_name=plan.name, default_domain=plan.domain,
                        service_principal_id=ctx.uuid(), users=people.all_users(),
                        granted_roles=[*NORMAL_ROLES, *PARTNER_EXTRA_ROLES])
    containers = [_group(ctx, f"GDAP - {name}", "GDAP access container", ctx.at(-1000))
                  for name in ("SOC Tier 1", "SOC Tier 2", "Admin Agents")]
    tenant.groups = containers
    tenant.group_members = {g["id"]: [u["id"] for u in people.members[:3]] for g in containers}
    tenant.authorization_policy = directory.authorization_policy(plan)
    tenant.cross_tenant_default, _, _ = directory.cross_tenant(ctx, plan, tenant_id)
    tenant.subscribed_skus = directory.subscribed_skus(ctx, plan, tenant_id)
    tenant.role_assignments = directory.role_assignments(ctx, plan, people, tenant_id, admin_group=containers[2])
    for info, customer in customers:
        if customer.has(Plant.NO_GDAP):
            continue
        if customer.index % 3 == 1:
            _relationship(ctx, tenant, info, customer, containers, historic=True)
        _relationship(ctx, tenant, info, customer, containers, historic=False)
    return tenant


def _relationship(ctx: Ctx, tenant: TenantData, info: CustomerInfo, plan: Plan, containers: list[GraphObject],
                  *, historic: bool) -> None:
    roles = [{"roleDefinitionId": directory.SECURITY_READER}, {"roleDefinitionId": directory.SECURITY_ADMIN}]
    if plan.has(Plant.GDAP_GLOBAL_ADMIN) and not historic:
        roles.append({"roleDefinitionId": directory.GLOBAL_ADMIN})
    expiring = plan.has(Plant.GDAP_EXPIRING) and not historic
    activated = 1200.0 if historic else (710.0 if expiring else ctx.between(30, 500))
    status = "terminated" if historic else "active"
    relationship: GraphObject = {
        "@odata.type": "#microsoft.graph.delegatedAdminRelationship",
        "@odata.etag": _etag(ctx),
        "id": f"{ctx.uuid()}-{ctx.uuid()}",
        "displayName": f"SOC-{plan.key}{plan.index}" + ("-2022" if historic else ""),
        "duration": "P730D",
        "status": status,
        "autoExtendDuration": "PT0S" if (expiring or historic) else "P180D",
        "createdDateTime": ctx.at(-activated - 3),
        "activatedDateTime": ctx.at(-activated),
        "lastModifiedDateTime": ctx.at(-activated + (900 if historic else 0)),
        "endDateTime": ctx.at(-activated + (900 if historic else 730)),
        "customer": {"tenantId": info.tenant_id, "displayName": info.name},
        "accessDetails": {"unifiedRoles": roles},
    }
    tenant.delegated_admin_relationships.append(relationship)
    assignments: list[GraphObject] = []
    if not historic and not plan.has(Plant.GDAP_NO_ACCESS):
        container = containers[plan.index % 2]
        assignments.append({
            "@odata.etag": _etag(ctx),
            "id": ctx.uuid(),
            "status": "active",
            "createdDateTime": ctx.at(-activated + 1),
            "lastModifiedDateTime": ctx.at(-activated + 1),
            "accessContainer": {"accessContainerId": container["id"], "accessContainerType": "securityGroup"},
            "accessDetails": {"unifiedRoles": roles},
        })
    tenant.access_assignments[relationship["id"]] = assignments
    if plan.has(Plant.DOCUMENTED_VARIANTS) and not historic:
        partner_variants(tenant, relationship, relationship["customer"])
