"""Singleton settings (graph-api.md §2 settings, §4, §5): checked once here, read by the checks as Graph sent them.

The checks and the drift report read a handful of properties of each singleton straight from
the object; each is declared below with its Graph type, so a wrongly-typed value makes the
singleton unreadable (ERROR naming the property) before any check compares it with a
documented value and draws a conclusion from a value it does not understand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from audit.normalize._common import GraphObject, ShapeError
from audit.normalize.vocabulary import Vocabulary, declare

ALLOW_INVITES_FROM = Vocabulary(
    "authorization_policy", "allowInvitesFrom",
    ("none", "adminsAndGuestInviters", "adminsGuestInvitersAndAllMembers", "everyone", "unknownFutureValue"),
    {"none": "GS-001 passes", "adminsAndGuestInviters": "GS-001 passes",
     "adminsGuestInvitersAndAllMembers": "GS-001 fails: all members can invite",
     "everyone": "GS-001 fails: guests can invite"},
    "authorizationpolicy", read_by=("GS-001",))
RESTRICTED_GUEST, GUEST_USER, MEMBER_USER = ("2af84b1e-32c8-42b7-82bc-daa82404023b",
                                             "10dae51f-b6af-4016-8d66-8c2a99b929b3",
                                             "a0b1b346-4d3e-4e8b-98f8-753987be4970")
GUEST_USER_ROLE = Vocabulary(
    "authorization_policy", "guestUserRoleId", (MEMBER_USER, GUEST_USER, RESTRICTED_GUEST),
    {RESTRICTED_GUEST: "Restricted Guest User: GS-002 passes", GUEST_USER: "Guest User: GS-002 passes",
     MEMBER_USER: "User (member-equivalent access): GS-002 fails"},
    "authorizationpolicy", read_by=("GS-002",), case_insensitive=True)
_BOOLEAN = ("true", "false")
SIGN_UP_SUBSCRIPTIONS = Vocabulary(
    "authorization_policy", "allowedToSignUpEmailBasedSubscriptions", _BOOLEAN,
    {"true": "GS-003 fails: viral sign-up allowed", "false": "GS-003 passes"}, "authorizationpolicy",
    read_by=("GS-003",))
EMAIL_VERIFIED_JOIN = Vocabulary(
    "authorization_policy", "allowEmailVerifiedUsersToJoinOrganization", _BOOLEAN,
    {"true": "GS-003 fails: email-verified users may join", "false": "GS-003 passes"}, "authorizationpolicy",
    read_by=("GS-003",))
declare(ALLOW_INVITES_FROM, GUEST_USER_ROLE, SIGN_UP_SUBSCRIPTIONS, EMAIL_VERIFIED_JOIN)


def _em_settings(settings: GraphObject) -> None:
    settings.text("externalUserLifecycleAction")
    settings.days("durationUntilExternalUserDeletedAfterBlocked")


def _authorization_policy(policy: GraphObject) -> None:
    policy.text("allowInvitesFrom")
    policy.text("guestUserRoleId")
    policy.flag("allowedToSignUpEmailBasedSubscriptions")
    policy.flag("allowEmailVerifiedUsersToJoinOrganization")


def _cross_tenant(configuration: GraphObject) -> None:
    # In a partner configuration a null setting inherits the default (graph-api.md §5).
    configuration.child("inboundTrust").flag("isMfaAccepted")
    configuration.child("automaticUserConsentSettings").flag("inboundAllowed")


def _identity_sync(sync: GraphObject) -> None:
    sync.child("userSyncInbound").flag("isSyncAllowed")


# singleton resource (kind "single" in audit/resources.py) → the properties the checks and drift read
READS: dict[str, Callable[[GraphObject], None]] = {
    "em_settings": _em_settings,
    "authorization_policy": _authorization_policy,
    "cross_tenant_default": _cross_tenant,
    "cross_tenant_partner": _cross_tenant,
    "identity_sync": _identity_sync,
}


def read_singleton(name: str, value: Any) -> Mapping[str, Any]:
    """The singleton as Graph sent it, once every property the checks read has its documented type."""
    if not isinstance(value, Mapping):
        raise ShapeError("(the object itself)", "an object", value)
    READS[name](GraphObject(value))
    return value
