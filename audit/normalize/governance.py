"""Entitlement management (graph-api.md §2): organisations, packages, policies, assignments, requests."""

from __future__ import annotations

import polars as pl

from audit.normalize._common import UTC_TIME, GraphObject, Items, graph_items, subject_refs
from audit.normalize.vocabulary import Vocabulary, declare

# -- the documented values the checks read (audit/normalize/vocabulary.py) ------------------------------
CONNECTED_ORGANIZATION_STATE = Vocabulary(
    "connected_organizations", "state", ("configured", "proposed", "unknownFutureValue"),
    {"configured": "trusted on purpose: EM-001 passes when it names the MSSP analyst tenant",
     "proposed": "auto-created, nobody decided to trust it: EM-001 does not count it, EM-010 lists it"},
    "connectedorganization", read_by=("EM-001", "EM-010"))
IDENTITY_SOURCE = Vocabulary(
    "connected_organizations", "identitySources[].@odata.type",
    ("azureActiveDirectoryTenant", "crossCloudAzureActiveDirectoryTenant", "domainIdentitySource",
     "externalDomainFederation", "socialIdentitySource"),
    {"azureActiveDirectoryTenant": "tenantId: EM-001 matches it with the MSSP analyst tenant",
     "crossCloudAzureActiveDirectoryTenant": "tenantId (a tenant in another cloud): matched like a tenant",
     "domainIdentitySource": "domainName only: names no tenant, never the MSSP tenant by id",
     "externalDomainFederation": "domainName only (a SAML/WS-Fed domain): names no tenant",
     "socialIdentitySource": "a social provider: names no tenant"},
    "connectedorganization", read_by=("EM-001",))
ALLOWED_TARGET_SCOPE = Vocabulary(
    "access_packages", "assignmentPolicies[].allowedTargetScope",
    ("notSpecified", "specificDirectoryUsers", "specificConnectedOrganizationUsers",
     "specificDirectoryServicePrincipals", "allMemberUsers", "allDirectoryUsers", "allDirectoryServicePrincipals",
     "allConfiguredConnectedOrganizationUsers", "allExternalUsers", "allDirectoryAgentIdentities",
     "unknownFutureValue"),
    {"specificConnectedOrganizationUsers": "EM-003 passes when every target is the MSSP connected organisation",
     **{v: "EM-003 fails: not limited to the MSSP connected organisation" for v in (
         "notSpecified", "specificDirectoryUsers", "specificDirectoryServicePrincipals", "allMemberUsers",
         "allDirectoryUsers", "allDirectoryServicePrincipals", "allConfiguredConnectedOrganizationUsers",
         "allExternalUsers", "allDirectoryAgentIdentities")}},
    "accesspackageassignmentpolicy", read_by=("EM-003",),
    note="allDirectoryAgentIdentities is in the current resource page and the v1.0 changelog, not in older "
         "copies of the page")
_SUBJECT_SETS = ("attributeRuleMembers", "connectedOrganizationMembers", "externalSponsors", "groupBasedSubjectSet",
                 "groupMembers", "internalSponsors", "requestorManager", "ruleBasedSubjectSet",
                 "singleServicePrincipal", "singleUser", "targetAgentIdentitySponsorsOrOwners",
                 "targetApplicationOwners", "targetManager", "targetUserSponsors")
ALLOWED_TARGET = Vocabulary(
    "access_packages", "assignmentPolicies[].specificAllowedTargets[].@odata.type", _SUBJECT_SETS,
    {"connectedOrganizationMembers": "EM-003 passes when it names the MSSP connected organisation",
     **{v: "EM-003 fails: someone other than the MSSP organisation may request" for v in _SUBJECT_SETS
        if v not in ("connectedOrganizationMembers", "groupBasedSubjectSet", "ruleBasedSubjectSet")}},
    "subjectset", read_by=("EM-003",),
    note="groupBasedSubjectSet and ruleBasedSubjectSet belong to lifecycle workflows, not to access packages")
APPROVER = Vocabulary(
    "access_packages", "assignmentPolicies[].requestApprovalSettings.stages[].*Approvers[].@odata.type",
    _SUBJECT_SETS,
    {"groupMembers": "EM-004: the MSSP Analyst Approvers group passes; EM-012: an MSSP group fails, another passes",
     "singleUser": "EM-012: an MSSP approver or external account fails, a directory user passes",
     "internalSponsors": "EM-012: the organisation's internal (customer) sponsors pass",
     "externalSponsors": "EM-012 fails: the MSSP organisation's own sponsors",
     "connectedOrganizationMembers": "EM-012 fails: members of an external organisation",
     "requestorManager": "EM-012 fails: the requestor's manager, not a named customer principal",
     "targetManager": "EM-012 fails: the target's manager, not a named customer principal",
     "singleServicePrincipal": "EM-012 fails: an application, not a customer person, approves"},
    "subjectset", read_by=("EM-004", "EM-012"),
    note="attributeRuleMembers, targetUserSponsors, targetAgentIdentitySponsorsOrOwners and "
         "targetApplicationOwners name people by a rule or a relation the collector does not read, so which side "
         "they are on cannot be told; the lifecycle-workflow sets do not belong here")
REVIEWER = Vocabulary(
    "access_packages", "assignmentPolicies[].reviewSettings.*Reviewers[].@odata.type", _SUBJECT_SETS,
    {v: "EM-013: a named reviewer" for v in _SUBJECT_SETS if v not in ("groupBasedSubjectSet", "ruleBasedSubjectSet")},
    "subjectset", read_by=("EM-013",), note="the lifecycle-workflow sets do not belong to access-package reviews")
EXPIRATION_TYPE = Vocabulary(
    "access_packages", "assignmentPolicies[].expiration.type",
    ("notSpecified", "noExpiration", "afterDateTime", "afterDuration"),
    {"afterDuration": "EM-005 passes when duration ≤ the maximum (365 days)",
     "afterDateTime": "EM-005 passes when endDateTime is within the maximum from now",
     "noExpiration": "EM-005 fails: assignments never end",
     "notSpecified": "EM-005 fails: the policy does not say that assignments end"},
    "expirationpattern", read_by=("EM-005",))
REVIEW_RECURRENCE = Vocabulary(
    "access_packages", "assignmentPolicies[].reviewSettings.schedule.recurrence.pattern.type",
    ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"),
    {"daily": "EM-013: at least yearly when interval ≤ 366", "weekly": "EM-013: at least yearly when interval ≤ 52",
     "absoluteMonthly": "EM-013: at least yearly when interval ≤ 12",
     "relativeMonthly": "EM-013: at least yearly when interval ≤ 12",
     "absoluteYearly": "EM-013: at least yearly when interval is 1",
     "relativeYearly": "EM-013: at least yearly when interval is 1"},
    "recurrencepattern", read_by=("EM-013",))
REVIEW_EXPIRATION_BEHAVIOR = Vocabulary(
    "access_packages", "assignmentPolicies[].reviewSettings.expirationBehavior",
    ("keepAccess", "removeAccess", "acceptAccessRecommendation", "unknownFutureValue"),
    {v: "EM-013 compares it with [expectations] review_expiration_behavior" for v in
     ("keepAccess", "removeAccess", "acceptAccessRecommendation")},
    "accesspackageassignmentreviewsettings", read_by=("EM-013",))
# The assignment states that hold (some of) the package's access (ASSIGNMENT_STATE's meanings below);
# every stage that asks "who holds a package" reads it from here.
HOLDS_ACCESS = ("delivered", "partiallyDelivered", "delivering")
ASSIGNMENT_STATE = Vocabulary(
    "assignments", "state",
    ("delivering", "partiallyDelivered", "delivered", "expired", "deliveryFailed", "unknownFutureValue"),
    {"delivered": "holds the access: EM-006, EM-007 and EM-011 count it",
     "partiallyDelivered": "holds part of the access: counted as held (EM-006, EM-007, EM-011)",
     "delivering": "being delivered: counted as held (EM-006, EM-007, EM-011)",
     "expired": "holds no access", "deliveryFailed": "holds no access"},
    "accesspackageassignment", read_by=("EM-006", "EM-007", "EM-011"))
REQUEST_STATE = Vocabulary(
    "assignment_requests", "state",
    ("submitted", "pendingApproval", "delivering", "delivered", "deliveryFailed", "denied", "scheduled", "canceled",
     "partiallyDelivered", "unknownFutureValue"),
    {"pendingApproval": "EM-008 ages it", **{v: "not waiting for approval: EM-008 ignores it" for v in (
        "submitted", "delivering", "delivered", "deliveryFailed", "denied", "scheduled", "canceled",
        "partiallyDelivered")}},
    "accesspackageassignmentrequest", read_by=("EM-008",))
LIFECYCLE_ACTION = Vocabulary(
    "em_settings", "externalUserLifecycleAction", ("none", "blockSignIn", "blockSignInAndDelete", "unknownFutureValue"),
    {v: "EM-009 compares it with [expectations] external_user_lifecycle_action" for v in
     ("none", "blockSignIn", "blockSignInAndDelete")},
    "entitlementmanagementsettings", read_by=("EM-009",))
declare(CONNECTED_ORGANIZATION_STATE, IDENTITY_SOURCE, ALLOWED_TARGET_SCOPE, ALLOWED_TARGET, APPROVER, REVIEWER,
        EXPIRATION_TYPE, REVIEW_RECURRENCE, REVIEW_EXPIRATION_BEHAVIOR, ASSIGNMENT_STATE, REQUEST_STATE,
        LIFECYCLE_ACTION)

STRINGS = pl.List(pl.String)

CONNECTED_ORGANIZATIONS = {"id": pl.String, "display_name": pl.String, "state": pl.String,
                           "tenant_ids": STRINGS, "domains": STRINGS, "created": UTC_TIME,
                           "source_kinds": STRINGS}
CATALOGS = {"id": pl.String, "display_name": pl.String, "state": pl.String, "externally_visible": pl.Boolean}
ACCESS_PACKAGES = {"id": pl.String, "display_name": pl.String, "is_hidden": pl.Boolean, "policies": pl.Int64}
POLICIES = {
    "id": pl.String, "package_id": pl.String, "package_name": pl.String, "display_name": pl.String,
    "allowed_target_scope": pl.String, "allowed_targets": STRINGS,
    "approval_required": pl.Boolean, "approval_stages": pl.Int64, "approvers": STRINGS,
    "expiration_type": pl.String, "expiration_days": pl.Float64, "expiration_end": UTC_TIME,
    "self_update": pl.Boolean, "reviews_enabled": pl.Boolean, "review_recurrence": pl.String,
    "review_interval": pl.Int64, "review_expiration_behavior": pl.String, "reviewers": STRINGS,
    "self_review": pl.Boolean,
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
            "source_kinds": [s.kind() for s in sources],
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
        # absent: not expanded (the docs' list example), which is not "no policy"
        packages.append({"id": package.id, "display_name": package.text("displayName"),
                         "is_hidden": package.flag("isHidden"),
                         "policies": None if package.raw("assignmentPolicies") is None else len(expanded)})
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
        # Escalation approvers decide too once a stage escalates (accessPackageApprovalStage).
        "approvers": [ref for stage in stages for ref in subject_refs([
            *stage.children("primaryApprovers"), *stage.children("fallbackPrimaryApprovers"),
            *((*stage.children("escalationApprovers"), *stage.children("fallbackEscalationApprovers"))
              if stage.flag("isEscalationEnabled") else ())])],
        "expiration_type": expiration.text("type"),
        "expiration_days": expiration.days("duration"),
        "expiration_end": expiration.when("endDateTime"),
        "self_update": policy.child("requestorSettings").flag("enableTargetsToSelfUpdateAccess"),
        "reviews_enabled": review.flag("isEnabled"),
        "review_recurrence": pattern.text("type"),
        "review_interval": pattern.number("interval"),
        "review_expiration_behavior": review.text("expirationBehavior"),
        "reviewers": subject_refs([*review.children("primaryReviewers"), *review.children("fallbackReviewers")]),
        "self_review": review.flag("isSelfReview"),
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
