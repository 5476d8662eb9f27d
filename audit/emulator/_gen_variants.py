"""The documented shapes the checks read, each at least once in the demo (issue 18).

Microsoft documents more than the seed's configuration uses: every identity source of a connected
organisation, the subject sets that may approve or review, escalation stages, assignment states
between requested and delivered, review statuses such as 'Applied' and 'AutoReviewed', decisions
'DontKnow', GDAP relationships awaiting termination. One customer (``Plant.DOCUMENTED_VARIANTS``)
carries them, so the demo's reports show how each is treated — including the documented values
the checks leave unsupported (``unknownFutureValue``, sponsors of the target user), which its
reports name as not understood. Ids are derived from the tenant id, not drawn from the generator's
random stream, so nothing else generated moves.
"""

from __future__ import annotations

import uuid

from audit.emulator._gen_common import Ctx, GraphObject
from audit.emulator._model import TenantData

SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"


def _id(tenant: TenantData, name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(tenant.tenant_id), name))


def _subject(kind: str, **fields: object) -> GraphObject:
    return {"@odata.type": f"#microsoft.graph.{kind}", **fields}


def customer_variants(ctx: Ctx, tenant: TenantData) -> None:
    """Add the documented variants to a generated customer tenant."""
    def org(name: str, state: str, source: GraphObject) -> GraphObject:
        return {"id": _id(tenant, f"org:{name}"), "displayName": name, "description": f"{name} (documented shape)",
                "createdDateTime": ctx.at(-300), "modifiedDateTime": ctx.at(-300), "state": state,
                "identitySources": [source], "externalSponsors": [], "internalSponsors": []}

    tenant.connected_organizations += [
        org("Fabrikam Government", "configured", _subject(
            "crossCloudAzureActiveDirectoryTenant", tenantId=_id(tenant, "tenant:gov"),
            cloudInstance="microsoftonline.us", displayName="Fabrikam Government")),
        org("Litware Federation", "configured", _subject(
            "externalDomainFederation", domainName="litware.example", issuerUri="https://sts.litware.example/adfs",
            displayName="Litware Federation")),
        org("Social sign-in", "configured", _subject(
            "socialIdentitySource", socialIdentitySourceType="facebook", displayName="Facebook")),
        # an evolvable enum's sentinel, documented and given no meaning: EM-010 names it
        org("Proseware Labs", "unknownFutureValue", _subject(
            "domainIdentitySource", domainName="proseware.example", displayName="proseware.example")),
    ]
    by_package = {p["accessPackage"]["displayName"] if isinstance(p.get("accessPackage"), dict) else "": p
                  for p in tenant.assignment_policies}
    approvers = by_package.get("MSSP Analyst Approvers")
    if approvers is not None and approvers["requestApprovalSettings"]["stages"]:
        stage = approvers["requestApprovalSettings"]["stages"][0]
        stage.update(isEscalationEnabled=True, durationBeforeEscalation="P7D",
                     escalationApprovers=[_subject("internalSponsors", description="internal sponsors")],
                     # documented, but which side the target's sponsors are on cannot be read: EM-012 names it
                     fallbackEscalationApprovers=[_subject("targetUserSponsors", description="target's sponsors")])
        approvers["expiration"] = {"type": "afterDateTime", "duration": None, "endDateTime": ctx.at(300)}
    tier2 = by_package.get("Tier 2 Analyst")
    if tier2 is not None and tier2.get("reviewSettings"):
        tier2["reviewSettings"]["fallbackReviewers"] = [
            _subject("externalSponsors", description="external sponsors"),
            _subject("requestorManager", managerLevel=1, description="manager"),
            _subject("targetManager", managerLevel=1, description="target's manager"),
            _subject("attributeRuleMembers", membershipRule='(user.department -eq "SOC")', description="SOC staff"),
            _subject("singleServicePrincipal", servicePrincipalId=_id(tenant, "sp"), description="review bot"),
            _subject("targetApplicationOwners", description="application owners"),
        ]
        tier2["reviewSettings"]["schedule"]["recurrence"]["pattern"]["type"] = "relativeYearly"
    # the last ones, so that the first delivered assignments stay as the seed's (tests/test_drift.py edits them)
    delivered = [a for a in tenant.assignments if a.get("state") == "delivered"][::-1]
    for assignment, state in zip(delivered, ("partiallyDelivered", "delivering"), strict=False):
        assignment["state"], assignment["status"] = state, state[0].upper() + state[1:]
    _review_variants(tenant)


def _review_variants(tenant: TenantData) -> None:
    # the last review's instances: the first review stays as the seed's (tests/emulator/test_emulator_graph.py)
    last = list(tenant.review_instances.values())[-1:]
    completed = [i for instances in last for i in instances if i["status"] == "Completed"]
    for instance, status in zip(completed, ("AutoReviewed", "Applied"), strict=False):
        instance["status"] = status
    for instance in completed[:1]:
        decisions = tenant.review_decisions.get(instance["id"], [])
        for decision, (answer, result) in zip(decisions, (("DontKnow", "AppliedSuccessfullyButObjectNotFound"),
                                                          ("Deny", "AppliedWithUnknownFailure")), strict=False):
            decision["decision"], decision["applyResult"] = answer, result


def partner_variants(tenant: TenantData, relationship: GraphObject, customer: GraphObject) -> None:
    """Beside a customer's active relationship: ones approved, expiring and awaiting termination
    (granting roles until deprovisioned), one awaiting approval, and a pending access assignment."""
    for status in ("approved", "expiring", "terminationRequested", "approvalPending"):
        tenant.delegated_admin_relationships.append({
            **relationship, "id": f"{_id(tenant, status + customer['tenantId'])}-{_id(tenant, 'partner')}",
            "displayName": f"{relationship['displayName']}-{status}", "status": status, "autoExtendDuration": "PT0S",
            "accessDetails": {"unifiedRoles": [{"roleDefinitionId": SECURITY_READER}]}})
    pending = {"id": _id(tenant, "pending" + customer["tenantId"]), "status": "pending",
               "accessContainer": {"accessContainerId": _id(tenant, "container"),
                                   "accessContainerType": "securityGroup"},
               "accessDetails": {"unifiedRoles": [{"roleDefinitionId": SECURITY_READER}]}}
    tenant.access_assignments.setdefault(relationship["id"], []).append(pending)
