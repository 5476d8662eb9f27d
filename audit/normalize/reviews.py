"""Access reviews (graph-api.md §3): definitions → instances → decisions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from audit.normalize._common import UTC_TIME, odata_type, parse_time

Items = Iterable[tuple[dict[str, Any], str | None]]
NOBODY = "00000000-0000-0000-0000-000000000000"   # reviewedBy.id of an unreviewed decision

DEFINITIONS = {"id": pl.String, "display_name": pl.String, "status": pl.String, "scope_type": pl.String,
               "scope_query": pl.String, "recurrence": pl.String, "interval": pl.Int64,
               "auto_apply": pl.Boolean, "reviewers": pl.Int64, "scope_refs": pl.List(pl.String)}
INSTANCES = {"id": pl.String, "definition_id": pl.String, "start": UTC_TIME, "end": UTC_TIME, "status": pl.String}
DECISIONS = {"id": pl.String, "instance_id": pl.String, "decision": pl.String, "recommendation": pl.String,
             "principal_name": pl.String, "reviewed_by": pl.String, "reviewed": UTC_TIME,
             "applied": UTC_TIME, "apply_result": pl.String}


def definitions(items: Items) -> pl.DataFrame:
    rows = []
    for definition, _ in items:
        scope = definition.get("scope") or {}
        settings = definition.get("settings") or {}
        pattern = (settings.get("recurrence") or {}).get("pattern") or {}
        rows.append({
            "id": definition.get("id"), "display_name": definition.get("displayName"),
            "status": definition.get("status"), "scope_type": odata_type(scope),
            "scope_query": scope.get("query"), "recurrence": pattern.get("type"), "interval": pattern.get("interval"),
            "auto_apply": settings.get("autoApplyDecisionsEnabled"),
            "reviewers": len(definition.get("reviewers") or []),
            "scope_refs": _strings([scope, definition.get("instanceEnumerationScope")]),
        })
    return pl.DataFrame(rows, schema=DEFINITIONS)


def _strings(value: Any) -> list[str]:
    """Every string inside a scope: queries (/groups/{id}/…), accessPackageId, resourceId (policy id)…

    Scopes are polymorphic (accessReviewQueryScope, principalResourceMembershipsScope with nested
    resourceScopes, accessReviewAccessPackageAssignmentPolicyScope); the checks only need to know
    which objects a review names, so the ids are gathered wherever they sit.
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if not key.startswith("@odata") for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def instances(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": i.get("id"), "definition_id": parent, "start": parse_time(i.get("startDateTime")),
                          "end": parse_time(i.get("endDateTime")), "status": i.get("status")}
                         for i, parent in items], schema=INSTANCES)


def decisions(items: Items) -> pl.DataFrame:
    rows = []
    for decision, parent in items:
        principal = decision.get("principal") or {}
        rows.append({
            "id": decision.get("id"), "instance_id": parent, "decision": decision.get("decision"),
            "recommendation": decision.get("recommendation"),
            "principal_name": principal.get("displayName") or principal.get("userPrincipalName"),
            "reviewed_by": (decision.get("reviewedBy") or {}).get("id"),
            "reviewed": parse_time(decision.get("reviewedDateTime")),
            "applied": parse_time(decision.get("appliedDateTime")),
            "apply_result": decision.get("applyResult"),
        })
    return pl.DataFrame(rows, schema=DECISIONS)
