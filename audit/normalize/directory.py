"""Directory roles, licences, groups (graph-api.md §6, §7, §9) and GDAP (§8)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from audit.normalize._common import UTC_TIME, duration_days, odata_type, parse_time

Items = Iterable[tuple[dict[str, Any], str | None]]
STRINGS = pl.List(pl.String)

# graph-api.md §7: detect P2 by service plan, not SKU name; only on a usable SKU.
P2_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
P1_PLAN = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
USABLE_SKU = frozenset({"Enabled", "Warning"})

ROLE_ASSIGNMENTS = {"id": pl.String, "role_definition_id": pl.String, "principal_id": pl.String,
                    "principal_type": pl.String, "principal_name": pl.String, "principal_upn": pl.String,
                    "principal_user_type": pl.String, "scope": pl.String}
SKUS = {"sku_id": pl.String, "sku_part_number": pl.String, "capability_status": pl.String,
        "enabled_units": pl.Int64, "consumed_units": pl.Int64, "has_p2": pl.Boolean, "has_p1": pl.Boolean}
GROUPS = {"id": pl.String, "display_name": pl.String}
GROUP_MEMBERS = {"group_id": pl.String, "member_id": pl.String, "member_type": pl.String,
                 "display_name": pl.String, "upn": pl.String, "user_type": pl.String}
GDAP = {"id": pl.String, "display_name": pl.String, "status": pl.String, "customer_tenant_id": pl.String,
        "customer_name": pl.String, "end": UTC_TIME, "auto_extend_days": pl.Float64, "role_ids": STRINGS}
GDAP_ASSIGNMENTS = {"id": pl.String, "relationship_id": pl.String, "status": pl.String,
                    "container_id": pl.String, "role_ids": STRINGS}


def role_assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, _ in items:
        principal = assignment.get("principal") or {}
        rows.append({
            "id": assignment.get("id"), "role_definition_id": assignment.get("roleDefinitionId"),
            "principal_id": assignment.get("principalId"), "principal_type": odata_type(principal) or None,
            "principal_name": principal.get("displayName"), "principal_upn": principal.get("userPrincipalName"),
            "principal_user_type": principal.get("userType"), "scope": assignment.get("directoryScopeId"),
        })
    return pl.DataFrame(rows, schema=ROLE_ASSIGNMENTS)


def subscribed_skus(items: Items) -> pl.DataFrame:
    rows = []
    for sku, _ in items:
        usable = sku.get("capabilityStatus") in USABLE_SKU
        plans = {(p.get("servicePlanId") or "").lower(): p.get("provisioningStatus")
                 for p in sku.get("servicePlans") or []}
        rows.append({
            "sku_id": sku.get("skuId"), "sku_part_number": sku.get("skuPartNumber"),
            "capability_status": sku.get("capabilityStatus"),
            "enabled_units": (sku.get("prepaidUnits") or {}).get("enabled"),
            "consumed_units": sku.get("consumedUnits"),
            "has_p2": usable and plans.get(P2_PLAN) == "Success",
            "has_p1": usable and plans.get(P1_PLAN) == "Success",
        })
    return pl.DataFrame(rows, schema=SKUS)


def groups(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": g.get("id"), "display_name": g.get("displayName")} for g, _ in items], schema=GROUPS)


def group_members(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"group_id": parent, "member_id": m.get("id"), "member_type": odata_type(m) or None,
                          "display_name": m.get("displayName"), "upn": m.get("userPrincipalName"),
                          "user_type": m.get("userType")} for m, parent in items], schema=GROUP_MEMBERS)


def gdap_relationships(items: Items) -> pl.DataFrame:
    rows = []
    for rel, _ in items:
        customer = rel.get("customer") or {}
        roles = ((rel.get("accessDetails") or {}).get("unifiedRoles")) or []
        rows.append({
            "id": rel.get("id"), "display_name": rel.get("displayName"), "status": rel.get("status"),
            "customer_tenant_id": str(customer.get("tenantId") or "").lower() or None,
            "customer_name": customer.get("displayName"), "end": parse_time(rel.get("endDateTime")),
            "auto_extend_days": duration_days(rel.get("autoExtendDuration")),
            "role_ids": [r.get("roleDefinitionId") for r in roles if r.get("roleDefinitionId")],
        })
    return pl.DataFrame(rows, schema=GDAP)


def gdap_access_assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, parent in items:
        roles = ((assignment.get("accessDetails") or {}).get("unifiedRoles")) or []
        rows.append({
            "id": assignment.get("id"), "relationship_id": parent, "status": assignment.get("status"),
            "container_id": (assignment.get("accessContainer") or {}).get("accessContainerId"),
            "role_ids": [r.get("roleDefinitionId") for r in roles if r.get("roleDefinitionId")],
        })
    return pl.DataFrame(rows, schema=GDAP_ASSIGNMENTS)
