"""Access reviews actually happen (graph-api.md §3)."""

from __future__ import annotations

import polars as pl

from audit.checks._common import CIS_GUEST_REVIEW, ISO_518, NIST_AC2, SEED, SOC2_CC62, day
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Severity, Status
from audit.normalize import TenantData

AREA = "Access reviews"
DONE = ("Completed", "AutoReviewed", "Applied")


@check(CheckSpec(
    id="AR-001", version=1, title="No access review is overdue", area=AREA, severity=Severity.HIGH,
    requirement="Every access review instance whose end date has passed is completed.",
    rationale="A review that ends without completing leaves every analyst's access confirmed by nobody.",
    remediation="Ask the reviewers to complete the listed reviews; enable auto-apply and a default decision.",
    references=(f"{SEED}, Tier 1 Analyst configuration — 'Has annual access reviews'",
                "Microsoft Graph v1.0: accessReviewInstance.status"),
    frameworks=(CIS_GUEST_REVIEW, NIST_AC2, ISO_518, SOC2_CC62),
    resources=("review_definitions", "review_instances"),
))
def overdue_reviews(data: TenantData, ctx: Context) -> Outcome:
    names = dict(data.table("review_definitions").select("id", "display_name").iter_rows())
    overdue = data.table("review_instances").filter(
        pl.col("end").is_not_null() & (pl.col("end") < ctx.now) & ~pl.col("status").is_in(DONE)).sort("end")
    rows = [{"review": names.get(r["definition_id"], r["definition_id"]), "instance": r["id"],
             "ended": day(r["end"]), "status": r["status"], "days overdue": (ctx.now - r["end"]).days}
            for r in overdue.iter_rows(named=True)]
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} review instance(s) ended without completing.", rows)
    return Outcome.of(Status.PASS, f"All {data.table('review_instances').height} review instances are on time.")


CHECKS = (overdue_reviews,)
