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
