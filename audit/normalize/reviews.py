"""Access reviews (graph-api.md §3): definitions → instances → decisions."""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.normalize._common import MAX_TEXT, UTC_TIME, Items, ShapeError, graph_items
from audit.normalize.vocabulary import Vocabulary, declare

_DONE = "done: AR-001 counts it completed, AR-002 and AR-003 count it as a review of the last cycle"
_OPEN = "not done: AR-001 counts it overdue once its endDateTime has passed"
INSTANCE_STATUS = Vocabulary(
    "review_instances", "status",
    ("Initializing", "NotStarted", "Starting", "InProgress", "Completing", "Completed", "AutoReviewing",
     "AutoReviewed", "Applied"),
    {"Completed": _DONE, "AutoReviewed": _DONE, "Applied": _DONE,
     **{v: _OPEN for v in ("Initializing", "NotStarted", "Starting", "InProgress", "Completing", "AutoReviewing")}},
    "accessreviewinstance", read_by=("AR-001", "AR-002", "AR-003"), case_insensitive=True,
    note="'Applied' is not in the resource page's list; the v1.0 example of GET …/instances "
         "(accessreviewscheduledefinition-list-instances) returns it for a finished, applied review")
DECISION = Vocabulary(
    "review_decisions", "decision", ("Approve", "Deny", "NotReviewed", "DontKnow"),
    {"Approve": "AR-002: answered", "Deny": "AR-002: answered", "NotReviewed": "AR-002: not answered",
     "DontKnow": "AR-002: not answered (the reviewer took no decision)"},
    "accessreviewinstancedecisionitem", read_by=("AR-002",), case_insensitive=True)
APPLY_RESULT = Vocabulary(
    "review_decisions", "applyResult",
    ("New", "AppliedSuccessfully", "AppliedWithUnknownFailure", "AppliedSuccessfullyButObjectNotFound",
     "ApplyNotSupported"),
    {"AppliedSuccessfully": "AR-002: applied", "AppliedSuccessfullyButObjectNotFound": "AR-002: applied",
     "New": "AR-002: not applied", "AppliedWithUnknownFailure": "AR-002: not applied",
     "ApplyNotSupported": "AR-002: not applied (Graph could not apply it)"},
    "accessreviewinstancedecisionitem", read_by=("AR-002",), case_insensitive=True)
declare(INSTANCE_STATUS, DECISION, APPLY_RESULT)

NOBODY = "00000000-0000-0000-0000-000000000000"   # reviewedBy.id of an unreviewed decision

DEFINITIONS = {"id": pl.String, "display_name": pl.String, "status": pl.String, "scope_type": pl.String,
               "scope_query": pl.String, "recurrence": pl.String, "interval": pl.Int64,
               "auto_apply": pl.Boolean, "reviewers": pl.Int64, "scope_refs": pl.List(pl.String)}
INSTANCES = {"id": pl.String, "definition_id": pl.String, "start": UTC_TIME, "end": UTC_TIME, "status": pl.String}
DECISIONS = {"id": pl.String, "instance_id": pl.String, "decision": pl.String, "recommendation": pl.String,
             "principal_name": pl.String, "reviewed_by": pl.String, "reviewed_by_name": pl.String,
             "reviewed_by_upn": pl.String, "reviewed": UTC_TIME,
             "applied": UTC_TIME, "apply_result": pl.String}


def definitions(items: Items) -> pl.DataFrame:
    rows = []
    for definition, _ in graph_items(items, "review definition"):
        scope = definition.child("scope")
        settings = definition.child("settings")
        pattern = settings.child("recurrence").child("pattern")
        rows.append({
            "id": definition.id, "display_name": definition.text("displayName"),
            "status": definition.text("status"), "scope_type": scope.kind(),
            "scope_query": scope.text("query"), "recurrence": pattern.text("type"),
            "interval": pattern.number("interval"),
            "auto_apply": settings.flag("autoApplyDecisionsEnabled"),
            "reviewers": len(definition.children("reviewers")),
            "scope_refs": [*_strings(definition.raw("scope"), definition.subject, "scope"),
                           *_strings(definition.raw("instanceEnumerationScope"), definition.subject,
                                     "instanceEnumerationScope")],
        })
    return pl.DataFrame(rows, schema=DEFINITIONS)


def _strings(value: Any, subject: str, path: str) -> list[str]:
    """Every string inside a scope: queries (/groups/{id}/…), accessPackageId, resourceId (policy id)…

    Scopes are polymorphic (accessReviewQueryScope, principalResourceMembershipsScope with nested
    resourceScopes, accessReviewAccessPackageAssignmentPolicyScope); the checks only need to know
    which objects a review names, so the ids are gathered wherever they sit. Every scalar a scope
    documents is a string (query, queryType, queryRoot, inactiveDuration…): a number or a boolean
    there is not understood, rather than silently dropped from what the review covers.
    """
    if value is None:
        return []
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ShapeError(path, f"a string of at most {MAX_TEXT:,} characters", value, subject=subject)
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if not key.startswith("@odata")
                for s in _strings(item, subject, f"{path}.{key}")]
    if isinstance(value, list):
        return [s for index, item in enumerate(value) for s in _strings(item, subject, f"{path}[{index}]")]
    raise ShapeError(path, "a string, an object or a list", value, subject=subject)


def instances(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": i.id, "definition_id": parent, "start": i.when("startDateTime"),
                          "end": i.when("endDateTime"), "status": i.text("status")}
                         for i, parent in graph_items(items, "review instance")], schema=INSTANCES)


def decisions(items: Items) -> pl.DataFrame:
    rows = []
    for decision, parent in graph_items(items, "review decision"):
        principal = decision.child("principal")
        reviewer = decision.child("reviewedBy")      # userIdentity {id, displayName, userPrincipalName}
        rows.append({
            "id": decision.id, "instance_id": parent, "decision": decision.text("decision"),
            "recommendation": decision.text("recommendation"),
            "principal_name": principal.text("displayName") or principal.text("userPrincipalName"),
            "reviewed_by": reviewer.text("id"), "reviewed_by_name": reviewer.text("displayName"),
            "reviewed_by_upn": reviewer.text("userPrincipalName"),
            "reviewed": decision.when("reviewedDateTime"),
            "applied": decision.when("appliedDateTime"),
            "apply_result": decision.text("applyResult"),
        })
    return pl.DataFrame(rows, schema=DECISIONS)


