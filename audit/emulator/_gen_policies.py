"""Access-package assignment policies, v1.0 ``accessPackageAssignmentPolicy`` shape (§2).

The seed's Tier policy: requestable only by users of the MSSP connected organisation, approval
by a member of "MSSP Analyst Approvers", annual review that removes access, expiry after 365
days, analysts may extend their own access. The planted deviations switch one knob each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.emulator._gen_common import Ctx, GraphObject


def connected_org_members(org: GraphObject) -> GraphObject:
    return {
        "@odata.type": "#microsoft.graph.connectedOrganizationMembers",
        "connectedOrganizationId": org["id"],
        "description": org["displayName"],
    }


def group_members(group: GraphObject) -> GraphObject:
    return {"@odata.type": "#microsoft.graph.groupMembers", "groupId": group["id"],
            "description": group["displayName"]}


def single_user(user: GraphObject) -> GraphObject:
    return {"@odata.type": "#microsoft.graph.singleUser", "userId": user["id"],
            "description": user["displayName"]}


@dataclass
class PolicyKnobs:
    """One policy's settings; the defaults are the seed's Tier policy."""

    scope: str = "specificConnectedOrganizationUsers"
    targets: list[GraphObject] = field(default_factory=list)
    approvers: list[GraphObject] = field(default_factory=list)   # empty = no approval
    expiration_type: str = "afterDuration"
    duration: str | None = "P365D"
    reviews_enabled: bool = True
    review_behavior: str = "removeAccess"
    reviewers: list[GraphObject] = field(default_factory=list)
    review_pattern: str = "absoluteYearly"   # annual, as the seed asks
    self_update: bool = True


def expiration(knobs: PolicyKnobs) -> GraphObject:
    if knobs.expiration_type == "noExpiration":
        return {"type": "noExpiration", "duration": None, "endDateTime": None}
    return {"type": knobs.expiration_type, "duration": knobs.duration, "endDateTime": None}


def _approval(knobs: PolicyKnobs) -> GraphObject:
    if not knobs.approvers:
        return {"isApprovalRequiredForAdd": False, "isApprovalRequiredForUpdate": False,
                "isRequestorJustificationRequired": False, "stages": []}
    stage = {
        "durationBeforeAutomaticDenial": "P14D",
        "isApproverJustificationRequired": True,
        "isEscalationEnabled": False,
        "durationBeforeEscalation": "PT0S",
        "primaryApprovers": knobs.approvers,
        "fallbackPrimaryApprovers": [],
        "escalationApprovers": [],
        "fallbackEscalationApprovers": [],
    }
    return {"isApprovalRequiredForAdd": True, "isApprovalRequiredForUpdate": True,
            "isRequestorJustificationRequired": True, "stages": [stage]}


def _review(ctx: Ctx, knobs: PolicyKnobs, start: str) -> GraphObject | None:
    if not knobs.reviews_enabled:
        # A policy without reviews: the portal leaves reviewSettings with isEnabled false.
        return {"isEnabled": False, "expirationBehavior": "keepAccess", "isRecommendationEnabled": False,
                "isReviewerJustificationRequired": False, "isSelfReview": False, "schedule": None,
                "primaryReviewers": [], "fallbackReviewers": []}
    month = ctx.rng.randint(1, 12)
    return {
        "isEnabled": True,
        "expirationBehavior": knobs.review_behavior,
        "isRecommendationEnabled": True,
        "isReviewerJustificationRequired": True,
        "isSelfReview": False,
        "schedule": {
            "startDateTime": start,
            "expiration": {"type": "afterDuration", "duration": "P14D", "endDateTime": None},
            "recurrence": {
                "pattern": {"type": knobs.review_pattern, "interval": 1, "month": month,
                            "dayOfMonth": 1, "daysOfWeek": [], "firstDayOfWeek": "sunday", "index": "first"},
                "range": {"type": "noEnd", "numberOfOccurrences": 0, "recurrenceTimeZone": None,
                          "startDate": start[:10], "endDate": None},
            },
        },
        "primaryReviewers": knobs.reviewers,
        "fallbackReviewers": [],
    }


def build_policy(
    ctx: Ctx, *, package: GraphObject, display_name: str, knobs: PolicyKnobs, created: str,
) -> GraphObject:
    return {
        "id": ctx.uuid(),
        "displayName": display_name,
        "description": f"Who may request {package['displayName']} and how it is approved",
        "allowedTargetScope": knobs.scope,
        "specificAllowedTargets": knobs.targets,
        "createdDateTime": created,
        "modifiedDateTime": created,
        "expiration": expiration(knobs),
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": True,
            "enableTargetsToSelfUpdateAccess": knobs.self_update,
            "enableTargetsToSelfRemoveAccess": True,
            "allowCustomAssignmentSchedule": False,
            "enableOnBehalfRequestorsToAddAccess": False,
            "enableOnBehalfRequestorsToUpdateAccess": False,
            "enableOnBehalfRequestorsToRemoveAccess": False,
            "onBehalfRequestors": [],
        },
        "requestApprovalSettings": _approval(knobs),
        "reviewSettings": _review(ctx, knobs, created),
        "automaticRequestSettings": None,
        "notificationSettings": {"isAssignmentNotificationDisabled": False},
        # navigation properties, returned only when expanded
        "accessPackage": package,
        "catalog": package["catalog"],
        "questions": [],
        "customExtensionStageSettings": [],
    }
