"""What the MSSP packages' assignment policies say about approval, reviews and extension.

Seed: "Configure Governance Access Packages" and the Tier 1 Analyst configuration; Graph shapes
in graph-api.md §2 (accessPackageAssignmentPolicy, subjectSet, reviewSettings).
"""

from __future__ import annotations

import polars as pl

from audit.checks import references as ref
from audit.checks._common import (analyst_packages, directory, external_accounts, group_ids, mssp_group_ids,
                                  mssp_policies, no_analyst_policy, subject, subjects)
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, NotUnderstood, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.governance import APPROVER, REVIEW_EXPIRATION_BEHAVIOR, REVIEW_RECURRENCE, REVIEWER
from audit.normalize.vocabulary import missing

AREA = "Entitlement management"

# subjectSet kinds (graph-api.md §2) that name nobody on the customer's side: the MSSP's own
# sponsors or members, or the requestor's manager (an MSSP guest's manager, if any, is MSSP staff).
NOT_CUSTOMER_SIDE = {"externalSponsors": "the MSSP organisation's external sponsors",
                     "connectedOrganizationMembers": "members of a connected (external) organisation",
                     "requestorManager": "the requestor's manager, not a named customer principal",
                     "targetManager": "the target's manager, not a named customer principal",
                     "singleServicePrincipal": "an application, not a customer person"}


def _approver_verdict(ref: str, mssp_groups: dict[str, str], approvers: set[str],
                      externals: dict[str, str]) -> tuple[bool | None, str]:
    """(customer-side?, why) for one 'kind:id' approver; None when the kind is unknown to us."""
    kind, _, ident = ref.partition(":")
    if kind == "groupMembers":
        if ident in mssp_groups:
            return False, f"members of the MSSP group '{mssp_groups[ident]}' (self-approval)"
        return True, "members of a customer group (its membership is not collected)"
    if kind == "singleUser":
        if ident in approvers:
            return False, "a member of the MSSP Analyst Approvers group (self-approval)"
        if ident in externals:
            return False, f"an external account ({externals[ident]})"
        return True, "a named user of the customer directory"
    if kind == "internalSponsors":
        return True, "the connected organisation's internal (customer) sponsors"
    if kind in NOT_CUSTOMER_SIDE:
        return False, NOT_CUSTOMER_SIDE[kind]
    return None, f"approver type '{kind}' not understood"      # APPROVER.judge names it


@check(CheckSpec(
    id="EM-012", version=2, title="The Approvers package is approved on the customer's side", area=AREA,
    severity=Severity.CRITICAL,
    requirement="Every policy of the MSSP Analyst Approvers package requires approval, and every approver is a "
                "customer-side principal: never the Approvers group or one of its members, and never an MSSP "
                "guest or other external account.",
    rationale="The seed's two levels of approval only hold if the customer confirms who joins the Approvers; if "
              "the approvers approve themselves the MSSP decides alone who can grant analyst access to the "
              "customer's Defender tenant.",
    remediation="Edit the Approvers package policy: require approval; first approver a named customer "
                "administrator or a customer group (seed: 'confirmed by Customer Admin (or delegated contact)').",
    references=(ref.MSSP_ACCESS.section("What is delegated access? (approval in two areas)",
                                        "MSSP Analyst Approver access package is provisioned, with approval to join "
                                        "confirmed by Customer Admin (or delegated contact)"),
                ref.ASSIGNMENT_POLICY.at("requestApprovalSettings")),
    resources=("access_packages", "groups", "group_members", "guests", "external_members"),
))
def approvers_not_self_approved(data: TenantData, ctx: Context) -> Outcome:
    mssp_groups = mssp_group_ids(data, ctx.config)
    approver_group = group_ids(data, ctx.config.mssp.approvers_group)
    approvers = set(data.table("group_members").filter(pl.col("group_id").is_in(approver_group))["member_id"])
    accounts = external_accounts(data)
    externals = {r["id"]: f"{r['upn'] or r['display_name']}: {r['kind']}" for r in accounts.iter_rows(named=True)}
    policies = data.table("policies").filter(pl.col("package_name") == ctx.config.mssp.approvers_package)
    if not policies.height:      # EM-002 fails for the missing package or policy
        return Outcome.not_applicable(f"no policy of the '{ctx.config.mssp.approvers_package}' package exists",
                                      population=Population("policies of the Approvers package", 0))
    names = directory(data, ("groups", "guests", "external_members", "group_members"))
    evidence, bad, unknown = [], [], []
    unread: list[NotUnderstood | None] = []
    failing: set[str] = set()
    for p in policies.iter_rows(named=True):
        if p["approval_required"] is None:
            unread.append(missing("access_packages", "requestApprovalSettings.isApprovalRequiredForAdd",
                                  f"policy {p['display_name'] or p['id']}"))
            failing.add(p["id"])
            continue
        if not p["approval_required"] or not p["approvers"]:
            evidence.append({"policy": p["display_name"], "approver": None, "customer side": False,
                             "why": "no approval required"})
            bad.append(f"{p['display_name']}: no approval")
            failing.add(p["id"])
            continue
        for ref in p["approvers"]:
            ok, why = _approver_verdict(ref, mssp_groups, approvers, externals)
            evidence.append({"policy": p["display_name"], "approver": subject(ref, names), "customer side": ok,
                             "why": why})
            if ok is not True:
                failing.add(p["id"])
            if ok is False:
                bad.append(f"{p['display_name']}: {why}")
            elif ok is None:
                unknown.append(why)
                unread.append(APPROVER.judge(ref.partition(":")[0] or None, f"policy {p['display_name'] or p['id']}"))
    population = Population("policies of the Approvers package", policies.height, policies.height - len(failing),
                            "are approved by customer-side principals only")
    if bad:
        return Outcome.of(Status.FAIL, f"The Approvers package is not approved on the customer's side: "
                                       f"{'; '.join(bad)}.", evidence, population, unread)
    return Outcome.of(Status.PASS, "The Approvers package is approved by customer-side principals only.", evidence,
                      population, unread)


def at_least_annual(kind: str | None, interval: int | None) -> bool:
    """Whether a recurrence pattern (graph-api.md §2 'schedule') comes round at least once a year."""
    every = interval or 1
    if kind == "daily":
        return every <= 366
    if kind == "weekly":
        return every <= 52
    if kind in ("absoluteMonthly", "relativeMonthly"):
        return every <= 12
    if kind in ("absoluteYearly", "relativeYearly"):
        return every <= 1
    return False        # absent, unknownFutureValue or a value Graph added later: not shown to be annual


@check(CheckSpec(
    id="EM-013", version=1, title="MSSP package policies carry annual access reviews", area=AREA,
    severity=Severity.HIGH,
    requirement="Every MSSP package policy has access reviews enabled, recurring at least yearly, with named "
                "reviewers, and an expiration behaviour as configured (removeAccess by default).",
    rationale="Annual reviews are how the customer re-confirms each analyst; without reviewers nobody answers, and "
              "with 'keepAccess' an unanswered review silently keeps everyone.",
    remediation="Edit the policy's Lifecycle → Access reviews: Yes, annually, reviewers set, 'If reviewers don't "
                "respond': Remove access (or set [expectations].review_expiration_behavior).",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "Has annual access reviews"),
                ref.ASSIGNMENT_POLICY.at("reviewSettings")),
    resources=("access_packages", "groups"),     # groups: to name the reviewer groups
))
def policy_reviews(data: TenantData, ctx: Context) -> Outcome:
    expected = ctx.config.expectations.review_expiration_behavior
    policies = mssp_policies(data, ctx.config)
    if not policies.height:      # EM-002 fails for the missing packages and policies
        return Outcome.not_applicable("no MSSP package policy exists",
                                      population=Population("MSSP package policies", 0))
    names = directory(data, ("groups",))
    evidence, bad, unknown, unsure = [], [], [], 0
    for p in policies.iter_rows(named=True):
        problems = []
        where = f"policy {p['display_name'] or p['id']}"
        unread = [missing("access_packages", "reviewSettings.isEnabled", where)] if p["reviews_enabled"] is None \
            else [] if not p["reviews_enabled"] else [
            REVIEW_RECURRENCE.judge(p["review_recurrence"], where),
            REVIEW_EXPIRATION_BEHAVIOR.judge(p["review_expiration_behavior"], where),
            *(REVIEWER.judge(r.partition(":")[0] or None, where) for r in p["reviewers"])]
        not_read = {n.property for n in unread if n}
        if p["reviews_enabled"] is False:
            problems.append("reviews disabled")
        elif p["reviews_enabled"] is None:
            pass
        else:
            if REVIEW_RECURRENCE.property not in not_read and not at_least_annual(p["review_recurrence"],
                                                                                    p["review_interval"]):
                problems.append(f"recurrence {p['review_recurrence']} every {p['review_interval']}")
            if p["self_review"]:
                # accessPackageAssignmentReviewSettings.isSelfReview: the analysts confirm their own access.
                problems.append("self-review (the analysts review themselves)")
            elif not p["reviewers"]:
                problems.append("no reviewers")
            if REVIEW_EXPIRATION_BEHAVIOR.property not in not_read and p["review_expiration_behavior"] != expected:
                problems.append(f"expirationBehavior {p['review_expiration_behavior']}")
        if not problems and any(unread):
            unknown.extend(unread)
            unsure += 1
        evidence.append({"package": p["package_name"], "policy": p["display_name"], "reviews": p["reviews_enabled"],
                         "recurrence": f"{p['review_recurrence']} / {p['review_interval']}",
                         "reviewers": subjects(p["reviewers"], names),
                         "if unanswered": p["review_expiration_behavior"], "problems": "; ".join(problems) or None})
        if problems:
            bad.append(f"{p['package_name']} ({', '.join(problems)})")
    population = Population("MSSP package policies", len(evidence), len(evidence) - len(bad) - unsure,
                            f"review access at least yearly with reviewers, ending with '{expected}'")
    if bad:
        return Outcome.of(Status.FAIL, f"Access reviews missing or weak: {'; '.join(bad)}.", evidence, population,
                          unknown)
    return Outcome.of(Status.PASS, f"Every MSSP policy reviews access at least yearly and ends with '{expected}'.",
                      evidence, population, unknown)


@check(CheckSpec(
    id="EM-014", version=1, title="Analysts can request an extension of their access", area=AREA,
    severity=Severity.LOW,
    requirement="Every Tier 1 and Tier 2 policy lets the analyst request an extension "
                "(requestorSettings.enableTargetsToSelfUpdateAccess).",
    rationale="With 365-day expiry, an analyst who cannot extend loses access on a fixed date and must start over "
              "— the pressure that makes people ask for access outside the packages.",
    remediation="Edit the policy's Requests → 'Allow requestors to extend access': Yes (extension still goes "
                "through approval).",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_TIER1, "where the SOC analysts can request an access extension"),
                ref.ASSIGNMENT_POLICY.at("requestorSettings.enableTargetsToSelfUpdateAccess")),
    resources=("access_packages",),
))
def self_extension(data: TenantData, ctx: Context) -> Outcome:
    policies = data.table("policies").filter(pl.col("package_name").is_in(analyst_packages(ctx.config)))
    evidence = [{"package": p["package_name"], "policy": p["display_name"], "can extend": p["self_update"]}
                for p in policies.iter_rows(named=True)]
    bad = [f"{r['package']} / {r['policy']}" for r in evidence if r["can extend"] is False]
    unread = [missing("access_packages", "requestorSettings.enableTargetsToSelfUpdateAccess", f"policy {r['policy']}")
              for r in evidence if r["can extend"] is None]
    population = Population("analyst package policies", len(evidence), len(evidence) - len(bad) - len(unread),
                            "let analysts request an extension")
    if not evidence:             # EM-002 fails for the missing packages and policies
        return Outcome.not_applicable(no_analyst_policy(ctx.config), population=population)
    if bad:
        return Outcome.of(Status.FAIL, f"Analysts cannot extend their access: {'; '.join(bad)}.", evidence,
                          population, unread)
    return Outcome.of(Status.PASS, "Analysts can request an extension on every analyst policy.", evidence,
                      population, unread)


CHECKS = (approvers_not_self_approved, policy_reviews, self_extension)
