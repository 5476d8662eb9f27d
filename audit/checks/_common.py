"""Small domain helpers the check areas share."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from audit.config import Config
from audit.normalize import TenantData

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
ROLE_NAMES = {GLOBAL_ADMIN: "Global Administrator", SECURITY_ADMIN: "Security Administrator",
              PRIVILEGED_ROLE_ADMIN: "Privileged Role Administrator"}


def analyst_packages(config: Config) -> tuple[str, str]:
    return config.mssp.tier1_package, config.mssp.tier2_package


def mssp_package_names(config: Config) -> tuple[str, str, str]:
    return config.mssp.tier1_package, config.mssp.tier2_package, config.mssp.approvers_package


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


def external_accounts(data: TenantData) -> pl.DataFrame:
    """Guests, plus member-type B2B users found in the MSSP groups.

    graph-api.md §1: cross-tenant-synced and converted B2B users are userType Member with a #EXT#
    UPN, so the guest query misses them; the groups' transitive members are where they show.
    """
    guests = data.table("guests").select(
        "id", "display_name", "upn", "mail", "user_type", "account_enabled", source=pl.lit("guest"))
    members = (data.table("group_members")
               .filter(pl.col("upn").fill_null("").str.contains("#EXT#", literal=True)
                       & ~pl.col("member_id").is_in(guests["id"].to_list()))
               .unique("member_id", keep="first", maintain_order=True)
               .select(pl.col("member_id").alias("id"), "display_name", "upn", pl.lit(None, pl.String).alias("mail"),
                       "user_type", pl.lit(None, pl.Boolean).alias("account_enabled"),
                       source=pl.lit("member-type B2B (group member)")))
    accounts = pl.concat([guests, members], how="vertical")
    mail_domain = pl.col("mail").str.extract(r"@([^@]+)$", 1).str.to_lowercase()
    return accounts.with_columns(home_domain=pl.coalesce(mail_domain, _upn_part(2)),
                                 username=pl.coalesce(pl.col("mail").str.extract(r"^([^@]+)@", 1), _upn_part(1)))


def _upn_part(group: int) -> pl.Expr:
    # a.b_contoso.com#EXT#@fabrikam.onmicrosoft.com: '@' of the home address became the last '_'.
    return pl.col("upn").str.split("#EXT#").list.first().str.extract(r"^(.*)_([^_]+)$", group)


def in_domains(domains: tuple[str, ...]) -> pl.Expr:
    return pl.col("home_domain").str.to_lowercase().is_in([d.lower() for d in domains])


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "never"
