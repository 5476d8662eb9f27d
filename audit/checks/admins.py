"""Administrators (seed: "Admin Access Required"; graph-api.md §6)."""

from __future__ import annotations

import polars as pl

from audit.checks import references as ref
from audit.checks._common import GLOBAL_ADMIN, ROLE_NAMES
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.users import UNKNOWN_KIND

AREA = "Administrators"


PRIVILEGED = "holders of a privileged role (directly or through a group)"
ROLE_RESOURCES = ("role_assignments", "role_group_members")
NO_PRIVILEGED = ("no active Global, Security or Privileged Role Administrator assignment was returned",
                 Population(PRIVILEGED, 0))


def _holders(data: TenantData, roles: list[str]) -> pl.DataFrame:
    """Who holds the roles: one row per role, account and route. A role assigned to a group (a
    role-assignable group, often activated through PIM for Groups) is held by the group's transitive
    members, named with the group that gave it (`via_group`); a group with no member is one row
    with no account. Nested groups among the members are not holders: their members are listed."""
    assignments = data.table("role_assignments").filter(pl.col("role_definition_id").is_in(roles))
    direct = (assignments.filter(pl.col("principal_type").fill_null("user") != "group")
              .select("role_definition_id", "scope", account_id="principal_id", name="principal_name",
                      upn="principal_upn", type="principal_type", user_type="principal_user_type",
                      external="principal_external", kind="principal_kind",
                      via_group=pl.lit(None, pl.String)))
    groups = assignments.filter(pl.col("principal_type") == "group").select(
        "role_definition_id", "scope", group_id="principal_id",
        via_group=pl.format("{} [{}]", pl.col("principal_name").fill_null("(no name)"), pl.col("principal_id")))
    members = data.table("role_group_members").filter(pl.col("member_type").fill_null("user") != "group").select(
        "group_id", account_id="member_id", name="display_name", upn="upn", type="member_type",
        user_type="user_type", external="external", kind="kind")
    through = groups.join(members, on="group_id", how="left").drop("group_id")
    return pl.concat([direct, through.select(direct.columns)], how="vertical")


def _accounts(holders: pl.DataFrame) -> pl.DataFrame:
    """The holders that are accounts (a group without members holds nothing for anyone)."""
    return holders.filter(pl.col("account_id").is_not_null())


def _row(r: dict[str, object]) -> dict[str, object]:
    return {"role": ROLE_NAMES.get(str(r["role_definition_id"]), r["role_definition_id"]),
            "principal": r["name"] if r["account_id"] is not None else "(the group has no members)",
            "account": r["upn"], "type": r["type"], "user type": r["user_type"], "kind": r["kind"],
            "through group": r["via_group"] or "directly assigned", "scope": r["scope"]}


def _rows(holders: pl.DataFrame) -> list[dict[str, object]]:
    ordered = holders.sort("role_definition_id", "via_group", "upn", "account_id", nulls_last=False)
    return [_row(r) for r in ordered.iter_rows(named=True)]


def _is_guest() -> pl.Expr:
    """A guest (userType Guest, internal guests included) or an external account of any kind."""
    return (pl.col("user_type") == "Guest") | pl.col("external").fill_null(False)


@check(CheckSpec(
    id="ADM-001", version=2, title="Global Administrator count is within range", area=AREA, severity=Severity.MEDIUM,
    requirement="The number of accounts holding Global Administrator — directly, or as members of a group the role "
                "is assigned to — is within the configured range (2–4).",
    rationale="One administrator is a single point of failure; many are many targets. A role assigned to a group is "
              "held by every member of the group: it is people that count, not assignment objects.",
    remediation="Remove Global Administrator from accounts (or groups, or group members) that do not need it; use "
                "PIM eligibility instead.",
    references=(ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments"),
                ref.TRANSITIVE_MEMBERS.at("groups/{id}/transitiveMembers")),
    resources=ROLE_RESOURCES,
))
def global_admin_count(data: TenantData, ctx: Context) -> Outcome:
    low, high = ctx.config.thresholds.global_admins_min, ctx.config.thresholds.global_admins_max
    holders = _holders(data, [GLOBAL_ADMIN])
    count = _accounts(holders)["account_id"].n_unique()
    groups = holders["via_group"].drop_nulls().n_unique()
    through = f", {groups} group(s) among the routes" if groups else ""
    hold = "1 account holds" if count == 1 else f"{count} accounts hold"
    rows = _rows(holders)
    # The whole list of active assignments was read; a tenant with none has no Global Administrator.
    population = Population("active directory role assignments", data.table("role_assignments").height)
    if low <= count <= high and count:
        return Outcome.of(Status.PASS, f"{hold} Global Administrator (range {low}–{high}{through}).",
                          rows, population)
    return Outcome.of(Status.FAIL, f"{hold} Global Administrator, outside the range {low}–{high}"
                                   f"{through}." if count else "No account holds Global Administrator.",
                      rows, population)


@check(CheckSpec(
    id="ADM-002", version=2, title="No guest holds a privileged directory role", area=AREA,
    severity=Severity.CRITICAL,
    requirement="No guest or external account holds Global Administrator, Security Administrator or "
                "Privileged Role Administrator, directly or as a member of a group the role is assigned to.",
    rationale="MSSP analysts reach Defender through Defender RBAC roles bound to groups; a directory admin role "
              "on a guest hands the customer's whole tenant to another organisation's account, and it does so "
              "through a role-assignable group just as well as through a direct assignment.",
    remediation="Remove the role from the listed guests, or remove them from the listed group; grant Defender access "
                "through the Tier groups.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_RBAC,
                                        "Link these roles to the created user groups via “Assigned user groups”."),
                ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments"),
                ref.TRANSITIVE_MEMBERS.at("groups/{id}/transitiveMembers"),
                ref.USER.at("userType, creationType, externalUserState")),
    resources=ROLE_RESOURCES,
))
def no_guest_admins(data: TenantData, ctx: Context) -> Outcome:
    holders = _holders(data, list(ROLE_NAMES))
    if not holders.height:
        return Outcome.not_applicable(NO_PRIVILEGED[0], population=NO_PRIVILEGED[1])
    accounts = _accounts(holders)
    if not accounts.height:
        return Outcome.not_applicable("the privileged roles are assigned only to groups without members",
                                      _rows(holders), Population(PRIVILEGED, 0))
    guests = accounts.filter(_is_guest())
    population = Population(PRIVILEGED, accounts.height, accounts.height - guests.height,
                            "are accounts of this tenant, not guests or external accounts")
    if guests.height:
        people = guests["account_id"].n_unique()
        return Outcome.of(Status.FAIL, f"{people} guest or external account(s) hold a privileged role "
                                       f"({guests.height} holding(s), "
                                       f"{guests['via_group'].drop_nulls().len()} through a group).",
                          _rows(guests), population)
    unknown = accounts.filter(pl.col("kind") == UNKNOWN_KIND)
    if unknown.height:
        return Outcome.of(Status.WARN, f"Whether {unknown.height} privileged role holder(s) are guests cannot be "
                                       "told: Graph returned only their id.", _rows(unknown), population)
    return Outcome.of(Status.PASS, f"None of the {accounts.height} privileged role holdings is a guest's or an "
                                   "external account's.", population=population)


@check(CheckSpec(
    id="ADM-003", version=2, title="The temporary setup administrator is gone", area=AREA, severity=Severity.HIGH,
    requirement="The temporary Global Administrator account used to set up the MSSP model (named in the "
                "configuration) holds no privileged role any more, directly or through a group.",
    rationale="The seed advises a temporary account for the setup, removed once complete; a forgotten one is an "
              "unowned Global Administrator, whether the role is its own or its group's.",
    remediation="Delete the setup account, or at least remove its roles and its role-holding group memberships.",
    references=(ref.MSSP_ACCESS.section("Things to consider prior to implementing — Admin Access Required",
                                        "Remove the account once complete"),
                ref.ROLE_ASSIGNMENT.at("roleManagement/directory/roleAssignments"),
                ref.TRANSITIVE_MEMBERS.at("groups/{id}/transitiveMembers")),
    resources=ROLE_RESOURCES,
))
def setup_admin_removed(data: TenantData, ctx: Context) -> Outcome:
    name = (ctx.customer.setup_admin or "").lower()
    if not name:
        return Outcome.not_applicable("no temporary setup administrator is named for this customer "
                                      "(customers[].setup_admin)")
    privileged = _holders(data, list(ROLE_NAMES))
    if not privileged.height:
        return Outcome.not_applicable(NO_PRIVILEGED[0], population=NO_PRIVILEGED[1])
    accounts = _accounts(privileged)
    holders = accounts.filter(pl.col("upn").str.to_lowercase() == name)
    population = Population(PRIVILEGED, accounts.height, accounts.height - holders.height,
                            f"are held by someone other than {ctx.customer.setup_admin}")
    if holders.height:
        return Outcome.of(Status.FAIL, f"The setup administrator {ctx.customer.setup_admin} still holds "
                                       f"{holders.height} privileged role(s).", _rows(holders), population)
    if not accounts.height:
        return Outcome.not_applicable("the privileged roles are assigned only to groups without members",
                                      _rows(privileged), Population(PRIVILEGED, 0))
    return Outcome.of(Status.PASS, f"{ctx.customer.setup_admin} holds none of the {accounts.height} privileged "
                                   "role holdings.", population=population)


CHECKS = (global_admin_count, no_guest_admins, setup_admin_removed)
