"""Administrators (seed: "Admin Access Required"; graph-api.md §6)."""

from __future__ import annotations

import polars as pl

from audit.checks import references as ref
from audit.checks._common import GLOBAL_ADMIN, ROLE_NAMES
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData

AREA = "Administrators"


PRIVILEGED = "privileged role assignments"
NO_PRIVILEGED = ("no active Global, Security or Privileged Role Administrator assignment was returned",
                 Population(PRIVILEGED, 0))


def _holders(data: TenantData, roles: list[str]) -> pl.DataFrame:
    return data.table("role_assignments").filter(pl.col("role_definition_id").is_in(roles))


def _row(r: dict[str, object]) -> dict[str, object]:
    return {"role": ROLE_NAMES.get(str(r["role_definition_id"]), r["role_definition_id"]),
            "principal": r["principal_name"], "account": r["principal_upn"],
            "type": r["principal_type"], "user type": r["principal_user_type"], "scope": r["scope"]}


@check(CheckSpec(
    id="ADM-001", version=1, title="Global Administrator count is within range", area=AREA, severity=Severity.MEDIUM,
    requirement="The number of active Global Administrator assignments is within the configured range (2–4).",
    rationale="One administrator is a single point of failure; many are many targets.",
    remediation="Remove Global Administrator from accounts that do not need it; use PIM eligibility instead.",
    references=(ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments"),),
    resources=("role_assignments",),
))
def global_admin_count(data: TenantData, ctx: Context) -> Outcome:
    low, high = ctx.config.thresholds.global_admins_min, ctx.config.thresholds.global_admins_max
    holders = _holders(data, [GLOBAL_ADMIN])
    count = holders["principal_id"].n_unique()
    rows = [_row(r) for r in holders.iter_rows(named=True)]
    # The whole list of active assignments was read; a tenant with none has no Global Administrator.
    population = Population("active directory role assignments", data.table("role_assignments").height)
    if low <= count <= high and count:
        return Outcome.of(Status.PASS, f"{count} Global Administrators (range {low}–{high}).", rows, population)
    return Outcome.of(Status.FAIL, f"{count} Global Administrators, outside the range {low}–{high}."
                      if not low <= count <= high else "No active Global Administrator assignment was returned.",
                      rows, population)


@check(CheckSpec(
    id="ADM-002", version=1, title="No guest holds a privileged directory role", area=AREA,
    severity=Severity.CRITICAL,
    requirement="No guest or external account holds Global Administrator, Security Administrator or "
                "Privileged Role Administrator.",
    rationale="MSSP analysts reach Defender through Defender RBAC roles bound to groups; a directory admin role "
              "on a guest hands the customer's whole tenant to another organisation's account.",
    remediation="Remove the role from the listed guests; grant Defender access through the Tier groups.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_RBAC,
                                        "Link these roles to the created user groups via “Assigned user groups”."),
                ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments")),
    resources=("role_assignments",),
))
def no_guest_admins(data: TenantData, ctx: Context) -> Outcome:
    holders = _holders(data, list(ROLE_NAMES))
    if not holders.height:
        return Outcome.not_applicable(NO_PRIVILEGED[0], population=NO_PRIVILEGED[1])
    guests = holders.filter((pl.col("principal_user_type") == "Guest")
                            | pl.col("principal_upn").fill_null("").str.contains("#EXT#", literal=True))
    population = Population(PRIVILEGED, holders.height, holders.height - guests.height,
                            "are held by non-guest principals")
    if guests.height:
        return Outcome.of(Status.FAIL, f"{guests.height} privileged role assignment(s) held by guests.",
                          [_row(r) for r in guests.iter_rows(named=True)], population)
    return Outcome.of(Status.PASS, f"None of the {holders.height} privileged role assignments is held by a guest.",
                      population=population)


@check(CheckSpec(
    id="ADM-003", version=1, title="The temporary setup administrator is gone", area=AREA, severity=Severity.HIGH,
    requirement="The temporary Global Administrator account used to set up the MSSP model (named in the "
                "configuration) holds no privileged role any more.",
    rationale="The seed advises a temporary account for the setup, removed once complete; a forgotten one is an "
              "unowned Global Administrator.",
    remediation="Delete the setup account, or at least remove its roles.",
    references=(ref.MSSP_ACCESS.section("Things to consider prior to implementing — Admin Access Required",
                                        "Remove the account once complete"),
                ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments")),
    resources=("role_assignments",),
))
def setup_admin_removed(data: TenantData, ctx: Context) -> Outcome:
    name = (ctx.customer.setup_admin or "").lower()
    if not name:
        return Outcome.not_applicable("no temporary setup administrator is named for this customer "
                                      "(customers[].setup_admin)")
    privileged = _holders(data, list(ROLE_NAMES))
    if not privileged.height:
        return Outcome.not_applicable(NO_PRIVILEGED[0], population=NO_PRIVILEGED[1])
    holders = privileged.filter(pl.col("principal_upn").str.to_lowercase() == name)
    population = Population(PRIVILEGED, privileged.height, privileged.height - holders.height,
                            f"are held by someone other than {ctx.customer.setup_admin}")
    if holders.height:
        return Outcome.of(Status.FAIL, f"The setup administrator {ctx.customer.setup_admin} still holds "
                                       f"{holders.height} privileged role(s).",
                          [_row(r) for r in holders.iter_rows(named=True)], population)
    return Outcome.of(Status.PASS, f"{ctx.customer.setup_admin} holds none of the {privileged.height} privileged "
                                   "role assignments.", population=population)


CHECKS = (global_admin_count, no_guest_admins, setup_admin_removed)
