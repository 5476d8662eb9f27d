"""Access reviews actually happen (graph-api.md §3)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from audit.checks import references as ref
from audit.checks._common import day, group_ids, mssp_package_names, package_groups, who
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.reviews import APPLY_RESULT, DECISION, INSTANCE_STATUS, NOBODY

AREA = "Access reviews"
# accessReviewInstance.status (INSTANCE_STATUS): the documented values that mean the review is done
# ('Applied' only in the v1.0 list-instances example, not in the resource page's list).
DONE = ("Completed", "AutoReviewed", "Applied")
NOT_ANSWERED = ("NotReviewed", "DontKnow")
APPLIED = ("AppliedSuccessfully", "AppliedSuccessfullyButObjectNotFound")
MOSTLY = 0.5          # "mostly" = more than half of an instance's decisions
NO_REVIEWS = "no access reviews exist"


@check(CheckSpec(
    id="AR-001", version=1, title="No access review is overdue", area=AREA, severity=Severity.HIGH,
    requirement="Every access review instance whose end date has passed is completed.",
    rationale="A review that ends without completing leaves every analyst's access confirmed by nobody.",
    remediation="Ask the reviewers to complete the listed reviews; enable auto-apply and a default decision.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Has annual access reviews"),
                ref.REVIEW_INSTANCE.at("status, endDateTime")),
    resources=("review_definitions", "review_instances"),
))
def overdue_reviews(data: TenantData, ctx: Context) -> Outcome:
    definitions = data.table("review_definitions")
    names = dict(definitions.select("id", "display_name").iter_rows())
    ended = canonical_instances(data).filter(pl.col("end").is_not_null() & (pl.col("end") < ctx.now))
    unread = _unread_status(ended, names)
    ended = ended.filter(pl.col("status").is_in(INSTANCE_STATUS.meanings.keys()))
    if not ended.height:         # AR-003 fails where an MSSP package goes unreviewed
        return Outcome.not_applicable(NO_REVIEWS if not definitions.height else "no review instance has ended yet",
                                      population=Population("ended review instances", 0), not_understood=unread)
    overdue = ended.filter(~pl.col("status").is_in(DONE)).sort("end")
    rows = [{"review": names.get(r["definition_id"]) or r["definition_id"], "instance": r["id"],
             "ended": day(r["end"]), "status": r["status"], "days overdue": (ctx.now - r["end"]).days}
            for r in overdue.iter_rows(named=True)]
    population = Population("ended review instances", ended.height, ended.height - len(rows), "completed")
    if rows:
        return Outcome.of(Status.FAIL, f"{len(rows)} review instance(s) ended without completing.", rows, population,
                          unread)
    return Outcome.of(Status.PASS, f"All {ended.height} review instances that have ended were completed.",
                      population=population, not_understood=unread)


def canonical_instances(data: TenantData) -> pl.DataFrame:
    """Review instances with their status in its documented spelling (Graph's strings are case-blind)."""
    instances = data.table("review_instances")
    return instances.with_columns(status=pl.Series([INSTANCE_STATUS.canonical(v) for v in instances["status"]],
                                                   dtype=pl.String))


def _unread_status(instances: pl.DataFrame, names: dict[str, str]) -> list[NotUnderstood | None]:
    return [INSTANCE_STATUS.judge(r["status"], f"instance {r['id']} of review "
                                                f"{names.get(r['definition_id']) or r['definition_id']}")
            for r in instances.iter_rows(named=True)]


def _recent_done(data: TenantData, ctx: Context) -> pl.DataFrame:
    """Completed instances of the last review cycle (thresholds.review_max_age_days, 365 by default)."""
    since = ctx.now - timedelta(days=ctx.config.thresholds.review_max_age_days)
    ended = pl.coalesce(pl.col("end"), pl.col("start"))
    return canonical_instances(data).filter(pl.col("status").is_in(DONE) & (ended.is_null() | (ended >= since)))


@check(CheckSpec(
    id="AR-002", version=1, title="Completed reviews were answered and applied", area=AREA, severity=Severity.MEDIUM,
    requirement="In every review instance completed within the last cycle, most decisions were taken (not "
                "'NotReviewed') and applied (applyResult 'AppliedSuccessfully…').",
    rationale="A review that completes with nobody answering, or whose denials were never applied, looks done in "
              "the portal yet confirmed or removed nothing.",
    remediation="Ask the reviewers to answer; enable auto-apply, or apply the results of the listed reviews by "
                "hand; consider a default decision of Deny for unanswered items.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Has annual access reviews"),
                ref.REVIEW_DECISION.at("decision, applyResult")),
    resources=("review_definitions", "review_instances", "review_decisions"),
))
def reviews_answered(data: TenantData, ctx: Context) -> Outcome:
    definitions = data.table("review_definitions")
    names = dict(definitions.select("id", "display_name").iter_rows())
    done = _recent_done(data, ctx)
    decisions = data.table("review_decisions").filter(pl.col("instance_id").is_in(done["id"].to_list()))
    decisions = decisions.with_columns(
        decision=pl.Series([DECISION.canonical(v) for v in decisions["decision"]], dtype=pl.String),
        apply_result=pl.Series([APPLY_RESULT.canonical(v) for v in decisions["apply_result"]], dtype=pl.String))
    # A decision whose answer or application we cannot read counts neither way: it is named instead.
    # (an instance whose status we cannot read may be one more completed instance)
    unread = [*_unread_status(canonical_instances(data), names),
              *(judged for r in decisions.iter_rows(named=True)
                for judged in (DECISION.judge(r["decision"], f"decision {r['id']} of instance {r['instance_id']}"),
                               APPLY_RESULT.judge(r["apply_result"], f"decision {r['id']} of instance "
                                                                     f"{r['instance_id']}")))]
    decisions = decisions.filter(pl.col("decision").is_in(DECISION.meanings.keys())
                                 & pl.col("apply_result").is_in(APPLY_RESULT.meanings.keys()))
    stats = (decisions.group_by("instance_id", maintain_order=True)
             .agg(total=pl.len(), not_reviewed=pl.col("decision").is_in(NOT_ANSWERED).sum(),
                  not_applied=(~pl.col("apply_result").is_in(APPLIED)).sum()))
    reviewers = _reviewers(decisions)
    rows = []
    # group_by does not keep order: sort on the id too, so the evidence (and the render cache key) is stable.
    for r in done.join(stats, left_on="id", right_on="instance_id", how="inner").sort("end", "id").iter_rows(
            named=True):
        unanswered, unapplied = r["not_reviewed"] / r["total"], r["not_applied"] / r["total"]
        rows.append({"review": names.get(r["definition_id"]) or r["definition_id"], "instance": r["id"],
                     "ended": day(r["end"]), "decisions": r["total"], "not reviewed": r["not_reviewed"],
                     "not applied": r["not_applied"], "reviewed by": reviewers.get(r["id"]),
                     "compliant": unanswered <= MOSTLY and unapplied <= MOSTLY})
    bad = [r for r in rows if not r["compliant"]]
    days = ctx.config.thresholds.review_max_age_days
    population = Population(f"review instances completed in the last {days} days", len(rows), len(rows) - len(bad),
                            "were mostly answered and applied")
    if not rows:
        return Outcome.not_applicable(
            NO_REVIEWS if not definitions.height else f"no access review instance with decisions completed in the "
                                                      f"last {days} days", population=population, not_understood=unread)
    if bad:
        return Outcome.of(Status.FAIL, f"{len(bad)} completed review instance(s) were mostly unanswered or not "
                                       "applied.", bad, population, unread)
    return Outcome.of(Status.PASS, f"{len(rows)} completed review instance(s) in the last cycle were answered and "
                                   "applied.", rows, population, unread)


def _reviewers(decisions: pl.DataFrame) -> dict[str, str]:
    """instance id → who answered its decisions, as Graph names them (reviewedBy), the GUID second."""
    answered = decisions.filter(pl.col("reviewed_by").is_not_null() & (pl.col("reviewed_by") != NOBODY))
    out: dict[str, list[str]] = {}
    for r in answered.unique(["instance_id", "reviewed_by"], maintain_order=True).iter_rows(named=True):
        out.setdefault(r["instance_id"], []).append(who(r["reviewed_by_name"], r["reviewed_by_upn"], r["reviewed_by"]))
    return {instance: "; ".join(sorted(people)) for instance, people in out.items()}


@check(CheckSpec(
    id="AR-003", version=1, title="Each MSSP package was reviewed within the last 12 months", area=AREA,
    severity=Severity.HIGH,
    requirement="For each MSSP access package a review naming the package, one of its policies or the group it "
                "fills has an instance completed within the last 365 days.",
    rationale="Policies can carry review settings that never produced a review; only a completed instance proves "
              "that the customer re-confirmed each analyst this year.",
    remediation="Create or repair the access review of the package (its policy's Lifecycle → Access reviews, or a "
                "review of the group) and have it completed.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Has annual access reviews"),
                ref.REVIEW_DEFINITION.at("scope"),
                ref.REVIEW_INSTANCE.at("status, endDateTime")),
    resources=("access_packages", "groups", "review_definitions", "review_instances"),
))
def packages_reviewed(data: TenantData, ctx: Context) -> Outcome:
    packages = data.table("access_packages").filter(pl.col("display_name").is_in(mssp_package_names(ctx.config)))
    policies = data.table("policies")
    definitions = data.table("review_definitions")
    done = _recent_done(data, ctx)
    days = ctx.config.thresholds.review_max_age_days
    group_of = {package: group for group, package in package_groups(ctx.config)}
    evidence, bad, unknown = [], [], []
    for pkg in packages.iter_rows(named=True):
        # A review names its object by id: /groups/{id}/… queries, accessPackageId, resourceId (policy id).
        keys = [pkg["id"], *policies.filter(pl.col("package_id") == pkg["id"])["id"].to_list(),
                *group_ids(data, group_of[pkg["display_name"]])]
        keys = [k.lower() for k in keys if k]
        # displayName may be null; the review is then named by its id.
        covering = {d["id"]: d["display_name"] or d["id"] for d in definitions.iter_rows(named=True)
                    if any(k in ref.lower() for ref in d["scope_refs"] for k in keys)}
        instances = done.filter(pl.col("definition_id").is_in(list(covering)))
        # an instance whose status we cannot read may be the completed one
        unread = [] if instances.height else [n for n in _unread_status(
            canonical_instances(data).filter(pl.col("definition_id").is_in(list(covering))), covering) if n]
        unknown.extend(unread)
        last = instances.select(pl.coalesce("end", "start").max()).item() if instances.height else None
        evidence.append({"package": pkg["display_name"], "reviews": ", ".join(covering.values()) or None,
                         "last completed": day(last) or f"none in the last {days} days",
                         "days ago": (ctx.now - last).days if last is not None else None,
                         "compliant": instances.height > 0})
        if not instances.height and not unread:
            bad.append(pkg["display_name"] if covering else f"{pkg['display_name']} (no review names it)")
    unsure = sum(1 for e in evidence if e["compliant"] is False) - len(bad)
    population = Population("MSSP access packages", packages.height, packages.height - len(bad) - unsure,
                            f"were reviewed within {days} days")
    if not packages.height:      # EM-002 fails for the missing packages
        return Outcome.not_applicable("no MSSP access package exists", population=population)
    if bad:
        note = " (no access reviews exist)" if not definitions.height else ""
        return Outcome.of(Status.FAIL, f"Not reviewed within {days} days{note}: {'; '.join(bad)}.", evidence,
                          population, unknown)
    return Outcome.of(Status.PASS, "Every MSSP package was reviewed within the last cycle.", evidence, population,
                      unknown)


CHECKS = (overdue_reviews, reviews_answered, packages_reviewed)
