"""Guest and other external accounts (seed: "Dedicated MSSP AD tenant"; graph-api.md §1).

Member-type B2B users (userType Member: cross-tenant sync, converted guests) are external accounts
too. The guest query cannot see them; the directory query by external identity
(`external_members`, audit/resources.py) does, and every check here reads both, naming each
account's kind in its evidence (`external_accounts`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._accounts import analyst_access
from audit.checks._common import (EXTERNAL_RESOURCES, day, external_accounts, external_users, in_domains,
                                  mssp_accounts, mssp_package_names)
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.governance import HOLDS_ACCESS

AREA = "Guest accounts"
# graph-api.md §1: lastSuccessfulSignInDateTime is populated from 1 Dec 2023 on and not backfilled.
SUCCESSES_RECORDED_FROM = datetime(2023, 12, 1, tzinfo=UTC)


EXTERNALS = "guest and member-type B2B accounts"
ENABLED = "enabled guests and member-type B2B accounts"


@check(CheckSpec(
    id="GA-001", version=2, title="No stale guest or B2B accounts", area=AREA, severity=Severity.MEDIUM,
    requirement="Every enabled guest or member-type B2B account (cross-tenant-synced or converted) has signed in "
                "successfully within the configured number of days (90), or was created within it.",
    rationale="An external account nobody uses is an account nobody watches: a standing door into the tenant, "
              "whether its userType says Guest or Member.",
    remediation="Remove or disable the listed accounts (for a synced one, take it out of the source tenant's sync "
                "scope), or bring them under an access package with expiry and reviews.",
    references=(ref.SIGN_IN_ACTIVITY.at("lastSuccessfulSignInDateTime, available from 1 Dec 2023 and not backfilled"),
                ref.INACTIVE_USERS.at(), ref.B2B_USER_PROPERTIES.at("user type, identities, #EXT# UPN")),
    resources=("guests", "guest_sign_ins", "external_members", "external_member_sign_ins"),
))
def stale_guests(data: TenantData, ctx: Context) -> Outcome:
    days = ctx.config.thresholds.stale_guest_days
    cutoff = ctx.now - timedelta(days=days)
    guests = external_users(data).filter(pl.col("account_enabled").fill_null(True))
    if not guests.height:
        return Outcome.not_applicable("the tenant has no enabled guest or member-type B2B account",
                                      population=Population(ENABLED, 0))
    # lastSuccessfulSignInDateTime is the only field that means "got in"; lastSignInDateTime counts failures.
    guests = guests.with_columns(last_attempt=pl.max_horizontal("last_sign_in", "last_non_interactive"))
    stale = guests.filter(
        (pl.col("last_successful").is_not_null() & (pl.col("last_successful") < cutoff))
        | (pl.col("last_successful").is_null() & (pl.col("created").is_null() | (pl.col("created") < cutoff)))
    ).sort(pl.coalesce("last_successful", "last_attempt"), nulls_last=False)
    rows = [{"guest": r["display_name"], "account": r["upn"], "kind": r["kind"],
             "last successful sign-in": day(r["last_successful"]), "last sign-in attempt": day(r["last_attempt"]),
             "created": day(r["created"]) or "not recorded", "why": _why_stale(r, days, ctx)}
            for r in stale.iter_rows(named=True)]
    population = Population(ENABLED, guests.height, guests.height - len(rows),
                            f"signed in successfully within {days} days or were created within them")
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} of {guests.height} enabled guest or B2B account(s) have not "
                                       f"signed in successfully within {days} days.", rows, population)
    return Outcome.of(Status.PASS, f"All {guests.height} enabled guest and B2B accounts signed in successfully "
                                   f"within {days} days or were created within them.", population=population)


def _why_stale(guest: dict[str, object], days: int, ctx: Context) -> str:
    """Why a guest counts as stale, in the words the evidence supports (graph-api.md §1)."""
    success, attempt = guest["last_successful"], guest["last_attempt"]
    if isinstance(success, datetime):
        return f"last successful sign-in {(ctx.now - success).days} days ago (more than {days})"
    if isinstance(attempt, datetime) and attempt < SUCCESSES_RECORDED_FROM:
        return (f"last sign-in {day(attempt)}, before 1 Dec 2023 when Graph began recording successful sign-ins, "
                f"and none recorded since: {(ctx.now - attempt).days} days ago (more than {days})")
    created = (f"created more than {days} days ago" if guest["created"] is not None
               else "no creation date (created before June 2018)")
    if isinstance(attempt, datetime):
        return f"sign-in attempts (last {day(attempt)}) but no successful sign-in recorded; {created}"
    return f"no sign-in recorded; {created}"


def _account_rows(frame: pl.DataFrame) -> list[dict[str, object]]:
    return [{"account": r["display_name"], "upn": r["upn"], "home domain": r["home_domain"],
             "user type": r["user_type"], "kind": r["kind"]} for r in frame.iter_rows(named=True)]


@check(CheckSpec(
    id="GA-002", version=2, title="No invitation stays unaccepted too long", area=AREA, severity=Severity.LOW,
    requirement="No guest or account invited as member has been PendingAcceptance for longer than the configured "
                "number of days (30).",
    rationale="An invitation nobody redeemed is an account waiting for whoever gets hold of the link or the "
              "mailbox; after a month it is unlikely to be wanted.",
    remediation="Delete the listed guests, or resend the invitation if the person still needs access.",
    references=(ref.USER.at("externalUserState, externalUserStateChangeDateTime"),),
    resources=EXTERNAL_RESOURCES,
))
def pending_invitations(data: TenantData, ctx: Context) -> Outcome:
    days = ctx.config.thresholds.pending_invitation_days
    # The state's change time is when the invitation was sent; createdDateTime is the fallback, and a
    # guest with neither predates June 2018 (graph-api.md §1), so it counts as old.
    since = pl.coalesce(pl.col("external_state_changed"), pl.col("created"))
    guests = external_users(data)
    if not guests.height:
        return Outcome.not_applicable("the tenant has no guest or member-type B2B account",
                                      population=Population(EXTERNALS, 0))
    pending = guests.filter(pl.col("external_user_state") == "PendingAcceptance").with_columns(since=since)
    old = pending.filter(pl.col("since").is_null() | (pl.col("since") < ctx.now - timedelta(days=days))).sort("since")
    rows = [{"guest": r["display_name"], "account": r["upn"], "kind": r["kind"],
             "invited": day(r["since"]) or "no date recorded (before June 2018)",
             "days pending": (ctx.now - r["since"]).days if r["since"] else None} for r in old.iter_rows(named=True)]
    population = Population(EXTERNALS, guests.height, guests.height - len(rows),
                            f"have no invitation pending for more than {days} days")
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} invitation(s) pending for more than {days} days.", rows,
                          population)
    return Outcome.of(Status.PASS, f"No invitation is pending for more than {days} days "
                                   f"({pending.height} pending in all).", population=population)


@check(CheckSpec(
    id="GA-003", version=2, title="No accounts from the MSSP's corporate tenant", area=AREA, severity=Severity.HIGH,
    requirement="No guest or member-type B2B account (cross-tenant-synced or converted) comes from a domain of the "
                "MSSP's corporate tenant (mssp.corporate_domains).",
    rationale="The seed separates analyst accounts into a dedicated tenant so that a compromised corporate account "
              "does not lead into the customers; a corporate guest undoes that separation.",
    remediation="Remove the listed accounts; the analyst requests access with their dedicated analyst-tenant "
                "account.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_DEDICATED_TENANT,
                                        "In a situation where a corporate account has been compromised, attackers "
                                        "do not gain immediate access into the customer portfolio."),
                ref.B2B_USER_PROPERTIES.at("user type, #EXT# UPN")),
    resources=EXTERNAL_RESOURCES,
))
def corporate_guests(data: TenantData, ctx: Context) -> Outcome:
    domains = ctx.config.mssp.corporate_domains
    if not domains:
        return Outcome.of(Status.NOT_APPLICABLE, "No MSSP corporate domain is configured (mssp.corporate_domains).")
    # v1.0 user objects do not carry the home tenant id, so corporate_tenant_ids cannot be matched here.
    accounts = external_accounts(data)
    if not accounts.height:
        return Outcome.not_applicable("the tenant has no guest or member-type B2B account",
                                      population=Population(EXTERNALS, 0))
    found = accounts.filter(in_domains(domains))
    population = Population(EXTERNALS, accounts.height, accounts.height - found.height,
                            f"come from outside {', '.join(domains)}")
    if found.height:
        return Outcome.of(Status.FAIL, f"{found.height} account(s) come from the MSSP corporate tenant.",
                          _account_rows(found), population)
    return Outcome.of(Status.PASS, f"No account comes from {', '.join(domains)}.", population=population)


MSSP_ACCOUNTS = "MSSP analyst accounts"


def _mssp_accounts(data: TenantData, ctx: Context) -> pl.DataFrame | Outcome:
    """The MSSP's analyst accounts in the tenant, or the NOT_APPLICABLE saying why there are none."""
    domains = ctx.config.mssp.analyst_domains
    if not domains:
        return Outcome.not_applicable("no MSSP analyst domain is configured (mssp.analyst_domains)")
    mssp = mssp_accounts(data, ctx.config)
    if not mssp.height:
        return Outcome.not_applicable(f"no account from {', '.join(domains)} exists in the tenant",
                                      population=Population(MSSP_ACCOUNTS, 0))
    return mssp


@check(CheckSpec(
    id="GA-004", version=2, title="MSSP usernames do not expose personal data", area=AREA, severity=Severity.LOW,
    requirement="The username of every MSSP analyst account matches the configured pattern "
                "(mssp.analyst_username_pattern, e.g. a-Josh3), not the analyst's real name.",
    rationale="The seed's dedicated tenant limits the personal data projected into every customer; a username like "
              "john.smith copies the analyst's full identity into each customer directory.",
    remediation="Rename the account in the MSSP analyst tenant to the pseudonymous format (a-JoshX) and re-invite.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_DEDICATED_TENANT,
                                        "a username of a-JoshX (where x increments) allows user identification "
                                        "without projecting the entire analyst’s identifier into each customer "
                                        "tenant"),),
    resources=EXTERNAL_RESOURCES,
))
def pseudonymous_usernames(data: TenantData, ctx: Context) -> Outcome:
    pattern = re.compile(ctx.config.mssp.analyst_username_pattern)
    # The username (local part of the home address) is what the MSSP tenant chooses and what the
    # customer directory copies into mail, UPN and the guest's identities; the display name is shown
    # in evidence but is not tested: the seed's rule is about the username.
    mssp = _mssp_accounts(data, ctx)
    if isinstance(mssp, Outcome):
        return mssp
    rows = [{"account": r["display_name"], "username": r["username"], "upn": r["upn"], "kind": r["kind"],
             "matches pattern": bool(r["username"] and pattern.fullmatch(r["username"]))}
            for r in mssp.iter_rows(named=True)]
    exposed = [r for r in rows if not r["matches pattern"]]
    population = Population(MSSP_ACCOUNTS, len(rows), len(rows) - len(exposed),
                            f"have a username matching {ctx.config.mssp.analyst_username_pattern}")
    if exposed:
        return Outcome.of(Status.FAIL, f"{len(exposed)} MSSP account(s) have a username outside the pseudonymous "
                                       "pattern.", exposed, population)
    return Outcome.of(Status.PASS, f"All {len(rows)} MSSP accounts use pseudonymous usernames.", rows, population)


@check(CheckSpec(
    id="GA-005", version=2, title="Every MSSP account came through an access package", area=AREA,
    severity=Severity.HIGH,
    requirement="Every MSSP analyst account (guest, or member-type B2B: cross-tenant-synced or converted) holds a "
                "delivered assignment of an MSSP access package.",
    rationale="An MSSP account without an assignment was invited outside governance: no approval, no expiry and "
              "no review covers it.",
    remediation="Remove the listed accounts, or have the analyst request the right package so the access is "
                "governed.",
    references=(ref.MSSP_ACCESS.section(f"{ref.MSSP_PACKAGES} — Provide access request link to MSSP resources",
                                        "The My Access portal link is used by MSSP SOC analysts to request access "
                                        "via the access packages created."),
                ref.ACCESS_PACKAGE_ASSIGNMENT.at("state, target")),
    resources=(*EXTERNAL_RESOURCES, "assignments"),
))
def mssp_accounts_governed(data: TenantData, ctx: Context) -> Outcome:
    delivered = data.table("assignments").filter(
        pl.col("state").is_in(HOLDS_ACCESS) & pl.col("package_name").is_in(mssp_package_names(ctx.config)))
    ids = set(delivered["target_id"].drop_nulls().to_list())
    emails = {e.lower() for e in delivered["target_email"].drop_nulls().to_list()}
    mssp = _mssp_accounts(data, ctx)
    if isinstance(mssp, Outcome):
        return mssp
    ungoverned = mssp.filter(~pl.col("id").is_in(list(ids))
                             & ~pl.col("mail").fill_null("").str.to_lowercase().is_in(list(emails)))
    population = Population(MSSP_ACCOUNTS, mssp.height, mssp.height - ungoverned.height,
                            "hold a delivered MSSP access package")
    if ungoverned.height:
        return Outcome.of(Status.FAIL, f"{ungoverned.height} of {mssp.height} MSSP account(s) hold no MSSP "
                                       "access package.", _account_rows(ungoverned), population)
    return Outcome.of(Status.PASS, f"All {mssp.height} MSSP accounts hold an MSSP access package.",
                      population=population)


@check(CheckSpec(
    id="GA-006", version=2, title="Disabled guests hold no assignments", area=AREA, severity=Severity.MEDIUM,
    requirement="No disabled guest or member-type B2B account still holds a delivered access-package assignment.",
    rationale="Disabling an account without ending its assignments leaves access that comes back the moment the "
              "account is re-enabled, and keeps the guest counted in reviews and licences.",
    remediation="Remove the listed assignments (or the guests); re-enable only through a new request.",
    references=(ref.USER.at("accountEnabled"),
                ref.ACCESS_PACKAGE_ASSIGNMENT.at("state")),
    resources=(*EXTERNAL_RESOURCES, "assignments"),
))
def disabled_with_assignment(data: TenantData, ctx: Context) -> Outcome:
    disabled = external_users(data).filter(pl.col("account_enabled") == False)  # noqa: E712 - null is not disabled
    delivered = data.table("assignments").filter(pl.col("state").is_in(HOLDS_ACCESS))
    if not delivered.height:
        return Outcome.not_applicable("no access-package assignment is delivered",
                                      population=Population("delivered assignments", 0))
    held = delivered.join(disabled.select("id", "upn", "kind"), left_on="target_id", right_on="id", how="inner")
    rows = [{"guest": r["target_name"], "account": r["upn"], "kind": r["kind"], "package": r["package_name"],
             "ends": day(r["end"]) or "no end date"} for r in held.iter_rows(named=True)]
    population = Population("delivered assignments", delivered.height, delivered.height - len(rows),
                            "are held by accounts that are not disabled guests or B2B members")
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} delivered assignment(s) held by disabled guest or B2B "
                                       "accounts.", rows, population)
    return Outcome.of(Status.PASS, f"None of the {delivered.height} delivered assignments is held by a disabled "
                                   f"guest or B2B account ({disabled.height} disabled in the tenant).",
                      population=population)


@check(CheckSpec(
    id="GA-007", version=2, title="Analysts sign in at the MSSP tenant, not with local accounts", area=AREA,
    severity=Severity.HIGH,
    requirement="No account local to the customer tenant (neither a B2B guest nor a cross-tenant-synced user) sits "
                "in an MSSP group, holds an MSSP access package or has a username matching the analyst pattern "
                "(mssp.analyst_username_pattern).",
    rationale="In the seed's authentication flow analysts authenticate in the MSSP tenant and the customer tenant "
              "only validates the token, so the MSSP's MFA and leaver process govern every analyst credential. A "
              "local account is a credential the customer issued: the MSSP's controls never see it, and it keeps "
              "working after the analyst has left the MSSP.",
    remediation="Remove the listed accounts from the MSSP groups and packages and delete or disable them; the "
                "analyst requests access through the access package with their MSSP-tenant identity.",
    references=(ref.MSSP_ACCESS.section("Authentication Flow",
                                        "This means the analyst credentials remain within the MSSP AD tenant."),
                ref.MSSP_ACCESS.section(ref.MSSP_DEDICATED_TENANT),
                ref.USER.at("userType, creationType, externalUserState")),
    resources=("guests", "external_members", "groups", "group_members", "assignments"),
), unlicensed_is_absent=("assignments",))
def no_local_analysts(data: TenantData, ctx: Context) -> Outcome:
    """Without P2 there is no access package to hold: the groups and the usernames still tell."""
    accounts = analyst_access(data, ctx)
    population = Population("accounts with MSSP access or an analyst username", len(accounts),
                            sum(not a.local for a in accounts.values()), "are external (their home is another tenant)")
    if not accounts:
        return Outcome.not_applicable("no account is in an MSSP group, holds an MSSP package or has an analyst "
                                      "username", population=population)
    local = [a for a in accounts.values() if a.local]
    rows = [a.row() for a in sorted(local or accounts.values(), key=lambda a: (a.upn or "", a.id))]
    if local:
        return Outcome.of(Status.FAIL, f"{len(local)} local account(s) of this tenant have analyst access or an "
                                       "analyst username.", rows, population)
    return Outcome.of(Status.PASS, f"All {len(accounts)} accounts with MSSP access or an analyst username are "
                                   "external: analysts sign in at their home tenant.", rows, population)


CHECKS = (stale_guests, pending_invitations, corporate_guests, pseudonymous_usernames, mssp_accounts_governed,
          disabled_with_assignment, no_local_analysts)
