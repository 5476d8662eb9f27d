"""Small domain helpers the check areas share."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from audit.config import Config
from audit.normalize import TenantData
from audit.resources import GLOBAL_ADMIN, WATCHED_ROLES

ROLE_NAMES = WATCHED_ROLES            # the privileged roles, by template id (audit/resources.py)


def analyst_packages(config: Config) -> tuple[str, str]:
    return config.mssp.tier1_package, config.mssp.tier2_package


def no_analyst_policy(config: Config) -> str:
    """Why a check over the analyst packages' policies has nothing to examine."""
    return f"no policy of the '{config.mssp.tier1_package}' or '{config.mssp.tier2_package}' package exists"


def mssp_package_names(config: Config) -> tuple[str, str, str]:
    return config.mssp.tier1_package, config.mssp.tier2_package, config.mssp.approvers_package


def mssp_assignments(data: TenantData, config: Config) -> pl.DataFrame:
    """Every assignment of an MSSP access package, whatever its state."""
    return data.table("assignments").filter(pl.col("package_name").is_in(mssp_package_names(config)))


def outlives_policy(now: datetime, config: Config) -> pl.Expr:
    """An assignment whose end is not within the configured maximum from `now` (none at all, or
    later): what EM-007 fails a delivered assignment for, and what the ledger records of each."""
    horizon = now + timedelta(days=config.thresholds.max_assignment_days)
    return pl.col("end").is_null() | (pl.col("end") > horizon)


def mssp_policies(data: TenantData, config: Config) -> pl.DataFrame:
    return data.table("policies").filter(pl.col("package_name").is_in(mssp_package_names(config)))


def mssp_org_ids(data: TenantData, config: Config) -> list[str]:
    orgs = data.table("connected_organizations")
    mine = orgs.filter(pl.col("tenant_ids").list.contains(config.mssp.analyst_tenant_id.lower()))
    return mine["id"].to_list()


def group_ids(data: TenantData, name: str) -> list[str]:
    return data.table("groups").filter(pl.col("display_name") == name)["id"].to_list()


def home_domain_expr() -> pl.Expr:
    """A guest's home domain: from mail, else from the #EXT# UPN (a_contoso.com#EXT#@…)."""
    from_upn = (pl.col("upn").str.split("#EXT#").list.first().str.extract(r"_([^_]+)$", 1).str.to_lowercase())
    return pl.coalesce(pl.col("mail_domain"), from_upn)


def mssp_guests(data: TenantData, config: Config) -> pl.DataFrame:
    """Guests whose home is the MSSP analyst tenant (by its configured mail domains)."""
    domains = [d.lower() for d in config.mssp.analyst_domains]
    guests = data.table("guests").with_columns(home_domain=home_domain_expr())
    return guests.filter(pl.col("home_domain").is_in(domains))


def package_groups(config: Config) -> tuple[tuple[str, str], ...]:
    """(group, package) pairs: the seed's Defender roles name the groups the packages fill."""
    m = config.mssp
    return ((m.tier1_group, m.tier1_package), (m.tier2_group, m.tier2_package),
            (m.approvers_group, m.approvers_package))


def mssp_group_ids(data: TenantData, config: Config) -> dict[str, str]:
    """group id → group name, for the three MSSP groups (every group of that name)."""
    names = {name for name, _ in package_groups(config)}
    groups = data.table("groups").filter(pl.col("display_name").is_in(names))
    return dict(groups.select("id", "display_name").iter_rows())


# Where external accounts are read: the guests, and the member-type B2B users the directory query
# finds by their external identity (audit/resources.py EXTERNAL_MEMBERS).
EXTERNAL_RESOURCES = ("guests", "external_members")


def external_users(data: TenantData) -> pl.DataFrame:
    """The guests and the member-type B2B users, as the directory returned them (sign-ins included)."""
    return pl.concat([data.table(name) for name in EXTERNAL_RESOURCES], how="vertical").unique(
        "id", keep="first", maintain_order=True)


def external_accounts(data: TenantData) -> pl.DataFrame:
    """Every guest and every member-type B2B user of the directory, with its home domain, username
    and kind (audit.normalize.users.account_kind: invited guest, cross-tenant-synced or converted
    member, internal guest)."""
    accounts = external_users(data).select("id", "display_name", "upn", "mail", "user_type", "account_enabled",
                                           "external", "kind")
    mail_domain = pl.col("mail").str.extract(r"@([^@]+)$", 1).str.to_lowercase()
    return accounts.with_columns(home_domain=pl.coalesce(mail_domain, _upn_part(2)),
                                 username=pl.coalesce(pl.col("mail").str.extract(r"^([^@]+)@", 1), _upn_part(1)))


def mssp_accounts(data: TenantData, config: Config) -> pl.DataFrame:
    """The MSSP's analyst accounts (guests and member-type B2B users from its analyst domains)."""
    return external_accounts(data).filter(in_domains(config.mssp.analyst_domains))


def _upn_part(group: int) -> pl.Expr:
    # a.b_contoso.com#EXT#@fabrikam.onmicrosoft.com: '@' of the home address became the last '_'.
    return pl.col("upn").str.split("#EXT#").list.first().str.extract(r"^(.*)_([^_]+)$", group)


def in_domains(domains: tuple[str, ...]) -> pl.Expr:
    return pl.col("home_domain").str.to_lowercase().is_in([d.lower() for d in domains])


def day(value: datetime | None) -> str | None:
    """A date as evidence shows it; None stays None (each check words what a missing date means)."""
    return value.strftime("%Y-%m-%d") if value else None


def who(name: str | None, upn: str | None, ident: str | None) -> str:
    """A principal as a person reads it: the name (and UPN) Graph gave first, the GUID second."""
    label = " ".join(p for p in (name, f"({upn})" if upn and upn != name else None) if p)
    if not label:
        return ident or "unknown"
    return f"{label} [{ident}]" if ident else label


Directory = dict[str, tuple[str | None, str | None]]   # object id → (display name, UPN)


# resource → (table, id column, name column, UPN column): where a principal's name can be read
NAMED_BY = {
    "guests": ("guests", "id", "display_name", "upn"),
    "external_members": ("external_members", "id", "display_name", "upn"),
    "group_members": ("group_members", "member_id", "display_name", "upn"),
    "role_assignments": ("role_assignments", "principal_id", "principal_name", "principal_upn"),
    "assignments": ("assignments", "target_id", "target_name", "target_upn"),
    "groups": ("groups", "id", "display_name", None),
    "connected_organizations": ("connected_organizations", "id", "display_name", None),
}


def directory(data: TenantData, resources: tuple[str, ...]) -> Directory:
    """Names by id, to show beside the GUIDs that policies and reviews carry, read only from the
    given resources: a check names what it declares it reads, nothing else."""
    known: Directory = {}
    for resource in resources:
        if resource in NAMED_BY:
            _add_names(known, data, *NAMED_BY[resource])
    return known


def _add_names(known: Directory, data: TenantData, table: str, ident: str, name: str, upn: str | None) -> None:
    frame = data.tables.get(table)
    if frame is None:
        return
    columns = [ident, name] + ([upn] if upn else [])
    for row in frame.select(columns).iter_rows():
        if row[0] and row[0] not in known:
            known[row[0]] = (row[1], row[2] if upn else None)



SUBJECT_KINDS = {"groupMembers": "members of group", "singleUser": "user",
                 "connectedOrganizationMembers": "members of connected organisation",
                 "singleServicePrincipal": "service principal"}


def subject(ref: str, names: Directory) -> str:
    """A subjectSet reference 'kind:id' (audit.normalize._common.subject_refs) as a person reads it:
    'members of group MSSP Analyst Approvers [5f2e…]', 'user Jane Admin (jane@contoso.com) [7a1c…]'."""
    kind, _, ident = ref.partition(":")
    if kind not in SUBJECT_KINDS:
        return ref
    name, upn = names.get(ident, (None, None))
    shown = who(name, upn, ident) if (name or upn) else f"{ident} (no name in the evidence this check reads)"
    return f"{SUBJECT_KINDS[kind]} {shown}"


def subjects(refs: list[str], names: Directory) -> str | None:
    return "; ".join(subject(r, names) for r in refs) or None
