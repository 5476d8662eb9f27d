"""Entitlement management of a customer tenant (graph-api.md §2): connected organisations,
catalogs, access packages, policies, assignments, requests and the settings singleton."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.emulator._gen_common import (
    ANALYST_DOMAIN,
    CORPORATE_DOMAIN,
    MSSP_DISPLAY,
    Ctx,
    GraphObject,
)
from audit.emulator._gen_people import People
from audit.emulator._gen_policies import (
    PolicyKnobs,
    build_policy,
    connected_org_members,
    group_members,
    single_user,
)
from audit.emulator._profiles import Plan, Plant

TIER1, TIER2, APPROVERS, VENDOR = "tier1", "tier2", "approvers", "vendor"
PACKAGE_NAMES = {TIER1: "Tier 1 Analyst", TIER2: "Tier 2 Analyst", APPROVERS: "MSSP Analyst Approvers",
                 VENDOR: "Partner Portal Access"}


@dataclass
class Governance:
    connected_organizations: list[GraphObject] = field(default_factory=list)
    catalogs: list[GraphObject] = field(default_factory=list)
    packages: dict[str, GraphObject] = field(default_factory=dict)
    policies: dict[str, GraphObject] = field(default_factory=dict)
    assignments: list[GraphObject] = field(default_factory=list)
    requests: list[GraphObject] = field(default_factory=list)
    settings: GraphObject | None = None
    holders: dict[str, list[str]] = field(default_factory=dict)     # package key -> user ids (delivered)
    group_only: dict[str, list[str]] = field(default_factory=dict)  # package key -> ids in group, no assignment


def _days(duration: str | None) -> int:
    # Only the PnD durations the generator writes are parsed.
    return int(duration[1:-1]) if duration and duration.startswith("P") and duration.endswith("D") else 365


class _Builder:
    def __init__(self, ctx: Ctx, plan: Plan, people: People, groups: dict[str, GraphObject],
                 mssp_tenant_id: str, corporate_tenant_id: str, onboard_days: float) -> None:
        self.ctx, self.plan, self.people, self.groups = ctx, plan, people, groups
        self.mssp_tenant_id, self.corporate_tenant_id = mssp_tenant_id, corporate_tenant_id
        self.onboard = ctx.at(-onboard_days)
        self.out = Governance()
        self.subjects: dict[str, GraphObject] = {}

    # -- structure ---------------------------------------------------------------------------
    def organisations(self) -> None:
        ctx, plan = self.ctx, self.plan
        self.mssp_org: GraphObject = {
            "id": ctx.uuid(), "displayName": MSSP_DISPLAY,
            "description": "Dedicated tenant of the MSSP's SOC analysts",
            "createdDateTime": self.onboard, "modifiedDateTime": self.onboard,
            "state": "proposed" if plan.has(Plant.MSSP_ORG_PROPOSED) else "configured",
            "identitySources": [{"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant",
                                 "tenantId": self.mssp_tenant_id, "displayName": MSSP_DISPLAY}],
            "externalSponsors": [], "internalSponsors": [],
        }
        self.vendor_org: GraphObject = {
            "id": ctx.uuid(), "displayName": "Relecloud", "description": "Portal integration partner",
            "createdDateTime": ctx.at(-500), "modifiedDateTime": ctx.at(-500), "state": "configured",
            "identitySources": [{"@odata.type": "#microsoft.graph.domainIdentitySource",
                                 "domainName": "relecloud.example", "displayName": "relecloud.example"}],
            "externalSponsors": [], "internalSponsors": [],
        }
        self.corporate_org: GraphObject | None = None
        orgs: list[GraphObject] = [self.mssp_org, self.vendor_org]
        if plan.has(Plant.PROPOSED_ORG):
            # Auto-created when a user of an unknown organisation got access (allExternalUsers).
            self.corporate_org = {
                "id": ctx.uuid(), "displayName": CORPORATE_DOMAIN,
                "description": "Automatically created connected organization",
                "createdDateTime": ctx.at(-80), "modifiedDateTime": ctx.at(-80), "state": "proposed",
                "identitySources": [{"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant",
                                     "tenantId": self.corporate_tenant_id, "displayName": CORPORATE_DOMAIN}],
                "externalSponsors": [], "internalSponsors": [],
            }
            orgs.append(self.corporate_org)
        self.out.connected_organizations = orgs

    def catalogs_and_packages(self) -> None:
        ctx = self.ctx

        def catalog(name: str, kind: str, description: str) -> GraphObject:
            return {"id": ctx.uuid(), "displayName": name, "description": description, "catalogType": kind,
                    "state": "published", "isExternallyVisible": True,
                    "createdDateTime": self.onboard, "modifiedDateTime": self.onboard}

        mssp = catalog("MSSP Accesses", "userManaged", "Access packages for the MSSP's SOC analysts")
        general = catalog("General", "serviceDefault", "Built-in catalog.")
        vendors = catalog("Partner Collaboration", "userManaged", "Access for business partners")
        self.out.catalogs = [general, mssp, vendors]
        keys = [TIER1, TIER2, APPROVERS] if not self.plan.has(Plant.MISSING_TIER2) else [TIER1, APPROVERS]
        for key in [*keys, VENDOR]:
            self.out.packages[key] = {
                "id": ctx.uuid(), "displayName": PACKAGE_NAMES[key],
                "description": f"{PACKAGE_NAMES[key]} access", "isHidden": False,
                "createdDateTime": self.onboard, "modifiedDateTime": self.onboard,
                "catalog": vendors if key == VENDOR else mssp,   # navigation property
            }

    def policies(self) -> None:
        plan, approvers_group = self.plan, self.groups[APPROVERS]
        admin = self.people.admins[0]
        mssp_only = [connected_org_members(self.mssp_org)]
        for key in (TIER1, TIER2):
            if key not in self.out.packages:
                continue
            knobs = PolicyKnobs(targets=list(mssp_only), approvers=[group_members(approvers_group)],
                                reviewers=[group_members(approvers_group)],
                                self_update=not plan.has(Plant.NO_SELF_EXTEND))
            if key == TIER1:
                if plan.has(Plant.POLICY_ALL_EXTERNAL):
                    knobs.scope, knobs.targets = "allExternalUsers", []
                if plan.has(Plant.POLICY_ALL_CONNECTED):
                    knobs.scope, knobs.targets = "allConfiguredConnectedOrganizationUsers", []
                if plan.has(Plant.TIER_NO_EXPIRATION):
                    knobs.expiration_type, knobs.duration = "noExpiration", None
                if plan.has(Plant.REVIEWS_DISABLED):
                    knobs.reviews_enabled = False
            else:
                if plan.has(Plant.POLICY_730_DAYS):
                    knobs.duration = "P730D"
                if plan.has(Plant.NO_APPROVAL):
                    knobs.approvers = []
                if plan.has(Plant.REVIEW_KEEP_ACCESS):
                    knobs.review_behavior = "keepAccess"
            self._policy(key, knobs)
        approver = [group_members(approvers_group)] if plan.has(Plant.APPROVER_SELF_LOOP) else [single_user(admin)]
        self._policy(APPROVERS, PolicyKnobs(targets=list(mssp_only), approvers=approver,
                                           reviewers=[single_user(admin)]))
        self._policy(VENDOR, PolicyKnobs(targets=[connected_org_members(self.vendor_org)],
                                         approvers=[single_user(admin)], reviewers=[single_user(admin)],
                                         duration="P180D"))

    def _policy(self, key: str, knobs: PolicyKnobs) -> None:
        package = self.out.packages[key]
        name = f"{package['displayName']} - " + ("partners" if key == VENDOR else "MSSP analysts")
        self.out.policies[key] = build_policy(self.ctx, package=package, display_name=name, knobs=knobs,
                                              created=self.onboard)

    # -- who holds what ----------------------------------------------------------------------
    def subject(self, user: GraphObject, org: GraphObject | None) -> GraphObject:
        cached = self.subjects.get(user["id"])
        if cached is None:
            cached = {
                "id": self.ctx.uuid(), "objectId": user["id"], "displayName": user["displayName"],
                "email": user["mail"], "principalName": user["mail"], "onPremisesSecurityIdentifier": None,
                "subjectType": "user", "subjectLifecycle": "governed",
                "connectedOrganization": org,       # navigation property of accessPackageSubject
            }
            self.subjects[user["id"]] = cached
        return cached

    def assign(self, key: str, subject: GraphObject, start_days_ago: float, *, expired_days_ago: float | None = None,
               user_id: str | None = None) -> GraphObject:
        ctx, policy = self.ctx, self.out.policies[key]
        pattern = policy["expiration"]
        if pattern["type"] == "noExpiration":
            end: GraphObject = {"type": "noExpiration", "endDateTime": None, "duration": None}
        else:
            end = {"type": "afterDateTime", "duration": None,
                   "endDateTime": ctx.at(-start_days_ago + _days(pattern["duration"]))}
        assignment: GraphObject = {
            "id": ctx.uuid(),
            "state": "expired" if expired_days_ago is not None else "delivered",
            "status": "Expired" if expired_days_ago is not None else "Delivered",
            "expiredDateTime": ctx.at(-expired_days_ago) if expired_days_ago is not None else None,
            "schedule": {"startDateTime": ctx.at(-start_days_ago), "expiration": end, "recurrence": None},
            "customExtensionCalloutInstances": [],
            "target": subject, "accessPackage": self.out.packages[key], "assignmentPolicy": policy,
        }
        self.out.assignments.append(assignment)
        if expired_days_ago is None and user_id is not None:
            self.out.holders.setdefault(key, []).append(user_id)
            if start_days_ago <= 120:
                self.request(subject, key, created_days_ago=start_days_ago + 1, state="delivered",
                             assignment=assignment)
        return assignment

    def request(self, subject: GraphObject, key: str, *, created_days_ago: float, state: str,
                assignment: GraphObject | None = None) -> None:
        ctx = self.ctx
        status = {"delivered": "Delivered", "pendingApproval": "PendingApproval", "denied": "Denied"}[state]
        self.out.requests.append({
            "id": ctx.uuid(), "requestType": "userAdd", "state": state, "status": status,
            "createdDateTime": ctx.at(-created_days_ago),
            "completedDateTime": None if state == "pendingApproval" else ctx.at(-created_days_ago + 1),
            "justification": "SOC coverage for this customer",
            "schedule": {"startDateTime": None,
                         "expiration": {"type": "notSpecified", "endDateTime": None, "duration": None},
                         "recurrence": None},
            "answers": [], "customExtensionCalloutInstances": [],
            "requestor": subject, "accessPackage": self.out.packages[key], "assignment": assignment,
        })

    def _fits(self, key: str) -> float:
        """A start date whose end is at least 35 days away: clean assignments are not "expiring"."""
        duration = self.out.policies[key]["expiration"]["duration"]
        return self.ctx.between(5, max(6, _days(duration) - 35))

    def analysts(self) -> None:
        plan, people = self.plan, self.people
        tier2 = TIER2 if TIER2 in self.out.packages else TIER1
        n_approvers = 2 if len(people.analysts) >= 4 else 1
        for i, user in enumerate(people.analysts):
            subject = self.subject(user, self.mssp_org)
            key = tier2 if (i < n_approvers or i % 3 == 2) else TIER1
            start = self._fits(key)
            if plan.has(Plant.EXPIRING_7) and i == n_approvers:
                start = _days(self.out.policies[key]["expiration"]["duration"]) - 5
            if plan.has(Plant.EXPIRING_30) and i == n_approvers + 1:
                start = _days(self.out.policies[key]["expiration"]["duration"]) - 20
            self.assign(key, subject, start, user_id=user["id"])
            if i < n_approvers:
                self.assign(APPROVERS, subject, self._fits(APPROVERS), user_id=user["id"])
        special = people.special
        if "pii" in special:
            self.assign(TIER1, self.subject(special["pii"], self.mssp_org), self._fits(TIER1),
                        user_id=special["pii"]["id"])
        if "corporate" in special:
            self.assign(TIER1, self.subject(special["corporate"], self.corporate_org), 78,
                        user_id=special["corporate"]["id"])
        if "back_door" in special:
            # Its assignment expired, yet someone kept it in the Tier 2 group (the back door).
            user = special["back_door"]
            self.assign(tier2, self.subject(user, self.mssp_org), 400, expired_days_ago=35)
            self.out.group_only.setdefault(tier2, []).append(user["id"])

    def vendors_and_history(self) -> None:
        ctx, plan = self.ctx, self.plan
        for user in self.people.vendors:
            if ctx.chance(0.5):
                self.assign(VENDOR, self.subject(user, self.vendor_org), self._fits(VENDOR), user_id=user["id"])
        history = 2 if plan.assignments is None else max(0, plan.assignments - len(self.out.assignments))
        # Former analysts whose yearly assignments ran out; one person may have several.
        formers = [
            self.subject({"id": ctx.uuid(), "displayName": f"a-Former{n + 1}",
                          "mail": f"a-former{n + 1}@{ANALYST_DOMAIN}"}, self.mssp_org)
            for n in range(min(history, 25))
        ]
        for n in range(history):
            self.assign(TIER1, formers[n % len(formers)], ctx.between(400, 700),
                        expired_days_ago=ctx.between(35, 300))
        if ctx.chance(0.5):
            self._newcomer(ctx.between(1, 6))
        if plan.has(Plant.STALE_REQUESTS):
            self._newcomer(18)
            self._newcomer(25)

    def _newcomer(self, age_days: float) -> None:
        # Someone from the MSSP tenant who asked for access: no guest object until approval.
        n = len(self.out.requests) + 1
        user = {"id": self.ctx.uuid(), "displayName": f"a-New{n}", "mail": f"a-new{n}@{ANALYST_DOMAIN}"}
        self.request(self.subject(user, self.mssp_org), TIER1, created_days_ago=age_days, state="pendingApproval")

    def settings(self) -> None:
        action = "blockSignInAndDelete" if self.plan.has(Plant.LIFECYCLE_DELETE) else "none"
        self.out.settings = {"id": self.ctx.uuid(), "externalUserLifecycleAction": action,
                             "durationUntilExternalUserDeletedAfterBlocked": "P30D"}


def build_governance(
    ctx: Ctx, plan: Plan, people: People, groups: dict[str, GraphObject], *,
    mssp_tenant_id: str, corporate_tenant_id: str, onboard_days: float,
) -> Governance:
    builder = _Builder(ctx, plan, people, groups, mssp_tenant_id, corporate_tenant_id, onboard_days)
    if plan.has(Plant.NO_P2):
        # Without P2 there is no entitlement management: analysts were invited and put in the
        # groups by hand, and the settings singleton keeps Entra's default lifecycle action.
        builder.out.settings = {"id": ctx.uuid(), "externalUserLifecycleAction": "blockSignInAndDelete",
                                "durationUntilExternalUserDeletedAfterBlocked": "P30D"}
        for i, user in enumerate(people.analysts):
            builder.out.group_only.setdefault(TIER2 if i % 2 else TIER1, []).append(user["id"])
        return builder.out
    builder.organisations()
    builder.catalogs_and_packages()
    builder.policies()
    builder.analysts()
    builder.vendors_and_history()
    builder.settings()
    return builder.out
