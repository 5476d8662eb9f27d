"""The eight hand-designed customers and the problems planted in each.

The MSSP model is the seed's (000_fedcc2d25a49424a): a connected organisation for the analyst
tenant, catalog "MSSP Accesses", packages Tier 1/Tier 2/Approvers with approval by the
"MSSP Analyst Approvers" group, annual reviews, 365-day expiry, hardened guest settings. Each
``Plant`` is one deviation from it; its value is the sentence ``CustomerInfo.planted`` carries.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass, replace


class Plant(enum.StrEnum):
    # Guest settings (authorizationPolicy, §4)
    GUESTS_CAN_INVITE = "guests can invite other guests (allowInvitesFrom = everyone)"
    GUEST_ROLE_MEMBER = "guests have member-equivalent access (guestUserRoleId = User)"
    EMAIL_SIGNUP = "email-based self-service sign-up allowed"
    # Access-package policies (§2)
    TIER_NO_EXPIRATION = "Tier 1 policy never expires (expiration noExpiration)"
    POLICY_730_DAYS = "Tier 2 policy expires after P730D instead of P365D"
    POLICY_ALL_EXTERNAL = "Tier 1 policy open to allExternalUsers"
    POLICY_ALL_CONNECTED = "Tier 1 policy open to allConfiguredConnectedOrganizationUsers"
    NO_APPROVAL = "Tier 2 package needs no approval"
    APPROVER_SELF_LOOP = "Approvers package is approved by the Approvers group itself"
    REVIEWS_DISABLED = "Tier 1 policy has access reviews disabled"
    REVIEW_KEEP_ACCESS = "Tier 2 policy review expirationBehavior keepAccess"
    NO_SELF_EXTEND = "analysts cannot extend their own access (enableTargetsToSelfUpdateAccess false)"
    DUPLICATE_GROUP = "two groups are named Tier 1 Analyst (which one Defender RBAC binds is ambiguous)"
    MISSING_TIER2 = "no Tier 2 Analyst access package"
    # Connected organisations
    PROPOSED_ORG = "a proposed (auto-created) connected organisation"
    MSSP_ORG_PROPOSED = "the MSSP connected organisation is only proposed"
    # Assignments and requests
    EXPIRING_7 = "an analyst assignment expires within 7 days"
    EXPIRING_30 = "an analyst assignment expires within 30 days"
    NO_END_DATE = "a delivered assignment has no end date"
    STALE_REQUESTS = "access requests pending for more than 14 days"
    LIFECYCLE_DELETE = "external user lifecycle action blockSignInAndDelete"
    BACK_DOOR = "a Tier 2 group member holds no delivered assignment"
    # Access reviews (§3)
    REVIEW_OVERDUE = "an access review instance is overdue (InProgress past its end)"
    REVIEW_NOT_REVIEWED = "a completed access review left most decisions NotReviewed"
    # Guests (§1)
    STALE_GUEST = "a guest last signed in more than 90 days ago"
    NEVER_SIGNED_IN = "guests never signed in and were created more than 90 days ago"
    PENDING_INVITE = "an invitation pending acceptance for more than 30 days"
    CORPORATE_GUEST = "a guest from the MSSP corporate tenant"
    PII_USERNAME = "an MSSP analyst guest with a personal-data username (john.smith)"
    ANALYST_NO_ASSIGNMENT = "an MSSP analyst guest with no access-package assignment"
    DISABLED_WITH_ASSIGNMENT = "a disabled guest still holds an assignment"
    LOCAL_ANALYST = "a local account of the customer tenant, named like an analyst, sits in the Tier 1 group"
    # Member-type B2B users (§1 "External users that are not userType=Guest")
    SYNCED_ANALYST = "an MSSP analyst synced in by cross-tenant sync (userType Member) holds no access package"
    CORPORATE_SYNCED = "a user synced in from the MSSP corporate tenant (userType Member)"
    CONVERTED_GUEST = "a vendor guest converted to userType Member has not signed in for 150 days"
    # Directory roles (§6)
    MANY_GLOBAL_ADMINS = "more than five Global Administrators"
    GUEST_GLOBAL_ADMIN = "a guest holds Global Administrator"
    SETUP_ADMIN_LEFT = "the temporary mssp-setup-admin account is still Global Administrator"
    ADMIN_GROUP_GUEST = "Global Administrator is held through a role-assignable group, one of whose two members is a guest"
    # Licences (§7 and the seed's sizing formula)
    TOO_FEW_P2 = "fewer Entra ID P2 licences than the seed's sizing formula asks for"
    NO_P2 = "no Entra ID P1/P2 at all (entitlement management and reviews unavailable)"
    P2_EXPIRING = "every Entra ID P2 unit is in the grace period after expiry (capabilityStatus Warning)"
    P2_SUSPENDED_SKU = "a cancelled EMS E5 subscription is still listed, Suspended: its P2 units are not owned"
    E5_P2_DISABLED = "the Entra ID P2 plan is disabled inside the Microsoft 365 E5 SKU: its units are not P2"
    # Cross-tenant access (§5)
    MFA_NOT_TRUSTED = "cross-tenant settings for the MSSP do not accept its MFA"
    IDENTITY_SYNC = "cross-tenant sync from the MSSP tenant is allowed"
    # GDAP (§8), read in the partner tenant
    GDAP_EXPIRING = "GDAP relationship ends within 30 days and does not auto-extend (PT0S)"
    GDAP_GLOBAL_ADMIN = "GDAP relationship includes Global Administrator"
    GDAP_NO_ACCESS = "active GDAP relationship with no access assignment"
    NO_GDAP = "no GDAP relationship with this customer"
    # The audit app's own consent
    NO_AUDITLOG = "the audit app lacks AuditLog.Read.All (no sign-in activity)"
    WRITE_PERMISSION = "the audit app holds a write permission (User.ReadWrite.All)"
    CONSENT_REVOKED = "the audit app's consent was revoked (AADSTS7000229): tenant unreachable"
    # Graph's documented shapes beyond the seed's configuration (issue 18, _gen_variants.py)
    DOCUMENTED_VARIANTS = ("documented shapes beyond the seed's: every identity source, escalation approvers, "
                           "sponsors and managers as approvers and reviewers, assignments partially delivered, "
                           "reviews Applied/AutoReviewed, DontKnow decisions, GDAP relationships approved, "
                           "expiring, awaiting termination or approval, a state unknownFutureValue")


P = Plant


@dataclass(frozen=True)
class Profile:
    key: str
    name: str
    members: int
    analysts: int
    growth: int
    vendors: int
    reviews: int
    admins: int            # Global Administrators among the members
    licence: str           # "e5" | "e3_p2" | "e3_few_p2" | "o365"
    plants: tuple[Plant, ...] = ()


PROFILES: tuple[Profile, ...] = (
    Profile("contoso", "Contoso Retail", 380, 20, 20, 25, 3, 3, "e5", (
        P.EXPIRING_7, P.EXPIRING_30, P.STALE_REQUESTS, P.STALE_GUEST, P.NEVER_SIGNED_IN,
        P.PENDING_INVITE, P.REVIEW_OVERDUE, P.MANY_GLOBAL_ADMINS, P.GDAP_EXPIRING, P.CONVERTED_GUEST,
        P.DOCUMENTED_VARIANTS)),
    Profile("fabrikam", "Fabrikam Health", 160, 12, 6, 12, 2, 2, "e5", (
        P.GUESTS_CAN_INVITE, P.GUEST_ROLE_MEMBER, P.EMAIL_SIGNUP, P.TIER_NO_EXPIRATION,
        P.NO_END_DATE, P.POLICY_730_DAYS, P.REVIEWS_DISABLED, P.IDENTITY_SYNC, P.P2_EXPIRING,
        P.SYNCED_ANALYST)),
    # Three reviews: one per MSSP group, so every package is reviewed (the clean customer).
    Profile("northwind", "Northwind Traders", 20, 6, 4, 3, 3, 2, "e3_p2", ()),
    Profile("tailspin", "Tailspin Toys", 8, 3, 2, 1, 0, 2, "o365", (
        P.NO_P2, P.NO_GDAP, P.GUEST_GLOBAL_ADMIN, P.MFA_NOT_TRUSTED)),
    Profile("woodgrove", "Woodgrove Bank", 280, 18, 12, 15, 3, 3, "e5", (
        P.POLICY_ALL_EXTERNAL, P.CORPORATE_GUEST, P.PROPOSED_ORG, P.NO_APPROVAL,
        P.APPROVER_SELF_LOOP, P.SETUP_ADMIN_LEFT, P.GDAP_GLOBAL_ADMIN, P.WRITE_PERMISSION, P.P2_SUSPENDED_SKU,
        P.CORPORATE_SYNCED)),
    Profile("adatum", "Adatum Logistics", 80, 10, 10, 6, 2, 2, "e3_few_p2", (
        P.TOO_FEW_P2, P.MISSING_TIER2, P.MSSP_ORG_PROPOSED, P.POLICY_ALL_CONNECTED,
        P.LIFECYCLE_DELETE, P.NO_AUDITLOG, P.GDAP_NO_ACCESS, P.DUPLICATE_GROUP, P.ADMIN_GROUP_GUEST)),
    Profile("litware", "Litware Energy", 130, 14, 6, 8, 2, 4, "e5", (
        P.BACK_DOOR, P.PII_USERNAME, P.ANALYST_NO_ASSIGNMENT, P.DISABLED_WITH_ASSIGNMENT,
        P.REVIEW_NOT_REVIEWED, P.REVIEW_KEEP_ACCESS, P.NO_SELF_EXTEND, P.LOCAL_ANALYST, P.E5_P2_DISABLED)),
    Profile("wingtip", "Wingtip Legal", 30, 6, 3, 4, 1, 2, "e3_p2", (P.CONSENT_REVOKED,)),
)

BROKEN_PROFILE = "wingtip"


@dataclass(frozen=True)
class Plan:
    """One customer to generate: its profile after sizing and the broken-tenant choice."""

    index: int
    key: str
    name: str
    domain: str            # default domain, <prefix>.onmicrosoft.com
    members: int
    analysts: int
    growth: int
    vendors: int
    reviews: int
    admins: int
    licence: str
    plants: tuple[Plant, ...]
    assignments: int | None = None   # pad to about this many assignments (benchmarks)
    guests: int | None = None        # total guests asked for (benchmarks)

    def has(self, plant: Plant) -> bool:
        return plant in self.plants

    @property
    def required_p2(self) -> int:
        # Seed: (current + projected) * 1.5 guest seats, one P2 per 5 analysts (legacy 1:5).
        seats = (self.analysts + self.growth) * 1.5
        return math.ceil(seats / 5)

    def planted_descriptions(self) -> list[str]:
        return [plant.value for plant in self.plants]


def plan_customer(
    index: int,
    *,
    seed: int,
    guests: int | None = None,
    assignments: int | None = None,
    reviews: int | None = None,
    include_broken_tenant: bool = True,
) -> Plan:
    """The plan of the ``index``-th customer (0-based). Deterministic in its arguments."""
    profile = PROFILES[index % len(PROFILES)]
    cycle = index // len(PROFILES)
    plants = profile.plants
    if profile.key == BROKEN_PROFILE and (cycle > 0 or not include_broken_tenant):
        # Only the demo's own Wingtip refuses tokens; copies in big estates are reachable.
        plants = tuple(p for p in plants if p is not Plant.CONSENT_REVOKED)
    plan = Plan(
        index=index,
        key=profile.key,
        name=profile.name if cycle == 0 else f"{profile.name} {cycle + 1}",
        domain=f"{profile.key}{'' if cycle == 0 else cycle + 1}.onmicrosoft.com",
        members=profile.members,
        analysts=profile.analysts,
        growth=profile.growth,
        vendors=profile.vendors,
        reviews=profile.reviews,
        admins=profile.admins,
        licence=profile.licence,
        plants=plants,
    )
    if cycle > 0:
        rng = random.Random(f"{seed}:size:{index}")
        factor = rng.uniform(0.5, 1.6)
        plan = replace(
            plan,
            members=max(6, round(plan.members * factor)),
            analysts=max(3, round(plan.analysts * factor)),
            growth=max(1, round(plan.growth * rng.uniform(0.5, 1.5))),
            vendors=max(1, round(plan.vendors * factor)),
        )
    if guests is not None:
        analysts = max(3, round(guests * 0.4))
        plan = replace(
            plan,
            analysts=analysts,
            vendors=max(0, guests - analysts - 4),   # ~4 planted or edge-case guests per tenant
            members=max(6, min(plan.members, 40)),   # benchmarks are about guests; keep memory low
            guests=guests,
        )
    if assignments is not None:
        plan = replace(plan, assignments=assignments)
    if reviews is not None:
        plan = replace(plan, reviews=reviews)
    return plan
