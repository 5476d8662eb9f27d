"""Entitlement management set up as the seed prescribes (seed: "Configure Governance Access Packages")."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._common import (analyst_packages, day, directory, group_ids, mssp_org_ids, mssp_package_names,
                                  mssp_policies, no_analyst_policy, subjects)
from audit.checks._framework import Context, Outcome, check
from audit.checks.entitlement_assignments import (assignments_within_policy, expiring_assignments, group_back_door,
                                                  pending_requests)
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.governance import (ALLOWED_TARGET, ALLOWED_TARGET_SCOPE, APPROVER,
                                        CONNECTED_ORGANIZATION_STATE, EXPIRATION_TYPE, IDENTITY_SOURCE,
                                        LIFECYCLE_ACTION)
from audit.normalize.vocabulary import missing

AREA = "Entitlement management"
NO_POLICY = Population("MSSP package policies", 0)
TENANT_SOURCES = ("azureActiveDirectoryTenant", "crossCloudAzureActiveDirectoryTenant")   # IDENTITY_SOURCE


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


CHECKS = (mssp_connected_org, packages_exist, requestors_limited, analyst_approval, policy_expiry,
          expiring_assignments, assignments_within_policy, pending_requests, lifecycle_action, proposed_orgs,
          group_back_door)
