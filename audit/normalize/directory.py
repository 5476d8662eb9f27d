"""Directory roles, licences, groups (graph-api.md §6, §7, §9) and GDAP (§8)."""

from __future__ import annotations

import polars as pl

from audit.normalize._common import UTC_TIME, GraphObject, Items, graph_items
from audit.normalize.licences import P1_PLAN, P2_PLAN
from audit.normalize.users import KIND, member_kind
from audit.normalize.vocabulary import Vocabulary, declare

_GRANTS = "grants its roles (GDAP-002 examines it)"
GDAP_STATUS = Vocabulary(
    "gdap_relationships", "status",
    ("activating", "active", "approvalPending", "approved", "created", "expired", "expiring", "terminated",
     "terminating", "terminationRequested", "unknownFutureValue"),
    {"active": "the route into the customer: GDAP-001, GDAP-003 and GDAP-004 examine it; " + _GRANTS,
     "approved": "approved by the customer, about to be provisioned: " + _GRANTS,
     "activating": "being provisioned: " + _GRANTS,
     "expiring": "past its end date, not yet deprovisioned: " + _GRANTS,
     "terminationRequested": "termination asked for, not yet deprovisioned: " + _GRANTS,
     "created": "a draft the customer has not approved: grants nothing",
     "approvalPending": "awaiting the customer's approval: grants nothing",
     "terminating": "being deprovisioned: no route", "terminated": "no route", "expired": "no route"},
    "delegatedadminrelationship", read_by=("GDAP-001", "GDAP-002", "GDAP-003", "GDAP-004"))
GDAP_ACCESS_STATUS = Vocabulary(
    "gdap_access_assignments", "status", ("pending", "active", "deleting", "deleted", "error", "unknownFutureValue"),
    {"active": "gives the security group its roles: GDAP-003 and GDAP-004 count it",
     **{v: "gives no access (GDAP-003, GDAP-004)" for v in ("pending", "deleting", "deleted", "error")}},
    "delegatedadminaccessassignment", read_by=("GDAP-003", "GDAP-004"))
declare(GDAP_STATUS, GDAP_ACCESS_STATUS)

STRINGS = pl.List(pl.String)

ROLE_ASSIGNMENTS = {"id": pl.String, "role_definition_id": pl.String, "principal_id": pl.String,
                    "principal_type": pl.String, "principal_name": pl.String, "principal_upn": pl.String,
                    "principal_user_type": pl.String, "principal_creation_type": pl.String,
                    "principal_external_state": pl.String, "scope": pl.String,
                    "principal_external": pl.Boolean, "principal_kind": pl.String}
# The provisioningStatus of the two Entra ID plans on each SKU; audit.normalize.licences decides what they mean.
SKUS = {"sku_id": pl.String, "sku_part_number": pl.String, "capability_status": pl.String,
        "enabled_units": pl.Int64, "suspended_units": pl.Int64, "warning_units": pl.Int64,
        "locked_out_units": pl.Int64, "consumed_units": pl.Int64,
        "p1_plan_status": pl.String, "p2_plan_status": pl.String}
GROUPS = {"id": pl.String, "display_name": pl.String}
GROUP_MEMBERS = {"group_id": pl.String, "member_id": pl.String, "member_type": pl.String,
                 "display_name": pl.String, "upn": pl.String, "mail": pl.String, "user_type": pl.String,
                 "creation_type": pl.String, "external_user_state": pl.String, "account_enabled": pl.Boolean,
                 **KIND}
GDAP = {"id": pl.String, "display_name": pl.String, "status": pl.String, "customer_tenant_id": pl.String,
        "customer_name": pl.String, "end": UTC_TIME, "auto_extend_days": pl.Float64, "role_ids": STRINGS}
GDAP_ASSIGNMENTS = {"id": pl.String, "relationship_id": pl.String, "status": pl.String,
                    "container_id": pl.String, "role_ids": STRINGS}


def role_assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, _ in graph_items(items, "role assignment"):
        principal = assignment.child("principal")
        kind = member_kind(principal)
        rows.append({
            "id": assignment.id, "role_definition_id": assignment.text("roleDefinitionId"),
            "principal_id": assignment.text("principalId"), "principal_type": principal.kind() or None,
            "principal_name": principal.text("displayName"), "principal_upn": principal.text("userPrincipalName"),
            "principal_user_type": principal.text("userType"),
            "principal_creation_type": principal.text("creationType"),
            "principal_external_state": principal.text("externalUserState"),
            "scope": assignment.text("directoryScopeId"),
            "principal_external": kind["external"], "principal_kind": kind["kind"],
        })
    return pl.DataFrame(rows, schema=ROLE_ASSIGNMENTS)


def subscribed_skus(items: Items) -> pl.DataFrame:
    rows = []
    for sku, _ in graph_items(items, "subscribed SKU"):
        # A plan listed without its provisioningStatus (nullable) is "" — on the SKU, status not given.
        plans = {(p.text("servicePlanId") or "").lower(): p.text("provisioningStatus") or ""
                 for p in sku.children("servicePlans")}
        units = sku.child("prepaidUnits")
        rows.append({
            "sku_id": sku.text("skuId"), "sku_part_number": sku.text("skuPartNumber"),
            "capability_status": sku.text("capabilityStatus"),
            "enabled_units": units.number("enabled"), "suspended_units": units.number("suspended"),
            "warning_units": units.number("warning"), "locked_out_units": units.number("lockedOut"),
            "consumed_units": sku.number("consumedUnits"),
            "p1_plan_status": plans.get(P1_PLAN), "p2_plan_status": plans.get(P2_PLAN),
        })
    return pl.DataFrame(rows, schema=SKUS)


def groups(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": g.id, "display_name": g.text("displayName")} for g, _ in graph_items(items, "group")],
                        schema=GROUPS)


def group_members(items: Items) -> pl.DataFrame:
    """The transitive members of the MSSP groups, or of the groups holding a watched directory role;
    creationType and externalUserState tell an external account from a local one (graph-api.md §1)."""
    return pl.DataFrame([{"group_id": parent, "member_id": m.id, "member_type": m.kind() or None,
                          "display_name": m.text("displayName"), "upn": m.text("userPrincipalName"),
                          "mail": m.text("mail"), "user_type": m.text("userType"),
                          "creation_type": m.text("creationType"), "external_user_state": m.text("externalUserState"),
                          "account_enabled": m.flag("accountEnabled"), **member_kind(m)}
                         for m, parent in graph_items(items, "group member")], schema=GROUP_MEMBERS)


role_group_members = group_members


def _role_ids(access: GraphObject) -> list[str]:
    return [role for r in access.child("accessDetails").children("unifiedRoles") if (role := r.text("roleDefinitionId"))]


def gdap_relationships(items: Items) -> pl.DataFrame:
    rows = []
    for rel, _ in graph_items(items, "GDAP relationship"):
        customer = rel.child("customer")
        rows.append({
            "id": rel.id, "display_name": rel.text("displayName"), "status": rel.text("status"),
            # The partner lists every customer's relationships: one whose customer is unknown could be
            # anyone's, so it makes the list unreadable rather than silently no one's.
            "customer_tenant_id": (customer.text("tenantId", required=True) or "").lower(),
            "customer_name": customer.text("displayName"), "end": rel.when("endDateTime"),
            "auto_extend_days": rel.days("autoExtendDuration"),
            "role_ids": _role_ids(rel),
        })
    return pl.DataFrame(rows, schema=GDAP)


def gdap_access_assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, parent in graph_items(items, "GDAP access assignment"):
        rows.append({
            "id": assignment.id, "relationship_id": parent, "status": assignment.text("status"),
            "container_id": assignment.child("accessContainer").text("accessContainerId"),
            "role_ids": _role_ids(assignment),
        })
    return pl.DataFrame(rows, schema=GDAP_ASSIGNMENTS)
