"""Entitlement management: the MSSP packages' assignments and requests as they stand (seed: "Configure
Governance Access Packages"; graph-api.md §2 assignments, assignmentRequests)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._common import (day, group_ids, mssp_assignments, mssp_group_ids, mssp_package_names,
                                  outlives_policy, package_groups)
from audit.checks._framework import Context, Outcome, check
from audit.expiry import days_left, ends_within
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.governance import ASSIGNMENT_STATE, HOLDS_ACCESS, REQUEST_STATE

AREA = "Entitlement management"
NO_DELIVERED = "no MSSP package assignment is delivered"
HELD = HOLDS_ACCESS


def _delivered_mssp(data: TenantData, ctx: Context) -> pl.DataFrame:
    """The MSSP package assignments that hold access (HELD states)."""
    return mssp_assignments(data, ctx.config).filter(pl.col("state").is_in(HELD))


def _unread_states(data: TenantData, packages: tuple[str, ...]) -> list[NotUnderstood | None]:
    """Assignments of these packages whose state we cannot read (they may hold access or not), and
    assignments holding access whose package Graph did not name (accessPackage is nullable): either
    may be an MSSP assignment."""
    assignments = data.table("assignments")
    frame = assignments.filter(pl.col("package_name").is_in(packages))
    nameless = assignments.filter(pl.col("package_name").is_null() & pl.col("state").is_in(HELD))
    return [*(ASSIGNMENT_STATE.judge(r["state"], f"assignment {r['id']} ({r['target_name'] or r['target_id']})")
              for r in frame.iter_rows(named=True)),
            *(NotUnderstood("assignments", "accessPackage.displayName", "no value", f"assignment {r['id']}", True,
                            "whose package it is cannot be told") for r in nameless.iter_rows(named=True))]


def _assignment_rows(frame: pl.DataFrame, ctx: Context) -> list[dict[str, object]]:
    return [{"analyst": r["target_name"], "account": r["target_upn"] or r["target_email"],
             "package": r["package_name"], "ends": day(r["end"]) or "no end date",
             "days left": days_left(r["end"], ctx.now)} for r in frame.iter_rows(named=True)]



@check(CheckSpec(
    id="EM-006", version=1, title="Assignments expiring soon", area=AREA, severity=Severity.MEDIUM,
    requirement="No delivered MSSP assignment ends within the warning window (30 days by default) without the "
                "analyst being told to request an extension.",
    rationale="An analyst whose access lapses unnoticed cannot respond to an incident in that customer.",
    remediation="Ask each listed analyst to request an extension in My Access, or let the access end on purpose.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1,
                                        "Has annual access reviews, where the SOC analysts can request an access "
                                        "extension"),
                ref.ACCESS_PACKAGE_ASSIGNMENT.at("schedule")),
    resources=("assignments",),
))
def expiring_assignments(data: TenantData, ctx: Context) -> Outcome:
    # audit.expiry: the same days left and buckets as the PDF's expiry chart and the Expiry sheets.
    days = ctx.config.thresholds.expiry_warning_days
    delivered = _delivered_mssp(data, ctx)
    unread = _unread_states(data, mssp_package_names(ctx.config))
    if not delivered.height:
        return Outcome.not_applicable(NO_DELIVERED, population=Population("delivered MSSP assignments", 0),
                                      not_understood=unread)
    soon = delivered.filter(pl.Series([ends_within(end, ctx.now, days) for end in delivered["end"]],
                                      dtype=pl.Boolean)).sort("end")
    population = Population("delivered MSSP assignments", delivered.height, delivered.height - soon.height,
                            f"do not end within {days} days")
    if soon.height:
        return Outcome.of(Status.WARN, f"{soon.height} assignment(s) end within {days} days.",
                          _assignment_rows(soon, ctx), population, unread)
    return Outcome.of(Status.PASS, f"No MSSP assignment ends within the {days}-day warning window.",
                      population=population, not_understood=unread)


@check(CheckSpec(
    id="EM-007", version=1, title="Delivered assignments stay within policy", area=AREA, severity=Severity.HIGH,
    requirement="Every delivered MSSP assignment has an end date no later than the configured maximum "
                "(365 days) from now.",
    rationale="An assignment without an end, or far beyond a year, escapes the annual cycle even when the "
              "policy is now correct (it was granted under an older, laxer policy).",
    remediation="Remove the listed assignments and let the analysts request again under the current policy.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Access auto expires after 365 days"),
                ref.ACCESS_PACKAGE_ASSIGNMENT.at("state, schedule")),
    resources=("assignments",),
))
def assignments_within_policy(data: TenantData, ctx: Context) -> Outcome:
    days = ctx.config.thresholds.max_assignment_days
    delivered = _delivered_mssp(data, ctx)
    unread = _unread_states(data, mssp_package_names(ctx.config))
    if not delivered.height:
        return Outcome.not_applicable(NO_DELIVERED, population=Population("delivered MSSP assignments", 0),
                                      not_understood=unread)
    outside = delivered.filter(outlives_policy(ctx.now, ctx.config))
    population = Population("delivered MSSP assignments", delivered.height, delivered.height - outside.height,
                            f"end within {days} days")
    if outside.height:
        return Outcome.of(Status.FAIL, f"{outside.height} delivered assignment(s) have no end date or end more "
                                       f"than {days} days from now.", _assignment_rows(outside, ctx), population,
                          unread)
    return Outcome.of(Status.PASS, "Every delivered MSSP assignment ends within policy.", population=population,
                      not_understood=unread)


@check(CheckSpec(
    id="EM-008", version=1, title="Access requests do not wait for approval too long", area=AREA,
    severity=Severity.LOW,
    requirement="No access request has been pending approval for longer than the configured age (14 days).",
    rationale="A stale approval queue means approvers are not doing their part, and analysts work around it.",
    remediation="Ask the MSSP Analyst Approvers to approve or deny the listed requests.",
    references=(ref.MSSP_ACCESS.section("Manage Access",
                                        "Access requests are managed in the customer My Access, by members of the "
                                        "MSSP Analyst Approvers group."),),
    resources=("assignment_requests",),
))
def pending_requests(data: TenantData, ctx: Context) -> Outcome:
    age = ctx.config.thresholds.pending_request_days
    requests = data.table("assignment_requests")
    unread = [REQUEST_STATE.judge(r["state"], f"request {r['id']}") for r in requests.iter_rows(named=True)]
    pending = requests.filter(pl.col("state") == "pendingApproval")
    if not pending.height:
        return Outcome.not_applicable("no access request is pending approval",
                                      population=Population("pending access requests", 0), not_understood=unread)
    # A request without a creation time cannot be shown to be recent: it counts as waiting too long.
    old = pending.filter(pl.col("created").is_null() | (pl.col("created") < ctx.now - timedelta(days=age))
                         ).sort("created", nulls_last=False)
    rows = [{"requestor": r["requestor_name"], "email": r["requestor_email"], "package": r["package_name"],
             "requested": day(r["created"]) or "not given",
             "days waiting": (ctx.now - r["created"]).days if r["created"] else None}
            for r in old.iter_rows(named=True)]
    population = Population("pending access requests", pending.height, pending.height - len(rows),
                            f"have waited {age} days or less")
    if rows:
        return Outcome.of(Status.WARN, f"{len(rows)} request(s) pending for more than {age} days.", rows,
                          population, unread)
    return Outcome.of(Status.PASS, f"No request has waited more than {age} days.", population=population,
                      not_understood=unread)


@check(CheckSpec(
    id="EM-011", version=1, title="Every MSSP group member holds the matching access package", area=AREA,
    severity=Severity.HIGH,
    requirement="Every member of the Tier 1, Tier 2 and MSSP Analyst Approvers groups holds a delivered "
                "assignment of the matching access package.",
    rationale="The Defender roles are bound to these groups: anyone added to a group by hand has analyst access "
              "that no approval granted, no expiry ends and no review sees — a back door around governance.",
    remediation="Remove the listed members from the group; if they need access, they request the package.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_RBAC,
                                        "These groups will be linked to the Roles you create in Microsoft Defender "
                                        "ATP."),
                ref.MSSP_ACCESS.section(f"{ref.MSSP_PACKAGES} — Create access packages for MSSP resources",
                                        "Access packages are the collection of rights and accesses that a requester "
                                        "will be granted upon approval.")),
    resources=("groups", "group_members", "assignments"),
))
def group_back_door(data: TenantData, ctx: Context) -> Outcome:
    delivered = data.table("assignments").filter(pl.col("state").is_in(HELD))
    members = data.table("group_members")
    evidence, back_door, unknown = [], [], []
    examined = 0
    # assignments holding access whose package Graph did not name: whose they are cannot be told
    unknown.extend(n for n in _unread_states(data, ()) if n)
    for group, package in package_groups(ctx.config):
        holders = set(delivered.filter(pl.col("package_name") == package)["target_id"].to_list())
        # a member whose assignment is in a state we cannot read may hold the package or not
        unread = {r["target_id"]: ASSIGNMENT_STATE.judge(r["state"], f"assignment {r['id']}") for r in
                  data.table("assignments").filter(pl.col("package_name") == package).iter_rows(named=True)
                  if not ASSIGNMENT_STATE.understands(r["state"])}
        # transitiveMembers lists nested groups beside their (already flattened) members.
        mine = members.filter(pl.col("group_id").is_in(group_ids(data, group))
                              & (pl.col("member_type").fill_null("user") != "group"))
        examined += mine.height
        for r in mine.iter_rows(named=True):
            if r["member_id"] not in holders and r["member_id"] in unread:
                unknown.append(unread[r["member_id"]])
            elif r["member_id"] not in holders:
                back_door.append({"group": group, "member": r["display_name"], "account": r["upn"],
                                  "type": r["member_type"], "user type": r["user_type"],
                                  "holds": f"no delivered '{package}' assignment"})
        evidence.append({"group": group, "member": f"{mine['member_id'].n_unique()} member(s)", "account": None,
                         "type": None, "user type": None,
                         "holds": f"{len(holders)} delivered '{package}' assignment(s)"})
    population = Population("MSSP group memberships", examined, examined - len(back_door) - len(unknown),
                            "are backed by the matching access package")
    if not examined:
        reason = "no MSSP group exists" if not mssp_group_ids(data, ctx.config) else "the MSSP groups have no members"
        return Outcome.not_applicable(reason, evidence, population)
    if back_door:
        return Outcome.of(Status.FAIL, f"{len(back_door)} group member(s) hold no matching access package.",
                          back_door, population, unknown)
    return Outcome.of(Status.PASS, "Every MSSP group member holds the matching access package.", evidence,
                      population, unknown)
