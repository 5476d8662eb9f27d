"""Access reviews of a customer tenant (graph-api.md §3): definitions, instances, decisions.

Each definition reviews the guests of one MSSP group quarterly; it has two completed
instances and a current one. Unreviewed decisions carry the all-zero ``reviewedBy.id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.emulator._gen_common import ZERO_GUID, Ctx, GraphObject, user_identity
from audit.emulator._profiles import Plan, Plant

_DECISIONS_PER_INSTANCE = 12   # enough to read, few enough for 1,000-tenant estates


@dataclass
class Reviews:
    definitions: list[GraphObject] = field(default_factory=list)
    instances: dict[str, list[GraphObject]] = field(default_factory=dict)
    decisions: dict[str, list[GraphObject]] = field(default_factory=dict)


def _scope(group: GraphObject) -> GraphObject:
    return {
        "@odata.type": "#microsoft.graph.accessReviewQueryScope",
        "query": f"/groups/{group['id']}/transitiveMembers/microsoft.graph.user/"
                 "?$count=true&$filter=(userType eq 'Guest')",
        "queryType": "MicrosoftGraph",
        "queryRoot": None,
    }


def build_reviews(
    ctx: Ctx, plan: Plan, *, groups: list[tuple[GraphObject, list[GraphObject]]],
    reviewer_group: GraphObject, owner: GraphObject,
) -> Reviews:
    """``groups``: (group, its guest members) pairs to review, cycled when more reviews are asked."""
    out = Reviews()
    if plan.has(Plant.NO_P2) or not groups:
        return out
    zero = {"@odata.type": "#microsoft.graph.userIdentity", "id": ZERO_GUID, "displayName": "",
            "userPrincipalName": ""}
    identities: dict[str, GraphObject] = {}
    reviewed_by = user_identity(owner)
    reviewers = [{"query": f"/groups/{reviewer_group['id']}/transitiveMembers", "queryType": "MicrosoftGraph",
                  "queryRoot": None}]
    for n in range(plan.reviews):
        group, members = groups[n % len(groups)]
        created = ctx.at(-ctx.between(220, 600))
        suffix = f" #{n + 1}" if n >= len(groups) else ""
        definition: GraphObject = {
            "id": ctx.uuid(),
            "displayName": f"Quarterly guest review - {group['displayName']}{suffix}",
            "status": "InProgress",
            "createdBy": {"id": owner["id"], "displayName": owner["displayName"],
                          "userPrincipalName": owner["userPrincipalName"]},
            "createdDateTime": created, "lastModifiedDateTime": created,
            "descriptionForAdmins": "Guests of the MSSP analyst groups",
            "descriptionForReviewers": "Keep only active analysts",
            "scope": _scope(group), "instanceEnumerationScope": None,
            "reviewers": reviewers, "fallbackReviewers": [],
            "settings": {
                "mailNotificationsEnabled": True, "reminderNotificationsEnabled": True,
                "justificationRequiredOnApproval": True, "defaultDecisionEnabled": False, "defaultDecision": "None",
                "instanceDurationInDays": 14, "autoApplyDecisionsEnabled": True, "recommendationsEnabled": True,
                "recommendationLookBackDuration": "P30D",
                "applyActions": [{"@odata.type": "#microsoft.graph.removeAccessApplyAction"}],
                "recurrence": {
                    "pattern": {"type": "absoluteMonthly", "interval": 3, "month": 0, "dayOfMonth": 0,
                                "daysOfWeek": [], "firstDayOfWeek": "sunday", "index": "first"},
                    "range": {"type": "noEnd", "numberOfOccurrences": 0, "recurrenceTimeZone": None,
                              "startDate": created[:10], "endDate": None},
                },
            },
            "stageSettings": [], "additionalNotificationRecipients": [],
        }
        out.definitions.append(definition)
        resource = {"id": group["id"], "displayName": group["displayName"], "type": "group"}
        overdue = plan.has(Plant.REVIEW_OVERDUE) and n == 0
        ignored = plan.has(Plant.REVIEW_NOT_REVIEWED) and n == 0
        windows = [(-200, "Completed"), (-110, "Completed"), (-30 if overdue else -8, "InProgress")]
        instances = []
        for k, (start, status) in enumerate(windows):
            instance = {"id": ctx.uuid(), "startDateTime": ctx.at(start), "endDateTime": ctx.at(start + 14),
                        "status": status, "scope": definition["scope"], "reviewers": reviewers,
                        "fallbackReviewers": []}
            instances.append(instance)
            mostly_ignored = ignored and k == 1
            out.decisions[instance["id"]] = [
                _decision(ctx, instance, user, resource, identities, zero, reviewed_by,
                          status=status, ignored=mostly_ignored, reviewed_at=start + 5)
                for user in members[:_DECISIONS_PER_INSTANCE]
            ]
        out.instances[definition["id"]] = instances
    return out


def _decision(
    ctx: Ctx, instance: GraphObject, user: GraphObject, resource: GraphObject,
    identities: dict[str, GraphObject], zero: GraphObject, reviewed_by: GraphObject, *,
    status: str, ignored: bool, reviewed_at: float,
) -> GraphObject:
    principal = identities.get(user["id"])
    if principal is None:
        principal = identities[user["id"]] = user_identity(user)
    roll = ctx.rng.random()
    if ignored:
        decision = "NotReviewed" if roll < 0.8 else "Approve"
    elif status == "InProgress":
        decision = "NotReviewed" if roll < 0.6 else "Approve"
    else:
        decision = "Approve" if roll < 0.88 else "Deny"
    reviewed = decision != "NotReviewed"
    applied = status == "Completed"
    return {
        "id": ctx.uuid(),
        "accessReviewId": instance["id"],
        "decision": decision,
        "recommendation": "Approve" if "signInActivity" in user else "NoInfoAvailable",
        "justification": "Active analyst" if reviewed else "",
        "principal": principal,
        "principalLink": f"https://graph.microsoft.com/v1.0/users/{user['id']}",
        "resource": resource,
        "resourceLink": f"https://graph.microsoft.com/v1.0/groups/{resource['id']}",
        "reviewedBy": reviewed_by if reviewed else zero,
        "reviewedDateTime": ctx.at(reviewed_at) if reviewed else None,
        "appliedBy": zero,
        "appliedDateTime": ctx.at(reviewed_at + 10) if applied else None,
        "applyResult": "AppliedSuccessfully" if applied else "New",
    }
