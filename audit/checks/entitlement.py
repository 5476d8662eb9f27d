"""Entitlement management set up as the seed prescribes (seed: "Configure Governance Access Packages")."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._common import (analyst_packages, day, directory, group_ids, mssp_group_ids, mssp_org_ids,
                                  mssp_package_names, mssp_policies, no_analyst_policy, package_groups, subjects)
from audit.checks._framework import Context, Outcome, check
from audit.expiry import days_left, ends_within
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.governance import (ALLOWED_TARGET, ALLOWED_TARGET_SCOPE, APPROVER, ASSIGNMENT_STATE,
                                        CONNECTED_ORGANIZATION_STATE, EXPIRATION_TYPE, HOLDS_ACCESS, IDENTITY_SOURCE,
                                        LIFECYCLE_ACTION, REQUEST_STATE)
from audit.normalize.vocabulary import missing

AREA = "Entitlement management"
NO_POLICY = Population("MSSP package policies", 0)
NO_DELIVERED = "no MSSP package assignment is delivered"
TENANT_SOURCES = ("azureActiveDirectoryTenant", "crossCloudAzureActiveDirectoryTenant")   # IDENTITY_SOURCE
HELD = HOLDS_ACCESS


def _org(r: dict[str, object]) -> str:
    return f"connected organisation {r['display_name'] or r['id']}"


@check(CheckSpec(
    id="EM-001", version=1, title="The MSSP analyst tenant is a configured connected organisation", area=AREA,
    severity=Severity.HIGH,
    requirement="A connected organisation whose identity source is the MSSP analyst tenant exists in state "
                "'configured'.",
    rationale="Access packages can only be limited to the MSSP's analysts when their tenant is a configured "
              "connected organisation; 'proposed' organisations are created automatically by unmanaged requests.",
    remediation="Identity Governance → Connected organizations → add the MSSP analyst tenant by tenant id and set "
                "its state to Configured; review and remove unexpected proposed organisations.",
    references=(ref.MSSP_ACCESS.section(f"{ref.MSSP_PACKAGES} — Add MSSP as Connected Organization in Customer AAD",
                                        "Adding the MSSP as a connected organization will allow the MSSP to request "
                                        "and have accesses provisioned."),
                ref.CONNECTED_ORGANIZATION.at("state")),
    resources=("connected_organizations",),
))
def mssp_connected_org(data: TenantData, ctx: Context) -> Outcome:
    orgs = data.table("connected_organizations")
    mssp = ctx.config.mssp.analyst_tenant_id.lower()
    evidence = [{"organisation": r["display_name"], "state": r["state"], "tenants": ", ".join(r["tenant_ids"]),
                 "is MSSP tenant": mssp in r["tenant_ids"]} for r in orgs.iter_rows(named=True)]
    mine = orgs.filter(pl.col("tenant_ids").list.contains(mssp))
    configured = mine.filter(pl.col("state") == "configured").height
    proposed = orgs.filter(pl.col("state") == "proposed").height
    population = Population("connected organisations", orgs.height, configured,
                            "represent the MSSP analyst tenant in state configured")
    if configured:
        note = f"; {proposed} proposed organisation(s) listed for review" if proposed else ""
        return Outcome.of(Status.PASS, f"The MSSP analyst tenant is a configured connected organisation{note}.",
                          evidence, population)
    # Not shown configured: an MSSP organisation in a state we cannot read, or an organisation whose
    # identity source we cannot read (it may be the MSSP tenant), leaves the answer open.
    others = [r for r in orgs.iter_rows(named=True) if r["id"] not in mine["id"]]
    unknown = [*(CONNECTED_ORGANIZATION_STATE.judge(r["state"], _org(r)) for r in mine.iter_rows(named=True)),
               *(IDENTITY_SOURCE.judge(kind or None, _org(r)) for r in others for kind in r["source_kinds"]),
               # a tenant identity source without its tenantId (the docs' own example) names no tenant we can see
               *(NotUnderstood("connected_organizations", "identitySources[].tenantId", "no value", _org(r), True,
                               "a tenant identity source that does not say which tenant") for r in others
                 if sum(k in TENANT_SOURCES for k in r["source_kinds"]) > len(r["tenant_ids"]))]
    if any(unknown):
        return Outcome.of(Status.WARN, "Whether the MSSP analyst tenant is a configured connected organisation "
                                       "cannot be told.", evidence, population, unknown)
    if mine.height:
        return Outcome.of(Status.FAIL, "The MSSP analyst tenant is only a proposed connected organisation.",
                          evidence, population)
    if not orgs.height:
        return Outcome.of(Status.FAIL, "No connected organisation exists, so none represents the MSSP analyst "
                                       "tenant.", evidence, population)
    return Outcome.of(Status.FAIL, "No connected organisation represents the MSSP analyst tenant.", evidence,
                      population)


@check(CheckSpec(
    id="EM-002", version=1, title="The Tier 1, Tier 2 and Approvers access packages exist", area=AREA,
    severity=Severity.HIGH,
    requirement="Exactly one access package exists for each of Tier 1 Analyst, Tier 2 Analyst and MSSP Analyst "
                "Approvers (names as configured), each with at least one assignment policy.",
    rationale="Every analyst's access must arrive through a governed package; a missing or duplicated package "
              "means access is granted some other way or ambiguously.",
    remediation="Create the missing access package in the 'MSSP Accesses' catalog with its assignment policy.",
    references=(ref.MSSP_ACCESS.section(f"{ref.MSSP_PACKAGES} — Create access packages for MSSP resources",
                                        "Create an access package for the MSSP approvers and each analyst tier."),),
    resources=("access_packages",),
))
def packages_exist(data: TenantData, ctx: Context) -> Outcome:
    packages = data.table("access_packages")
    evidence, problems, unknown = [], [], []
    for name in mssp_package_names(ctx.config):
        found = packages.filter(pl.col("display_name") == name)
        policies = int(found["policies"].sum()) if found.height else 0
        evidence.append({"package": name, "found": found.height, "policies": policies})
        if found.height == 1 and found["policies"].null_count():
            unknown.append(missing("access_packages", "assignmentPolicies", f"access package {name}"))
        elif found.height != 1 or policies == 0:
            problems.append(name if found.height == 0 else f"{name} ({found.height} found, {policies} policies)")
    population = Population("required MSSP access packages", len(evidence), len(evidence) - len(problems),
                            "exist exactly once with a policy")
    if problems:
        return Outcome.of(Status.FAIL, f"Missing or incomplete: {', '.join(problems)}.", evidence, population,
                          unknown)
    return Outcome.of(Status.PASS, "All three MSSP access packages exist with a policy.", evidence, population,
                      unknown)


@check(CheckSpec(
    id="EM-003", version=1, title="Only the MSSP connected organisation can request MSSP packages", area=AREA,
    severity=Severity.CRITICAL,
    requirement="Every policy of an MSSP package allows requests only from specific connected organisation "
                "users naming the MSSP analyst tenant's organisation.",
    rationale="A policy open to all external users, all configured organisations or all directory users lets "
              "anyone outside the MSSP request analyst access into the customer's Defender tenant.",
    remediation="Edit the policy: 'For users not in your directory' → 'Specific connected organizations' → the "
                "MSSP analyst tenant only.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Can only be requested by users in the MSSP SOC Tenant"),
                ref.ASSIGNMENT_POLICY.at("allowedTargetScope, specificAllowedTargets")),
    resources=("access_packages", "connected_organizations"),
))
def requestors_limited(data: TenantData, ctx: Context) -> Outcome:
    allowed = {f"connectedOrganizationMembers:{i}" for i in mssp_org_ids(data, ctx.config)}
    policies = mssp_policies(data, ctx.config)
    if not policies.height:      # EM-002 fails for the missing packages and policies
        return Outcome.not_applicable("no MSSP package policy exists", population=NO_POLICY)
    names = directory(data, ("connected_organizations",))
    evidence, bad, unknown, unread_policies = [], [], [], 0
    for p in policies.iter_rows(named=True):
        where = f"policy {p['display_name'] or p['id']}"
        targets = set(p["allowed_targets"])
        scope_unknown = ALLOWED_TARGET_SCOPE.judge(p["allowed_target_scope"], where)
        unread = {t: n for t in targets if (n := ALLOWED_TARGET.judge(t.partition(":")[0] or None, where))}
        # A failure stands on what is understood: an open scope, no targets, or a known target that is not the MSSP.
        fails = scope_unknown is None and (p["allowed_target_scope"] != "specificConnectedOrganizationUsers"
                                           or not targets or bool(targets - allowed - set(unread)))
        ok = not fails and scope_unknown is None and not unread
        evidence.append({"package": p["package_name"], "policy": p["display_name"],
                         "allowedTargetScope": p["allowed_target_scope"], "targets": subjects(sorted(targets), names),
                         "compliant": ok if fails or ok else "not understood"})
        if fails:
            bad.append(f"{p['package_name']} / {p['display_name']} ({p['allowed_target_scope']})")
        elif not ok:
            unknown.extend([scope_unknown, *unread.values()])
            unread_policies += 1
    population = Population("MSSP package policies", policies.height, policies.height - len(bad) - unread_policies,
                            "are limited to the MSSP connected organisation")
    if bad:
        return Outcome.of(Status.FAIL, f"{len(bad)} policy(ies) not limited to the MSSP organisation: "
                                       f"{'; '.join(bad)}.", evidence, population, unknown)
    return Outcome.of(Status.PASS, "Every MSSP package policy is limited to the MSSP connected organisation.",
                      evidence, population, unknown)


@check(CheckSpec(
    id="EM-004", version=1, title="Analyst packages need approval by the MSSP Analyst Approvers", area=AREA,
    severity=Severity.HIGH,
    requirement="Every Tier 1 and Tier 2 policy requires approval, and its approvers are the members of the "
                "MSSP Analyst Approvers group.",
    rationale="The seed's two-level approval: the customer approves the approvers, the approvers approve "
              "analysts. Without approval any eligible requestor is granted access at once.",
    remediation="Edit the policy's Requests settings: require approval; first approver: group members of "
                "'MSSP Analyst Approvers'.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1,
                                        "Requires a member of the AD group “MSSP Analyst Approvers” to authorize "
                                        "new requests"),
                ref.ASSIGNMENT_POLICY.at("requestApprovalSettings")),
    resources=("access_packages", "groups"),
))
def analyst_approval(data: TenantData, ctx: Context) -> Outcome:
    approvers = {f"groupMembers:{g}" for g in group_ids(data, ctx.config.mssp.approvers_group)}
    policies = data.table("policies").filter(pl.col("package_name").is_in(analyst_packages(ctx.config)))
    if not policies.height:      # EM-002 fails for the missing packages and policies
        return Outcome.not_applicable(no_analyst_policy(ctx.config),
                                      population=Population("analyst package policies", 0))
    names = directory(data, ("groups",))
    evidence, bad, unknown = [], [], []
    for p in policies.iter_rows(named=True):
        ok = bool(p["approval_required"]) and bool(approvers) and bool(set(p["approvers"]) & approvers)
        # An approver set we cannot resolve might be the Approvers' members by another name: not a failure.
        where = f"policy {p['display_name'] or p['id']}"
        unread = [missing("access_packages", "requestApprovalSettings.isApprovalRequiredForAdd", where)] \
            if p["approval_required"] is None else [] if ok or not p["approval_required"] else [
            APPROVER.judge(r.partition(":")[0] or None, where) for r in p["approvers"]]
        evidence.append({"package": p["package_name"], "policy": p["display_name"],
                         "approval required": p["approval_required"], "approvers": subjects(p["approvers"], names),
                         "compliant": ok if not any(unread) else "not understood"})
        if any(unread):
            unknown.extend(unread)
        elif not ok:
            bad.append(f"{p['package_name']} / {p['display_name']}")
    population = Population("analyst package policies", policies.height, policies.height - len(bad),
                            "require approval by the MSSP Analyst Approvers")
    if not approvers:
        return Outcome.of(Status.FAIL, f"The group '{ctx.config.mssp.approvers_group}' does not exist, so no "
                                       "analyst policy is approved by its members.", evidence, population)
    if bad:
        return Outcome.of(Status.FAIL, f"Not approved by the MSSP Analyst Approvers: {'; '.join(bad)}.", evidence,
                          population, unknown)
    return Outcome.of(Status.PASS, "Every analyst policy requires approval by the MSSP Analyst Approvers.",
                      evidence, population, unknown)


@check(CheckSpec(
    id="EM-005", version=1, title="MSSP package assignments expire within 365 days", area=AREA,
    severity=Severity.HIGH,
    requirement="Every MSSP package policy ends assignments after at most the configured maximum "
                "(365 days by default); 'noExpiration' is never used.",
    rationale="Access that never expires outlives the analyst's role; the seed has access auto-expire after "
              "365 days.",
    remediation="Edit the policy's Lifecycle: 'Access package assignments expire' → 'Number of days' ≤ 365.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Access auto expires after 365 days"),
                ref.EXPIRATION_PATTERN.at("type, duration")),
    resources=("access_packages",),
))
def policy_expiry(data: TenantData, ctx: Context) -> Outcome:
    limit = ctx.config.thresholds.max_assignment_days
    horizon = ctx.now + timedelta(days=limit)
    policies = mssp_policies(data, ctx.config)
    if not policies.height:      # EM-002 fails for the missing packages and policies
        return Outcome.not_applicable("no MSSP package policy exists", population=NO_POLICY)
    evidence, bad, unknown = [], [], []
    for p in policies.iter_rows(named=True):
        kind, days, end = p["expiration_type"], p["expiration_days"], p["expiration_end"]
        if (unread := EXPIRATION_TYPE.judge(kind, f"policy {p['display_name'] or p['id']}")) is not None:
            unknown.append(unread)
            evidence.append({"package": p["package_name"], "policy": p["display_name"], "expiration": kind,
                             "value": "not understood", "compliant": "not understood"})
            continue
        if kind == "afterDuration":
            ok, shown = days is not None and days <= limit, f"{days:g} days" if days is not None else "no duration"
        elif kind == "afterDateTime":
            ok, shown = end is not None and end <= horizon, day(end) or "no end date"
        else:
            ok, shown = False, kind or "not set"
        evidence.append({"package": p["package_name"], "policy": p["display_name"], "expiration": kind,
                         "value": shown, "compliant": ok})
        if not ok:
            bad.append(f"{p['package_name']} ({shown})")
    population = Population("MSSP package policies", len(evidence), len(evidence) - len(bad) - len(unknown),
                            f"expire assignments within {limit} days")
    if bad:
        return Outcome.of(Status.FAIL, f"Expiry longer than {limit} days or none: {'; '.join(bad)}.", evidence,
                          population, unknown)
    return Outcome.of(Status.PASS, f"Every MSSP policy expires assignments within {limit} days.", evidence,
                      population, unknown)


def _delivered_mssp(data: TenantData, ctx: Context) -> pl.DataFrame:
    """The MSSP package assignments that hold access (HELD states)."""
    return data.table("assignments").filter(
        pl.col("state").is_in(HELD) & pl.col("package_name").is_in(mssp_package_names(ctx.config)))


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
    horizon = ctx.now + timedelta(days=days)
    delivered = _delivered_mssp(data, ctx)
    unread = _unread_states(data, mssp_package_names(ctx.config))
    if not delivered.height:
        return Outcome.not_applicable(NO_DELIVERED, population=Population("delivered MSSP assignments", 0),
                                      not_understood=unread)
    outside = delivered.filter(pl.col("end").is_null() | (pl.col("end") > horizon))
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
    id="EM-009", version=1, title="External-user lifecycle matches the MSSP's choice", area=AREA,
    severity=Severity.LOW,
    requirement="What happens to an external user when their last assignment ends "
                "(externalUserLifecycleAction) is what the configuration expects (seed: 'none').",
    rationale="The seed recommends not blocking sign-in, so analysts can request a new package; with access "
              "limited to the MSSP tenant the added risk is small. Blocking is stricter but locks analysts out; "
              "the configuration makes the trade-off explicit.",
    remediation="Identity Governance → Settings → 'Block external user from signing in to this directory': set "
                "as expected, or change [expectations].external_user_lifecycle_action.",
    references=(ref.MSSP_ACCESS.section("Recommended Best Practices — Guest Lifecycle",
                                        "Remove automated signin block when last access package expires."),
                ref.EM_SETTINGS.at("externalUserLifecycleAction")),
    resources=("em_settings",),
))
def lifecycle_action(data: TenantData, ctx: Context) -> Outcome:
    settings = data.singleton("em_settings") or {}
    actual = settings.get("externalUserLifecycleAction")
    expected = ctx.config.expectations.external_user_lifecycle_action
    evidence = [{"setting": "externalUserLifecycleAction", "value": actual, "expected": expected,
                 "deletion after": settings.get("durationUntilExternalUserDeletedAfterBlocked")}]
    population = Population("external-user lifecycle settings", 1, int(actual == expected),
                            "match the configuration")
    if (unread := LIFECYCLE_ACTION.judge(actual, "the entitlement-management settings")) is not None:
        return Outcome.of(Status.WARN, "The lifecycle action cannot be compared.", evidence, population, [unread])
    if actual == expected:
        return Outcome.of(Status.PASS, f"The lifecycle action is '{actual}', as expected.", evidence, population)
    return Outcome.of(Status.FAIL, f"The lifecycle action is '{actual}', expected '{expected}'.", evidence,
                      population)


@check(CheckSpec(
    id="EM-010", version=1, title="No proposed connected organisations wait for review", area=AREA,
    severity=Severity.LOW,
    requirement="Every connected organisation is in state 'configured'; 'proposed' ones are listed for review.",
    rationale="Entitlement management creates a 'proposed' organisation when a user from an unknown "
              "organisation is given access (e.g. through a policy open to all external users): each one is an "
              "organisation nobody decided to trust.",
    remediation="Identity Governance → Connected organizations: configure the organisations you mean to trust, "
                "delete the others, and find the policy that let their users in.",
    references=(ref.MSSP_ACCESS.section(f"{ref.MSSP_PACKAGES} — Add MSSP as Connected Organization in Customer AAD"),
                ref.CONNECTED_ORGANIZATION.at("state (configured, proposed)")),
    resources=("connected_organizations",),
))
def proposed_orgs(data: TenantData, ctx: Context) -> Outcome:
    orgs = data.table("connected_organizations")
    if not orgs.height:          # EM-001 fails for the missing MSSP organisation
        return Outcome.not_applicable("no connected organisation exists",
                                      population=Population("connected organisations", 0))
    mssp = ctx.config.mssp.analyst_tenant_id.lower()
    unread = [CONNECTED_ORGANIZATION_STATE.judge(r["state"], _org(r)) for r in orgs.iter_rows(named=True)]
    proposed = orgs.filter(pl.col("state") == "proposed").sort("created", nulls_last=True)
    rows = [{"organisation": r["display_name"], "state": r["state"], "created": day(r["created"]),
             "tenants": ", ".join(r["tenant_ids"]), "domains": ", ".join(r["domains"]),
             "is MSSP tenant": mssp in r["tenant_ids"]} for r in proposed.iter_rows(named=True)]
    population = Population("connected organisations", orgs.height, orgs.height - len(rows) - sum(map(bool, unread)),
                            "are configured")
    if rows:
        return Outcome.of(Status.WARN, f"{len(rows)} proposed connected organisation(s) to review.", rows, population,
                          unread)
    return Outcome.of(Status.PASS, f"None of the {orgs.height} connected organisations is merely proposed.",
                      [{"organisation": r["display_name"], "state": r["state"]} for r in orgs.iter_rows(named=True)],
                      population, unread)


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


CHECKS = (mssp_connected_org, packages_exist, requestors_limited, analyst_approval, policy_expiry,
          expiring_assignments, assignments_within_policy, pending_requests, lifecycle_action, proposed_orgs,
          group_back_door)
