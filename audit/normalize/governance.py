"""Entitlement management (graph-api.md §2): organisations, packages, policies, assignments, requests."""

from __future__ import annotations

import polars as pl

from audit.normalize._common import UTC_TIME, GraphObject, Items, graph_items, subject_refs

STRINGS = pl.List(pl.String)

CONNECTED_ORGANIZATIONS = {"id": pl.String, "display_name": pl.String, "state": pl.String,
                           "tenant_ids": STRINGS, "domains": STRINGS, "created": UTC_TIME}
CATALOGS = {"id": pl.String, "display_name": pl.String, "state": pl.String, "externally_visible": pl.Boolean}
ACCESS_PACKAGES = {"id": pl.String, "display_name": pl.String, "is_hidden": pl.Boolean, "policies": pl.Int64}
POLICIES = {
    "id": pl.String, "package_id": pl.String, "package_name": pl.String, "display_name": pl.String,
    "allowed_target_scope": pl.String, "allowed_targets": STRINGS,
    "approval_required": pl.Boolean, "approval_stages": pl.Int64, "approvers": STRINGS,
    "expiration_type": pl.String, "expiration_days": pl.Float64, "expiration_end": UTC_TIME,
    "self_update": pl.Boolean, "reviews_enabled": pl.Boolean, "review_recurrence": pl.String,
    "review_interval": pl.Int64, "review_expiration_behavior": pl.String, "reviewers": STRINGS,
}
ASSIGNMENTS = {
    "id": pl.String, "package_id": pl.String, "package_name": pl.String, "policy_id": pl.String,
    "state": pl.String, "status": pl.String, "target_id": pl.String, "target_name": pl.String,
    "target_email": pl.String, "target_upn": pl.String, "target_lifecycle": pl.String,
    "start": UTC_TIME, "end": UTC_TIME, "expiration_type": pl.String,
}
REQUESTS = {"id": pl.String, "state": pl.String, "request_type": pl.String, "created": UTC_TIME,
            "package_name": pl.String, "requestor_name": pl.String, "requestor_email": pl.String}


def connected_organizations(items: Items) -> pl.DataFrame:
    rows = []
    for org, _ in graph_items(items, "connected organisation"):
        # identitySources is polymorphic: tenants carry tenantId, domain sources domainName.
        sources = org.children("identitySources")
        rows.append({
            "id": org.id, "display_name": org.text("displayName"), "state": org.text("state"),
            "tenant_ids": [t.lower() for s in sources if (t := s.text("tenantId"))],
            "domains": [d.lower() for s in sources if (d := s.text("domainName"))],
            "created": org.when("createdDateTime"),
        })
    return pl.DataFrame(rows, schema=CONNECTED_ORGANIZATIONS)


def catalogs(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": c.id, "display_name": c.text("displayName"), "state": c.text("state"),
                          "externally_visible": c.flag("isExternallyVisible")}
                         for c, _ in graph_items(items, "catalog")], schema=CATALOGS)


def access_packages(items: Items) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Packages and, from `$expand=assignmentPolicies`, their policies flattened to one row each."""
    packages, policies = [], []
    for package, _ in graph_items(items, "access package"):
        expanded = package.children("assignmentPolicies")
        packages.append({"id": package.id, "display_name": package.text("displayName"),
                         "is_hidden": package.flag("isHidden"), "policies": len(expanded)})
        policies.extend(_policy(p, package) for p in expanded)
    return pl.DataFrame(packages, schema=ACCESS_PACKAGES), pl.DataFrame(policies, schema=POLICIES)


def _policy(policy: GraphObject, package: GraphObject) -> dict[str, object]:
    expiration = policy.child("expiration")
    approval = policy.child("requestApprovalSettings")
    stages = approval.children("stages")
    review = policy.child("reviewSettings")
    pattern = review.child("schedule").child("recurrence").child("pattern")
    return {
        "id": policy.id, "package_id": package.id, "package_name": package.text("displayName"),
        "display_name": policy.text("displayName"),
        "allowed_target_scope": policy.text("allowedTargetScope"),
        "allowed_targets": subject_refs(policy.children("specificAllowedTargets")),
        "approval_required": approval.flag("isApprovalRequiredForAdd"),
        "approval_stages": len(stages),
        "approvers": [ref for stage in stages for ref in
                      subject_refs([*stage.children("primaryApprovers"), *stage.children("fallbackPrimaryApprovers")])],
        "expiration_type": expiration.text("type"),
        "expiration_days": expiration.days("duration"),
        "expiration_end": expiration.when("endDateTime"),
        "self_update": policy.child("requestorSettings").flag("enableTargetsToSelfUpdateAccess"),
        "reviews_enabled": review.flag("isEnabled"),
        "review_recurrence": pattern.text("type"),
        "review_interval": pattern.number("interval"),
        "review_expiration_behavior": review.text("expirationBehavior"),
        "reviewers": subject_refs([*review.children("primaryReviewers"), *review.children("fallbackReviewers")]),
    }


def assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, _ in graph_items(items, "assignment"):
        target = assignment.child("target")
        package = assignment.child("accessPackage")
        schedule = assignment.child("schedule")
        expiration = schedule.child("expiration")
        rows.append({
            "id": assignment.id, "package_id": package.text("id"), "package_name": package.text("displayName"),
            "policy_id": assignment.child("assignmentPolicy").text("id"),
            "state": assignment.text("state"), "status": assignment.text("status"),
            "target_id": target.text("objectId"), "target_name": target.text("displayName"),
            "target_email": target.text("email"), "target_upn": target.text("principalName"),
            "target_lifecycle": target.text("subjectLifecycle"),
            "start": schedule.when("startDateTime"),
            "end": expiration.when("endDateTime"),
            "expiration_type": expiration.text("type"),
        })
    return pl.DataFrame(rows, schema=ASSIGNMENTS)


def assignment_requests(items: Items) -> pl.DataFrame:
    rows = []
    for request, _ in graph_items(items, "request"):
        requestor = request.child("requestor")
        rows.append({
            "id": request.id, "state": request.text("state"), "request_type": request.text("requestType"),
            "created": request.when("createdDateTime"),
            "package_name": request.child("accessPackage").text("displayName"),
            "requestor_name": requestor.text("displayName"), "requestor_email": requestor.text("email"),
        })
    return pl.DataFrame(rows, schema=REQUESTS)
