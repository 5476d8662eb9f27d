"""Accounts with analyst access, and whether each is local to the customer tenant (GA-007).

Whether an account is external is `audit.normalize.users.b2b_marks`, the one test every stage uses:
B2B guests, cross-tenant-synced and converted members are external. Anything else is an account of
the customer tenant itself, whatever its userType, with a credential the customer issued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from audit.checks._common import mssp_group_ids, mssp_package_names
from audit.checks._framework import Context
from audit.normalize import TenantData
from audit.normalize.governance import HOLDS_ACCESS
from audit.normalize.users import account_kind, b2b_marks


@dataclass
class Account:
    id: str
    display_name: str | None
    upn: str | None
    user_type: str | None
    creation_type: str | None
    external_user_state: str | None
    known: bool                      # its user object was collected (not only an assignment's target)
    links: list[str] = field(default_factory=list)   # what ties it to the MSSP: group, package, username

    @property
    def marks(self) -> tuple[str, ...]:
        return b2b_marks(self.upn, self.creation_type, self.external_user_state)

    @property
    def external(self) -> bool:
        return bool(self.marks)

    @property
    def local(self) -> bool:
        # An assignment target whose user object was not collected is judged by its UPN alone; one
        # without a UPN cannot be shown to be local.
        return not self.external and (self.known or self.upn is not None)

    def row(self) -> dict[str, object]:
        kind = account_kind(self.user_type, self.marks, self.external_user_state) if self.known else None
        return {"account": self.display_name, "upn": self.upn, "user type": self.user_type, "kind": kind,
                "local": self.local, "why": self._why(), "analyst access": "; ".join(self.links)}

    def _why(self) -> str:
        if self.external:
            return "external: " + ", ".join(self.marks)
        if not self.known:
            return "local by its UPN (no #EXT#); its user object was not collected"
        return (f"local: userType {self.user_type}, UPN without #EXT#, creationType "
                f"{self.creation_type or 'null (an account of this tenant)'}, no externalUserState")


def analyst_access(data: TenantData, ctx: Context) -> dict[str, Account]:
    """Every collected account in an MSSP group, holding a delivered MSSP package, or named like an
    analyst (mssp.analyst_username_pattern), by id, with what ties it to the MSSP."""
    pattern = re.compile(ctx.config.mssp.analyst_username_pattern)
    accounts: dict[str, Account] = {}

    def add(row: dict[str, Any], link: str, *, known: bool = True) -> None:
        ident = str(row["id"])
        account = accounts.get(ident)
        if account is None:
            account = accounts[ident] = Account(ident, row.get("display_name"), row.get("upn"), row.get("user_type"),
                                                row.get("creation_type"), row.get("external_user_state"), known)
        if link not in account.links:
            account.links.append(link)

    users = _users(data)
    groups = mssp_group_ids(data, ctx.config)
    members = data.table("group_members").filter(pl.col("group_id").is_in(list(groups))
                                                 & (pl.col("member_type").fill_null("user") == "user"))
    for r in members.iter_rows(named=True):
        add({**r, "id": r["member_id"]}, f"member of {groups[r['group_id']]}")
    assignments = data.tables.get("assignments")      # absent: entitlement management not licensed
    if assignments is not None:
        held = assignments.filter(pl.col("state").is_in(HOLDS_ACCESS)
                                  & pl.col("package_name").is_in(mssp_package_names(ctx.config)))
        for r in held.drop_nulls("target_id").iter_rows(named=True):
            user = users.get(r["target_id"])
            add(user or {"id": r["target_id"], "display_name": r["target_name"], "upn": r["target_upn"]},
                f"holds {r['package_name']}", known=user is not None)
    for user in users.values():
        if _matches(pattern, user.get("upn")):
            add(user, "username matches the analyst pattern")
    for account in accounts.values():
        if _matches(pattern, account.upn):
            add({"id": account.id}, "username matches the analyst pattern")
    return accounts


def username(upn: object) -> str:
    """The username of a UPN: 'a-josh3' of a-josh3@contoso.com and of a-josh3_soc.example#EXT#@contoso.com."""
    text = str(upn or "")
    if "#EXT#" in text:
        return text.split("#EXT#")[0].rpartition("_")[0]
    return text.partition("@")[0]


def _matches(pattern: re.Pattern[str], upn: object) -> bool:
    name = username(upn)
    return bool(name) and pattern.fullmatch(name) is not None


def _users(data: TenantData) -> dict[str, dict[str, Any]]:
    """Every user object collected, by id: guests, member-type B2B users and the MSSP groups' members."""
    columns = ["id", "display_name", "upn", "user_type", "creation_type", "external_user_state"]
    members = data.table("group_members").filter(pl.col("member_type").fill_null("user") == "user").rename(
        {"member_id": "id"}).select(columns)
    users: dict[str, dict[str, Any]] = {}
    for frame in (data.table("guests").select(columns), data.table("external_members").select(columns), members):
        for r in frame.iter_rows(named=True):
            users.setdefault(r["id"], r)
    return users
