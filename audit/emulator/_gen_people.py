"""Users of a customer tenant: members, MSSP analyst guests, vendor guests, planted edge cases.

Shapes follow graph-api.md §1: guests carry ``userType``, ``externalUserState`` (+ change
time), ``creationType = Invitation``, ``identities`` and a ``#EXT#`` UPN; ``signInActivity``
is absent for users who never signed in, or, in some tenants, holds ``0001-01-01``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.emulator._gen_common import (
    ANALYST_DOMAIN,
    CORPORATE_DOMAIN,
    FIRST_NAMES,
    JOB_TITLES,
    LAST_NAMES,
    NEVER,
    OFFICES,
    VENDOR_DOMAINS,
    Ctx,
    GraphObject,
    guest_upn,
)
from audit.emulator._profiles import Plan, Plant

Analyst = tuple[str, str]   # (display name "a-Josh3", mail local part "a-josh3")


@dataclass
class People:
    members: list[GraphObject] = field(default_factory=list)
    admins: list[GraphObject] = field(default_factory=list)          # members holding GA
    setup_admin: GraphObject | None = None
    analysts: list[GraphObject] = field(default_factory=list)        # MSSP guests meant to hold a package
    vendors: list[GraphObject] = field(default_factory=list)
    special: dict[str, GraphObject] = field(default_factory=dict)    # planted guests by role

    def all_users(self) -> list[GraphObject]:
        users = [*self.members, *self.analysts, *self.vendors, *self.special.values()]
        if self.setup_admin is not None:
            users.append(self.setup_admin)
        return users


def sign_in(ctx: Ctx, days_ago: float | None, *, zero: bool = False) -> GraphObject | None:
    """A ``signInActivity`` whose last success was ``days_ago``; None means never (absent)."""
    if zero:
        return {
            "lastSignInDateTime": NEVER, "lastSignInRequestId": None,
            "lastNonInteractiveSignInDateTime": NEVER, "lastNonInteractiveSignInRequestId": None,
            "lastSuccessfulSignInDateTime": NEVER, "lastSuccessfulSignInRequestId": None,
        }
    if days_ago is None:
        return None
    interactive = days_ago + ctx.between(0.0, 3.0)
    request_id = ctx.uuid()
    return {
        "lastSignInDateTime": ctx.at(-interactive),
        "lastSignInRequestId": ctx.uuid(),
        "lastNonInteractiveSignInDateTime": ctx.at(-days_ago),
        "lastNonInteractiveSignInRequestId": request_id,
        "lastSuccessfulSignInDateTime": ctx.at(-days_ago),
        "lastSuccessfulSignInRequestId": request_id,
    }


def _member(ctx: Ctx, plan: Plan, index: int, taken: set[str]) -> GraphObject:
    given = FIRST_NAMES[index % len(FIRST_NAMES)]
    surname = LAST_NAMES[(index // len(FIRST_NAMES) + index * 7) % len(LAST_NAMES)]
    local = f"{given}.{surname}".lower()
    if local in taken:
        local = f"{local}{index}"
    taken.add(local)
    upn = f"{local}@{plan.domain}"
    enabled = ctx.chance(0.97)
    user = _base(
        ctx, display=f"{given} {surname}", given=given, surname=surname, mail=upn, upn=upn,
        user_type="Member", created_days_ago=ctx.between(120, 1500), enabled=enabled,
        activity=sign_in(ctx, ctx.between(0.1, 20)) if enabled else sign_in(ctx, ctx.between(30, 200)),
    )
    user["jobTitle"] = ctx.rng.choice(JOB_TITLES)
    user["officeLocation"] = ctx.rng.choice(OFFICES)
    user["identities"] = [{"signInType": "userPrincipalName", "issuer": plan.domain, "issuerAssignedId": upn}]
    return user


def _base(
    ctx: Ctx, *, display: str, given: str | None, surname: str | None, mail: str | None, upn: str,
    user_type: str, created_days_ago: float, enabled: bool, activity: GraphObject | None,
) -> GraphObject:
    user: GraphObject = {
        "id": ctx.uuid(),
        "businessPhones": [],
        "displayName": display,
        "givenName": given,
        "jobTitle": None,
        "mail": mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": "en-US" if user_type == "Member" else None,
        "surname": surname,
        "userPrincipalName": upn,
        "accountEnabled": enabled,
        "createdDateTime": ctx.at(-created_days_ago),
        "creationType": None,
        "externalUserState": None,
        "externalUserStateChangeDateTime": None,
        "identities": [],
        "userType": user_type,
    }
    if activity is not None:
        user["signInActivity"] = activity
    return user


def guest(
    ctx: Ctx, plan: Plan, *, mail: str, display: str, created_days_ago: float,
    last_sign_in_days: float | None, zero: bool = False, pending: bool = False,
    enabled: bool = True, given: str | None = None, surname: str | None = None,
) -> GraphObject:
    """An invited B2B guest (creationType Invitation)."""
    upn = guest_upn(mail, plan.domain)
    user = _base(
        ctx, display=display, given=given, surname=surname, mail=mail, upn=upn, user_type="Guest",
        created_days_ago=created_days_ago, enabled=enabled,
        activity=None if pending else sign_in(ctx, last_sign_in_days, zero=zero),
    )
    user["creationType"] = "Invitation"
    user["externalUserState"] = "PendingAcceptance" if pending else "Accepted"
    accepted_after = 0.0 if pending else min(2.0, created_days_ago)
    user["externalUserStateChangeDateTime"] = ctx.at(-created_days_ago + accepted_after)
    domain = mail.rsplit("@", 1)[1]
    issuer = {"outlook.example": "MicrosoftAccount", "gmail.example": "mail"}.get(domain, "ExternalAzureAD")
    user["identities"] = [{"signInType": "federated", "issuer": issuer, "issuerAssignedId": None}]
    return user


def b2b_member(ctx: Ctx, plan: Plan, *, mail: str, display: str, created_days_ago: float,
               last_sign_in_days: float | None, synced: bool) -> GraphObject:
    """A member-type B2B user (§1 "External users that are not userType=Guest"): created by
    cross-tenant sync (`synced`: the redemption is suppressed, so the state is Accepted from the
    start) or an invited guest whose userType an administrator changed to Member (accepted later).
    Either way creationType Invitation, a #EXT# UPN and an ExternalAzureAD identity stay."""
    user = guest(ctx, plan, mail=mail, display=display, created_days_ago=created_days_ago,
                 last_sign_in_days=last_sign_in_days)
    user["userType"] = "Member"
    user["preferredLanguage"] = "en-US"
    if synced:
        user["externalUserStateChangeDateTime"] = user["createdDateTime"]
    return user


def local_analyst(ctx: Ctx, plan: Plan, analyst: Analyst) -> GraphObject:
    """An account the customer created for an analyst in its own tenant (a Member, creationType
    null, no #EXT#): the credential the seed keeps in the MSSP tenant, issued by the customer."""
    display, local = analyst
    upn = f"{local}@{plan.domain}"
    user = _base(ctx, display=display, given=None, surname=None, mail=upn, upn=upn, user_type="Member",
                 created_days_ago=ctx.between(30, 200), enabled=True, activity=sign_in(ctx, ctx.between(0.5, 10)))
    user["identities"] = [{"signInType": "userPrincipalName", "issuer": plan.domain, "issuerAssignedId": upn}]
    return user


def _analyst(ctx: Ctx, plan: Plan, analyst: Analyst, *, onboard_days: float) -> GraphObject:
    display, local = analyst
    return guest(
        ctx, plan, mail=f"{local}@{ANALYST_DOMAIN}", display=display,
        created_days_ago=ctx.between(10, onboard_days), last_sign_in_days=ctx.between(0.1, 14),
    )


def build_people(ctx: Ctx, plan: Plan, pool: list[Analyst], *, onboard_days: float) -> People:
    people = People()
    taken: set[str] = set()
    people.members = [_member(ctx, plan, i, taken) for i in range(plan.members)]
    admin_count = 7 if plan.has(Plant.MANY_GLOBAL_ADMINS) else plan.admins
    people.admins = people.members[:admin_count]
    for admin in people.admins:
        admin["jobTitle"] = "IT Administrator"
        admin["accountEnabled"] = True
    if plan.has(Plant.SETUP_ADMIN_LEFT):
        upn = f"mssp-setup-admin@{plan.domain}"
        people.setup_admin = _base(
            ctx, display="MSSP Setup Admin (temporary)", given=None, surname=None, mail=None,
            upn=upn, user_type="Member", created_days_ago=onboard_days, enabled=True,
            activity=sign_in(ctx, onboard_days - 2),
        )
        people.setup_admin["identities"] = [
            {"signInType": "userPrincipalName", "issuer": plan.domain, "issuerAssignedId": upn}
        ]

    chosen = ctx.rng.sample(pool, min(len(pool), plan.analysts + 2))
    people.analysts = [_analyst(ctx, plan, a, onboard_days=onboard_days) for a in chosen[: plan.analysts]]
    spare = chosen[plan.analysts:]
    for i in range(plan.vendors):
        given = FIRST_NAMES[(i * 11 + 3) % len(FIRST_NAMES)]
        surname = LAST_NAMES[(i * 13 + 5) % len(LAST_NAMES)]
        domain = VENDOR_DOMAINS[i % len(VENDOR_DOMAINS)]
        people.vendors.append(guest(
            ctx, plan, mail=f"{given}.{surname}{i}@{domain}".lower(), display=f"{given} {surname} (ext)",
            given=given, surname=surname, created_days_ago=ctx.between(10, 600),
            last_sign_in_days=ctx.between(0.5, 60),
        ))
    _edge_cases(ctx, plan, people)
    _planted_guests(ctx, plan, people, spare, onboard_days=onboard_days)
    return people


def _edge_cases(ctx: Ctx, plan: Plan, people: People) -> None:
    """Every tenant has a fresh unanswered invite and a "0001" never-signed-in guest: not findings."""
    people.special["fresh_invite"] = guest(
        ctx, plan, mail=f"new.contact@{VENDOR_DOMAINS[2]}", display="New Contact (ext)",
        created_days_ago=ctx.between(2, 10), last_sign_in_days=None, pending=True,
    )
    people.special["fresh_zero"] = guest(
        ctx, plan, mail=f"auditor@{VENDOR_DOMAINS[3]}", display="External Auditor (ext)",
        created_days_ago=ctx.between(20, 60), last_sign_in_days=None, zero=True,
    )


def _planted_guests(ctx: Ctx, plan: Plan, people: People, spare: list[Analyst], *, onboard_days: float) -> None:
    special = people.special
    if plan.has(Plant.STALE_GUEST):
        special["stale"] = guest(
            ctx, plan, mail=f"old.supplier@{VENDOR_DOMAINS[1]}", display="Old Supplier (ext)",
            created_days_ago=400, last_sign_in_days=ctx.between(120, 200),
        )
    if plan.has(Plant.NEVER_SIGNED_IN):
        special["never_absent"] = guest(
            ctx, plan, mail=f"event.guest@{VENDOR_DOMAINS[4]}", display="Event Guest (ext)",
            created_days_ago=200, last_sign_in_days=None,
        )
        special["never_zero"] = guest(
            ctx, plan, mail=f"temp.contractor@{VENDOR_DOMAINS[5]}", display="Temp Contractor (ext)",
            created_days_ago=300, last_sign_in_days=None, zero=True,
        )
    if plan.has(Plant.PENDING_INVITE):
        special["pending_old"] = guest(
            ctx, plan, mail=f"sales.rep@{VENDOR_DOMAINS[0]}", display="Sales Rep (ext)",
            created_days_ago=45, last_sign_in_days=None, pending=True,
        )
    if plan.has(Plant.CORPORATE_GUEST):
        special["corporate"] = guest(
            ctx, plan, mail=f"jordan.lee@{CORPORATE_DOMAIN}", display="Jordan Lee",
            given="Jordan", surname="Lee", created_days_ago=80, last_sign_in_days=3,
        )
    if plan.has(Plant.PII_USERNAME):
        special["pii"] = guest(
            ctx, plan, mail=f"john.smith@{ANALYST_DOMAIN}", display="John Smith",
            given="John", surname="Smith", created_days_ago=100, last_sign_in_days=2,
        )
    if plan.has(Plant.ANALYST_NO_ASSIGNMENT) and spare:
        special["no_assignment"] = _analyst(ctx, plan, spare[0], onboard_days=onboard_days)
    if plan.has(Plant.BACK_DOOR) and len(spare) > 1:
        special["back_door"] = _analyst(ctx, plan, spare[1], onboard_days=onboard_days)
    if plan.has(Plant.DISABLED_WITH_ASSIGNMENT) and people.analysts:
        people.analysts[-1]["accountEnabled"] = False
    _member_b2b(ctx, plan, people, spare)


def _member_b2b(ctx: Ctx, plan: Plan, people: People, spare: list[Analyst]) -> None:
    """The member-type B2B users the guest query cannot see."""
    special = people.special
    if plan.has(Plant.SYNCED_ANALYST) and spare:
        display, local = spare[0]
        special["synced_analyst"] = b2b_member(ctx, plan, mail=f"{local}@{ANALYST_DOMAIN}", display=display,
                                               created_days_ago=ctx.between(20, 60),
                                               last_sign_in_days=ctx.between(0.5, 5), synced=True)
    if plan.has(Plant.CORPORATE_SYNCED):
        special["corporate_synced"] = b2b_member(ctx, plan, mail=f"sam.rivera@{CORPORATE_DOMAIN}",
                                                 display="Sam Rivera", created_days_ago=60, last_sign_in_days=4,
                                                 synced=True)
    if plan.has(Plant.CONVERTED_GUEST):
        special["converted"] = b2b_member(ctx, plan, mail=f"field.engineer@{VENDOR_DOMAINS[3]}",
                                          display="Field Engineer (ext)", created_days_ago=500,
                                          last_sign_in_days=150, synced=False)
