"""Guest accounts (seed: "Dedicated MSSP AD tenant"; graph-api.md §1)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks._common import CIS_GUEST_REVIEW, ISO_516, ISO_518, NIST_AC2, NIST_AC2_3, SOC2_CC62, day
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Severity, Status
from audit.normalize import TenantData

AREA = "Guest accounts"


@check(CheckSpec(
    id="GA-001", version=1, title="No stale guest accounts", area=AREA, severity=Severity.MEDIUM,
    requirement="Every enabled guest has signed in successfully within the configured number of days (90), or "
                "was created within it.",
    rationale="A guest nobody uses is an account nobody watches: a standing door into the tenant.",
    remediation="Remove or disable the listed guests, or bring them under an access package with expiry and "
                "reviews.",
    references=("Microsoft Graph v1.0: signInActivity.lastSuccessfulSignInDateTime (populated since Dec 2023)",
                "Microsoft Entra: manage inactive user accounts"),
    frameworks=(CIS_GUEST_REVIEW, NIST_AC2_3, ISO_518, SOC2_CC62),
    resources=("guests", "guest_sign_ins"),
))
def stale_guests(data: TenantData, ctx: Context) -> Outcome:
    days = ctx.config.thresholds.stale_guest_days
    cutoff = ctx.now - timedelta(days=days)
    # lastSuccessfulSignInDateTime is the only field that means "got in"; lastSignInDateTime counts failures.
    guests = data.table("guests").filter(pl.col("account_enabled").fill_null(True))
    stale = guests.filter(
        (pl.col("last_successful").is_not_null() & (pl.col("last_successful") < cutoff))
        | (pl.col("last_successful").is_null() & (pl.col("created").is_null() | (pl.col("created") < cutoff)))
    ).sort("last_successful", nulls_last=False)
    rows = [{"guest": r["display_name"], "account": r["upn"], "last successful sign-in": day(r["last_successful"]),
             "created": day(r["created"]),
             "why": "never signed in" if r["last_successful"] is None else f"inactive over {days} days"}
            for r in stale.iter_rows(named=True)]
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} of {guests.height} enabled guest(s) have not signed in "
                                       f"within {days} days.", rows)
    return Outcome.of(Status.PASS, f"All {guests.height} enabled guests signed in within {days} days.")


CHECKS = (stale_guests,)
