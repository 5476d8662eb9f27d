"""Administrators (seed: "Admin Access Required"; graph-api.md §6)."""

from __future__ import annotations

import polars as pl

from audit.checks import references as ref
from audit.checks._common import GLOBAL_ADMIN, ROLE_NAMES
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Severity, Status
from audit.normalize import TenantData

AREA = "Administrators"


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
    if low <= count <= high:
        return Outcome.of(Status.PASS, f"{count} Global Administrators (range {low}–{high}).", rows)
    return Outcome.of(Status.FAIL, f"{count} Global Administrators, outside the range {low}–{high}.", rows)


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
    guests = holders.filter((pl.col("principal_user_type") == "Guest")
                            | pl.col("principal_upn").fill_null("").str.contains("#EXT#", literal=True))
    if guests.height:
        return Outcome.of(Status.FAIL, f"{guests.height} privileged role assignment(s) held by guests.",
                          [_row(r) for r in guests.iter_rows(named=True)])
    return Outcome.of(Status.PASS, f"None of the {holders.height} privileged role assignments is held by a guest.")


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
        return Outcome.of(Status.NOT_APPLICABLE, "No temporary setup administrator is named for this customer.")
    holders = _holders(data, list(ROLE_NAMES)).filter(pl.col("principal_upn").str.to_lowercase() == name)
    if holders.height:
        return Outcome.of(Status.FAIL, f"The setup administrator {ctx.customer.setup_admin} still holds "
                                       f"{holders.height} privileged role(s).",
                          [_row(r) for r in holders.iter_rows(named=True)])
    return Outcome.of(Status.PASS, f"{ctx.customer.setup_admin} holds no privileged role.")


CHECKS = (global_admin_count, no_guest_admins, setup_admin_removed)
