"""Guest-setting hardening (seed: "Guest powers"; graph-api.md §4)."""

from __future__ import annotations

from audit.checks import references as ref
from audit.checks._framework import Context, Outcome, check
from audit.models import CheckSpec, Population, Severity, Status
from audit.normalize import TenantData
from audit.normalize.settings import (ALLOW_INVITES_FROM, EMAIL_VERIFIED_JOIN, GUEST_USER_ROLE, MEMBER_USER,
                                      SIGN_UP_SUBSCRIPTIONS)

AREA = "Guest settings"
AUTH_POLICY = "GET /v1.0/policies/authorizationPolicy"
THE_POLICY = "the authorization policy"

GUEST_ROLES = {
    "2af84b1e-32c8-42b7-82bc-daa82404023b": "Restricted Guest User (own objects only)",
    "10dae51f-b6af-4016-8d66-8c2a99b929b3": "Guest User (limited access)",
    "a0b1b346-4d3e-4e8b-98f8-753987be4970": "User (same access as members)",
}
RESTRICTED_ROLES = frozenset({"2af84b1e-32c8-42b7-82bc-daa82404023b", "10dae51f-b6af-4016-8d66-8c2a99b929b3"})
SAFE_INVITERS = frozenset({"none", "adminsAndGuestInviters"})


@check(CheckSpec(
    id="GS-001", version=1, title="Guests cannot invite other guests", area=AREA, severity=Severity.HIGH,
    requirement="Only administrators and the Guest Inviter role may invite external users "
                "(allowInvitesFrom is 'none' or 'adminsAndGuestInviters').",
    rationale="If MSSP analysts, as guests, can invite others, people outside every approval and review "
              "can be brought into the customer tenant.",
    remediation="Entra admin center → External Identities → External collaboration settings → Guest invite "
                "restrictions: 'Only users assigned to specific admin roles can invite guest users'.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_GUEST_POWERS,
                                        "Users : User Setting : External Collaboration Settings : “Guests can "
                                        "Invite”"),
                ref.AUTHORIZATION_POLICY.at("allowInvitesFrom")),
    resources=("authorization_policy",),
))
def guests_cannot_invite(data: TenantData, ctx: Context) -> Outcome:
    value = (data.singleton("authorization_policy") or {}).get("allowInvitesFrom")
    evidence = [{"setting": "allowInvitesFrom", "value": value, "source": AUTH_POLICY}]
    population = _setting("allowInvitesFrom", value in SAFE_INVITERS, "restricts who can invite")
    if value in SAFE_INVITERS:
        return Outcome.of(Status.PASS, f"Invitations are restricted (allowInvitesFrom = {value}).", evidence,
                          population)
    if value in ("everyone", "adminsGuestInvitersAndAllMembers"):
        who = "guests and all members" if value == "everyone" else "all member users"
        return Outcome.of(Status.FAIL, f"{who.capitalize()} can invite external users "
                                       f"(allowInvitesFrom = {value}).", evidence, population)
    return Outcome.of(Status.WARN, "Who may invite cannot be told.", evidence, population,
                      [ALLOW_INVITES_FROM.judge(value, THE_POLICY)])


def _setting(name: str, ok: bool, predicate: str) -> Population:
    """One setting of the tenant's authorization policy, examined."""
    return Population(f"authorization-policy setting ({name})", 1, int(ok), predicate)


@check(CheckSpec(
    id="GS-002", version=1, title="Guest user access is restricted", area=AREA, severity=Severity.HIGH,
    requirement="Guests have the Guest User or Restricted Guest User role, never member-equivalent access.",
    rationale="With member-equivalent access an analyst guest can enumerate the customer's whole directory, "
              "far beyond what security operations need.",
    remediation="Entra admin center → External Identities → External collaboration settings → Guest user access: "
                "'Guest user access is restricted to properties and memberships of their own directory objects'.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_GUEST_POWERS,
                                        "Ensure limiting of capabilities for the Guest account type in customer AD "
                                        "tenant."),
                ref.AUTHORIZATION_POLICY.at("guestUserRoleId")),
    resources=("authorization_policy",),
))
def guest_role_restricted(data: TenantData, ctx: Context) -> Outcome:
    role = str((data.singleton("authorization_policy") or {}).get("guestUserRoleId") or "").lower()
    evidence = [{"setting": "guestUserRoleId", "value": role or "(not returned)",
                 "meaning": GUEST_ROLES.get(role, "unknown role"), "source": AUTH_POLICY}]
    population = _setting("guestUserRoleId", role in RESTRICTED_ROLES, "restricts guest access")
    if role in RESTRICTED_ROLES:
        return Outcome.of(Status.PASS, f"Guests have the {GUEST_ROLES[role]} role.", evidence, population)
    if role == MEMBER_USER:
        return Outcome.of(Status.FAIL, "Guests have the same directory access as members.", evidence, population)
    return Outcome.of(Status.WARN, "The guest role is not one of the three documented roles; review it.", evidence,
                      population, [GUEST_USER_ROLE.judge(role or None, THE_POLICY)])


@check(CheckSpec(
    id="GS-003", version=1, title="Email-based self-service sign-up is disabled", area=AREA,
    severity=Severity.LOW,
    requirement="Users cannot join the tenant through email-verified self-service sign-up.",
    rationale="Viral sign-ups create accounts no approval or access package governs.",
    remediation="Set allowedToSignUpEmailBasedSubscriptions and allowEmailVerifiedUsersToJoinOrganization to "
                "false (Update-MgPolicyAuthorizationPolicy).",
    references=(ref.AUTHORIZATION_POLICY.at("allowedToSignUpEmailBasedSubscriptions, "
                                            "allowEmailVerifiedUsersToJoinOrganization"),),
    resources=("authorization_policy",),
))
def self_sign_up_disabled(data: TenantData, ctx: Context) -> Outcome:
    policy = data.singleton("authorization_policy") or {}
    keys = ("allowedToSignUpEmailBasedSubscriptions", "allowEmailVerifiedUsersToJoinOrganization")
    evidence = [{"setting": k, "value": policy.get(k), "source": AUTH_POLICY} for k in keys]
    enabled = [k for k in keys if policy.get(k) is True]
    # A setting Graph did not return is not shown to be off.
    unread = [vocabulary.judge(None if (v := policy.get(vocabulary.property)) is None else str(v).lower(), THE_POLICY)
              for vocabulary in (SIGN_UP_SUBSCRIPTIONS, EMAIL_VERIFIED_JOIN)]
    population = Population("authorization-policy sign-up settings", len(keys),
                            len(keys) - len(enabled) - sum(map(bool, unread)), "do not allow sign-up")
    if enabled:
        return Outcome.of(Status.FAIL, f"Self-service sign-up is allowed ({', '.join(enabled)}).", evidence,
                          population, unread)
    return Outcome.of(Status.PASS, "Email-based self-service sign-up is disabled.", evidence, population, unread)


@check(CheckSpec(
    id="GS-004", version=1, title="Guests cannot use the Entra admin center", area=AREA, severity=Severity.MEDIUM,
    requirement="'Restrict access to Microsoft Entra admin center' is set to Yes, attested by the customer.",
    rationale="The seed asks to remove guests' access to the administration portal. Graph v1.0 cannot read this "
              "setting (only an unsupported beta uxSetting exists), so it needs a dated attestation.",
    remediation="Entra admin center → Users → User settings → 'Restrict access to Microsoft Entra admin center': "
                "Yes; then record an attestation in the configuration with its evidence reference.",
    references=(ref.MSSP_ACCESS.section(ref.MSSP_GUEST_POWERS,
                                        "Users : User Setting : “Restrict Access to Azure Administration portal”"),
                ref.UX_SETTING.at("restrictNonAdminAccess (beta only: no v1.0 property reads this setting)")),
    resources=(),
))
def admin_portal_restricted(data: TenantData, ctx: Context) -> Outcome:
    return Outcome.of(Status.MANUAL, "Not readable through Graph v1.0; needs the customer's attestation.",
                      [{"setting": "Restrict access to Microsoft Entra admin center", "readable": "no (Graph v1.0)"}])


CHECKS = (guests_cannot_invite, guest_role_restricted, self_sign_up_disabled, admin_portal_restricted)
