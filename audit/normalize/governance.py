"""Entitlement management (graph-api.md §2): organisations, packages, policies, assignments, requests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from audit.normalize._common import UTC_TIME, duration_days, parse_time, subject_refs

Items = Iterable[tuple[dict[str, Any], str | None]]
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
    for org, _ in items:
        sources = org.get("identitySources") or []
        rows.append({
            "id": org.get("id"), "display_name": org.get("displayName"), "state": org.get("state"),
            "tenant_ids": [str(s["tenantId"]).lower() for s in sources if s.get("tenantId")],
            "domains": [str(s["domainName"]).lower() for s in sources if s.get("domainName")],
            "created": parse_time(org.get("createdDateTime")),
        })
    return pl.DataFrame(rows, schema=CONNECTED_ORGANIZATIONS)


def catalogs(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": c.get("id"), "display_name": c.get("displayName"), "state": c.get("state"),
                          "externally_visible": c.get("isExternallyVisible")} for c, _ in items], schema=CATALOGS)


def access_packages(items: Items) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Packages and, from `$expand=assignmentPolicies`, their policies flattened to one row each."""
    packages, policies = [], []
    for package, _ in items:
        expanded = package.get("assignmentPolicies") or []
        packages.append({"id": package.get("id"), "display_name": package.get("displayName"),
                         "is_hidden": package.get("isHidden"), "policies": len(expanded)})
        policies.extend(_policy(p, package) for p in expanded)
    return pl.DataFrame(packages, schema=ACCESS_PACKAGES), pl.DataFrame(policies, schema=POLICIES)


def _policy(policy: dict[str, Any], package: dict[str, Any]) -> dict[str, Any]:
    expiration = policy.get("expiration") or {}
    approval = policy.get("requestApprovalSettings") or {}
    stages = approval.get("stages") or []
    review = policy.get("reviewSettings") or {}
    pattern = ((review.get("schedule") or {}).get("recurrence") or {}).get("pattern") or {}
    return {
        "id": policy.get("id"), "package_id": package.get("id"), "package_name": package.get("displayName"),
        "display_name": policy.get("displayName"),
        "allowed_target_scope": policy.get("allowedTargetScope"),
        "allowed_targets": subject_refs(policy.get("specificAllowedTargets")),
        "approval_required": approval.get("isApprovalRequiredForAdd"),
        "approval_stages": len(stages),
        "approvers": [ref for stage in stages for ref in
                      subject_refs([*(stage.get("primaryApprovers") or []),
                                    *(stage.get("fallbackPrimaryApprovers") or [])])],
        "expiration_type": expiration.get("type"),
        "expiration_days": duration_days(expiration.get("duration")),
        "expiration_end": parse_time(expiration.get("endDateTime")),
        "self_update": (policy.get("requestorSettings") or {}).get("enableTargetsToSelfUpdateAccess"),
        "reviews_enabled": review.get("isEnabled"),
        "review_recurrence": pattern.get("type"),
        "review_interval": pattern.get("interval"),
        "review_expiration_behavior": review.get("expirationBehavior"),
        "reviewers": subject_refs([*(review.get("primaryReviewers") or []),
                                   *(review.get("fallbackReviewers") or [])]),
    }


def assignments(items: Items) -> pl.DataFrame:
    rows = []
    for assignment, _ in items:
        target = assignment.get("target") or {}
        package = assignment.get("accessPackage") or {}
        expiration = ((assignment.get("schedule") or {}).get("expiration")) or {}
        rows.append({
            "id": assignment.get("id"), "package_id": package.get("id"), "package_name": package.get("displayName"),
            "policy_id": (assignment.get("assignmentPolicy") or {}).get("id"),
            "state": assignment.get("state"), "status": assignment.get("status"),
            "target_id": target.get("objectId"), "target_name": target.get("displayName"),
            "target_email": target.get("email"), "target_upn": target.get("principalName"),
            "target_lifecycle": target.get("subjectLifecycle"),
            "start": parse_time((assignment.get("schedule") or {}).get("startDateTime")),
            "end": parse_time(expiration.get("endDateTime")),
            "expiration_type": expiration.get("type"),
        })
    return pl.DataFrame(rows, schema=ASSIGNMENTS)


def assignment_requests(items: Items) -> pl.DataFrame:
    rows = []
    for request, _ in items:
        requestor = request.get("requestor") or {}
        rows.append({
            "id": request.get("id"), "state": request.get("state"), "request_type": request.get("requestType"),
            "created": parse_time(request.get("createdDateTime")),
            "package_name": (request.get("accessPackage") or {}).get("displayName"),
            "requestor_name": requestor.get("displayName"), "requestor_email": requestor.get("email"),
        })
    return pl.DataFrame(rows, schema=REQUESTS)

