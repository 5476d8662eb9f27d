"""Multi-tenant access through GDAP (seed XDR: "Multi-tenant access"; graph-api.md §8)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._common import GLOBAL_ADMIN, day, mssp_package_names
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, NotUnderstood, Population, ResourceStatus, Severity, Status
from audit.normalize import TenantData
from audit.normalize.directory import GDAP_ACCESS_STATUS, GDAP_STATUS
from audit.normalize.governance import HOLDS_ACCESS

AREA = "Multi-tenant access (GDAP)"


def _rows(frame: pl.DataFrame) -> list[dict[str, object]]:
    return [{"relationship": r["display_name"], "status": r["status"], "ends": day(r["end"]) or "not given",
             "auto-extend days": r["auto_extend_days"], "roles": len(r["role_ids"])}
            for r in frame.iter_rows(named=True)]


ACTIVE = "active GDAP relationships"
# GDAP_STATUS: a relationship grants its roles from approval until the system deprovisions it.
GRANTING = ("active", "activating", "approved", "expiring", "terminationRequested")


def _unread(data: TenantData) -> list[NotUnderstood | None]:
    """This customer's relationships whose status we cannot read: they may be granting, or a route."""
    return [GDAP_STATUS.judge(r["status"], f"GDAP relationship {r['display_name'] or r['id']}")
            for r in data.table("gdap_relationships").iter_rows(named=True)]


def _unread_access(data: TenantData, relationships: list[str]) -> list[NotUnderstood | None]:
    access = data.table("gdap_access_assignments").filter(pl.col("relationship_id").is_in(relationships))
    return [GDAP_ACCESS_STATUS.judge(r["status"], f"access assignment {r['id']} of relationship {r['relationship_id']}")
            for r in access.iter_rows(named=True)]
NO_ACTIVE = "no active GDAP relationship with this customer"


@check(CheckSpec(
    id="GDAP-001", version=1, title="GDAP relationships do not lapse unnoticed", area=AREA, severity=Severity.MEDIUM,
    requirement="No active GDAP relationship ends within the warning window (30 days) without auto-extend.",
    rationale="When the relationship ends the SOC loses its multi-tenant view of this customer in Defender XDR.",
    remediation="Extend the relationship in Partner Center, or set auto-extend (P180D).",
    references=(ref.XDR_MULTI_TENANT.section("Prerequisites — Multi-tenant access"),
                ref.GDAP_RELATIONSHIP.at("endDateTime, autoExtendDuration")),
    resources=("gdap_relationships",),
))
def gdap_expiring(data: TenantData, ctx: Context) -> Outcome:
    days = ctx.config.thresholds.gdap_warning_days
    window = ctx.now + timedelta(days=days)
    active = data.table("gdap_relationships").filter(pl.col("status") == "active")
    unread = _unread(data)
    if not active.height:        # GDAP-003 fails when the customer has no route at all
        return Outcome.not_applicable(NO_ACTIVE, population=Population(ACTIVE, 0), not_understood=unread)
    lapsing = active.filter(pl.col("end").is_not_null() & (pl.col("end") <= window)
                            & (pl.col("auto_extend_days").fill_null(0) == 0))
    population = Population(ACTIVE, active.height, active.height - lapsing.height,
                            f"auto-extend or run beyond {days} days")
    if lapsing.height:
        return Outcome.of(Status.WARN, f"{lapsing.height} GDAP relationship(s) end soon without auto-extend.",
                          _rows(lapsing), population, unread)
    return Outcome.of(Status.PASS, f"No active GDAP relationship lapses within {days} days.", _rows(active),
                      population, unread)


@check(CheckSpec(
    id="GDAP-002", version=1, title="No Global Administrator through GDAP", area=AREA, severity=Severity.HIGH,
    requirement="No GDAP relationship with this customer grants the Global Administrator role.",
    rationale="GDAP exists to grant least privilege; Global Administrator through a partner relationship is the "
              "standing access it was built to replace.",
    remediation="Create a new relationship with only the roles the SOC needs (e.g. Security Reader/Operator) and "
                "terminate this one.",
    references=(ref.XDR_MULTI_TENANT.section("Prerequisites — Multi-tenant access"),
                ref.GDAP_RELATIONSHIP.at("accessDetails.unifiedRoles"),
                ref.GDAP_OVERVIEW.at()),
    resources=("gdap_relationships",),
))
def gdap_global_admin(data: TenantData, ctx: Context) -> Outcome:
    rels = data.table("gdap_relationships").filter(pl.col("status").is_in(GRANTING))
    unread = _unread(data)
    if not rels.height:
        return Outcome.not_applicable("no GDAP relationship with this customer grants roles (none is approved, "
                                      "activating, active, expiring or awaiting termination)",
                                      population=Population(CURRENT, 0), not_understood=unread)
    with_ga = rels.filter(pl.col("role_ids").list.contains(GLOBAL_ADMIN))
    population = Population(CURRENT, rels.height, rels.height - with_ga.height, "grant no Global Administrator")
    if with_ga.height:
        return Outcome.of(Status.FAIL, f"{with_ga.height} GDAP relationship(s) grant Global Administrator.",
                          _rows(with_ga), population, unread)
    return Outcome.of(Status.PASS, "No GDAP relationship grants Global Administrator.", _rows(rels), population,
                      unread)


CURRENT = "GDAP relationships granting roles (approved, activating, active, expiring, termination requested)"


def _active_with_access(data: TenantData) -> tuple[pl.DataFrame, set[str]]:
    active = data.table("gdap_relationships").filter(pl.col("status") == "active")
    assigned = set(data.table("gdap_access_assignments").filter(pl.col("status") == "active")["relationship_id"])
    return active, assigned


@check(CheckSpec(
    id="GDAP-003", version=1, title="The SOC can reach this customer", area=AREA, severity=Severity.HIGH,
    requirement="The customer is reachable for multi-tenant management through an active GDAP relationship with "
                "an active access assignment, or through governed B2B access (delivered MSSP package "
                "assignments).",
    rationale="Multi-tenant management in Defender XDR needs GDAP or B2B access to every tenant; a customer "
              "with neither is one the SOC cannot watch — or watches through access nobody governs.",
    remediation="Set up a GDAP relationship with an access assignment in Partner Center, or the seed's access "
                "packages for the analysts.",
    references=(ref.XDR_MULTI_TENANT.section("Prerequisites — Multi-tenant access"),
                ref.GDAP_ACCESS_ASSIGNMENT.at("status")),
    resources=("gdap_relationships", "gdap_access_assignments", "assignments"),
), unlicensed_is_absent=("assignments",), optional=("assignments",))
def customer_reachable(data: TenantData, ctx: Context) -> Outcome:
    """GDAP is read in the partner tenant, so a customer whose own tenant was not reached is still
    judged on it: reachable through GDAP is a PASS; otherwise the framework makes the FAIL an ERROR,
    since the customer's assignments (the B2B route) could not be read."""
    active, assigned = _active_with_access(data)
    usable = active.filter(pl.col("id").is_in(list(assigned)))
    # Without P2 there is no entitlement management (by the SKUs, or Graph answered NOT_LICENSED):
    # no package, so no governed B2B. The table is absent then, and when it could not be read.
    assignments = data.tables.get("assignments")
    record = data.record("assignments")
    delivered = 0 if assignments is None else assignments.filter(
        pl.col("state").is_in(HOLDS_ACCESS) & pl.col("package_name").is_in(mssp_package_names(ctx.config))).height
    b2b = ("collected" if assignments is not None else "entitlement management not licensed"
           if record.status in (ResourceStatus.OK, ResourceStatus.NOT_LICENSED) else
           f"could not be read ({record.status.value}: {record.reason})")
    evidence = [*({"route": "GDAP", "detail": r["display_name"], "status": r["status"],
                   "ends": day(r["end"]) or "not given"} for r in usable.iter_rows(named=True)),
                {"route": "governed B2B", "detail": f"{delivered} delivered MSSP assignment(s)", "status": b2b,
                 "ends": None}]
    population = Population("routes to the customer (GDAP with an active access assignment, governed B2B)", 2,
                            int(bool(usable.height)) + int(bool(delivered)), "are in place")
    if usable.height or delivered:
        routes = [name for name, ok in (("GDAP", usable.height), ("governed B2B", delivered)) if ok]
        return Outcome.of(Status.PASS, f"Reachable through {' and '.join(routes)}.", evidence, population)
    # A relationship or access assignment whose status we cannot read might be the route.
    unread = [*_unread(data), *_unread_access(data, active["id"].to_list())]
    if any(unread):
        return Outcome.of(Status.WARN, "Whether a route reaches this customer cannot be told.", evidence, population,
                          unread)
    return Outcome.of(Status.FAIL, "Neither an active GDAP relationship with access nor governed B2B access reaches "
                                   "this customer.", evidence, population)


@check(CheckSpec(
    id="GDAP-004", version=1, title="Active GDAP relationships are assigned to a group", area=AREA,
    severity=Severity.MEDIUM,
    requirement="Every active GDAP relationship with this customer has at least one active access assignment.",
    rationale="An active relationship without an access assignment grants its roles to nobody today, yet anyone "
              "able to add an assignment in the partner tenant can switch them on without the customer.",
    remediation="Add the access assignment (security group and least-privilege roles) or terminate the "
                "relationship.",
    references=(ref.XDR_MULTI_TENANT.section("Prerequisites — Multi-tenant access"),
                ref.GDAP_ACCESS_ASSIGNMENT.at("status, accessContainer")),
    resources=("gdap_relationships", "gdap_access_assignments"),
))
def gdap_without_access(data: TenantData, ctx: Context) -> Outcome:
    active, assigned = _active_with_access(data)
    if not active.height:        # GDAP-003 fails when the customer has no route at all
        return Outcome.not_applicable(NO_ACTIVE, population=Population(ACTIVE, 0), not_understood=_unread(data))
    idle = active.filter(~pl.col("id").is_in(list(assigned)))
    # an idle relationship whose access assignments we cannot read may have an active one
    unread = [n for n in _unread_access(data, idle["id"].to_list()) if n]
    unsure = {n.subject.rpartition(" ")[2] for n in unread}
    idle = idle.filter(~pl.col("id").is_in(list(unsure)))
    population = Population(ACTIVE, active.height, active.height - idle.height - len(unsure),
                            "have an active access assignment")
    if idle.height:
        return Outcome.of(Status.FAIL, f"{idle.height} active GDAP relationship(s) have no active access "
                                       "assignment.", _rows(idle), population, [*unread, *_unread(data)])
    return Outcome.of(Status.PASS, f"Every active GDAP relationship ({active.height}) has an access assignment.",
                      _rows(active), population, [*unread, *_unread(data)])


CHECKS = (gdap_expiring, gdap_global_admin, customer_reachable, gdap_without_access)
