"""Defender RBAC bound to the MSSP groups (seed: "Enabling Role Based Access Control"; graph-api.md §9, §10)."""

from __future__ import annotations

from fnmatch import fnmatchcase

import polars as pl

from audit.checks import references as ref
from audit.checks._common import package_groups
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData

AREA = "Defender RBAC"

# Defender XDR unified RBAC action strings. 'Configuration\\Security settings\\manage' is published as
# microsoft.xdr/configuration/security/manage; the live-response actions are not published (they
# are read back from roleDefinitions), so any action naming "liveresponse" counts. A granted
# wildcard (microsoft.xdr/secops/*/manage, microsoft.xdr/*) counts when it covers the probe.
SECURITY_SETTINGS_PROBE = "microsoft.xdr/configuration/security/manage"
LIVE_RESPONSE_PROBE = "microsoft.xdr/secops/securitydata/liveresponse/manage"


def grants_live_response(action: str) -> bool:
    a = action.lower()
    return "liveresponse" in a.replace("-", "").replace("_", "") or ("*" in a and fnmatchcase(LIVE_RESPONSE_PROBE, a))


def grants_security_settings(action: str) -> bool:
    a = action.lower()
    if a.startswith("microsoft.xdr/configuration/security/") and a.endswith("/manage"):
        return True     # security/manage and its sub-areas (security/core/manage, …)
    return a == SECURITY_SETTINGS_PROBE or ("*" in a and fnmatchcase(SECURITY_SETTINGS_PROBE, a))


@check(CheckSpec(
    id="RBAC-001", version=1, title="The three MSSP groups exist, each exactly once", area=AREA,
    severity=Severity.HIGH,
    requirement="Exactly one group exists with each configured name: Tier 1 Analyst, Tier 2 Analyst and MSSP "
                "Analyst Approvers.",
    rationale="Defender roles and access packages point at these groups; a missing group leaves the model "
              "unbuilt, and two groups of one name (Graph does not keep names unique) make it ambiguous which one "
              "a role or package really fills.",
    remediation="Create the missing group, or rename/delete the duplicate so each name is unique.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_RBAC, "in the customer AD tenant, create 3 groups"),
                ref.GROUPS.at()),
    resources=("groups",),
))
def groups_unambiguous(data: TenantData, ctx: Context) -> Outcome:
    groups = data.table("groups").with_columns(name=pl.col("display_name").str.to_lowercase())
    evidence, bad = [], []
    for name, _ in package_groups(ctx.config):
        found = groups.filter(pl.col("name") == name.lower())
        evidence.append({"group": name, "found": found.height, "ids": ", ".join(found["id"].to_list())})
        if found.height != 1:
            bad.append(f"{name} ({'missing' if not found.height else f'{found.height} groups'})")
    population = Population("MSSP group names", len(evidence), len(evidence) - len(bad), "name exactly one group")
    if bad:
        return Outcome.of(Status.FAIL, f"Missing or ambiguous: {'; '.join(bad)}.", evidence, population)
    return Outcome.of(Status.PASS, "Each MSSP group exists exactly once.", evidence, population)


def _group_actions(data: TenantData, group_id_list: list[str]) -> tuple[list[str], list[str]]:
    """(role names, granted actions) of the Defender role assignments naming any of the groups."""
    ids = [g.lower() for g in group_id_list]
    assignments = data.table("defender_role_assignments").filter(
        pl.col("principal_ids").list.eval(pl.element().is_in(ids)).list.any())
    roles = data.table("defender_role_definitions").filter(
        pl.col("id").is_in(assignments["role_definition_id"].to_list()))
    return roles["display_name"].to_list(), [a for actions in roles["actions"].to_list() for a in actions]


@check(CheckSpec(
    id="RBAC-002", version=1, title="Defender roles match the analyst tiers", area=AREA, severity=Severity.HIGH,
    requirement="The Tier 1 group holds a Defender role without Live Response and without Manage Security "
                "Settings; the Tier 2 group holds one with Live Response and without Manage Security Settings.",
    rationale="The seed's least-privilege split: Tier 1 may do everything except live response and security "
              "settings; Tier 2 adds live response. Read from the beta Defender XDR unified RBAC API only when "
              "the MSSP opts in; otherwise the customer attests it.",
    remediation="Defender portal → Permissions → Microsoft Defender XDR → Roles: fix the roles' permissions and "
                "'Assigned user groups'; or attest the configuration.",
    references=(ref.MSSP_ACCESS.section(f"{ref.MSSP_RBAC} — Two possible MDATP RBAC roles (Tier 1 Analysts, "
                                        "Tier 2 Analysts)"),
                ref.DEFENDER_RBAC.at("roleManagement/defender roleDefinitions, roleAssignments")),
    resources=("groups", "defender_role_definitions", "defender_role_assignments"),
), manual_unless="collect_defender_rbac")
def defender_roles(data: TenantData, ctx: Context) -> Outcome:
    m = ctx.config.mssp
    groups = data.table("groups")
    evidence, bad = [], []
    for group, needs_live_response in ((m.tier1_group, False), (m.tier2_group, True)):
        ids = groups.filter(pl.col("display_name") == group)["id"].to_list()
        roles, actions = _group_actions(data, ids)
        live = [a for a in actions if grants_live_response(a)]
        settings = [a for a in actions if grants_security_settings(a)]
        problems = []
        if not roles:
            problems.append("no Defender role assigned")
        if needs_live_response and roles and not live:
            problems.append("no Live Response")
        if not needs_live_response and live:
            problems.append(f"Live Response ({', '.join(live)})")
        if settings:
            problems.append(f"Manage Security Settings ({', '.join(settings)})")
        evidence.append({"group": group, "roles": ", ".join(roles) or None, "live response": bool(live),
                         "manage security settings": bool(settings), "problems": "; ".join(problems) or None})
        if problems:
            bad.append(f"{group}: {', '.join(problems)}")
    population = Population("analyst tier groups", len(evidence), len(evidence) - len(bad),
                            "hold the Defender role their tier needs")
    if bad:
        return Outcome.of(Status.FAIL, f"Defender roles do not match the tiers: {'; '.join(bad)}.", evidence,
                          population)
    return Outcome.of(Status.PASS, "Tier 1 and Tier 2 hold the Defender roles the seed describes.", evidence,
                      population)


CHECKS = (groups_unambiguous, defender_roles)
