"""What Graph may leave out is read as absent; what it sends must have its documented type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from audit.normalize import users
from audit.normalize._common import MAX_TEXT, GraphObject, ShapeError
from audit.normalize.settings import read_singleton

GUEST: dict[str, Any] = {
    "id": "1a2b3c4d-0000-4000-8000-000000000001", "displayName": "a-Lina3", "userType": "Guest",
    "userPrincipalName": "a-lina3_soc.example#EXT#@contoso.onmicrosoft.com", "accountEnabled": True,
}


def guest_row(**changes: Any) -> dict[str, Any]:
    user = {k: v for k, v in {**GUEST, **changes}.items() if v is not ...}
    return users.guests([(user, None)]).row(0, named=True)


def test_documented_nulls_and_absences_read_as_none() -> None:
    # graph-api.md §1: createdDateTime is null before June 2018, mail and externalUserState may be
    # null, signInActivity is absent for users who never signed in (and without AuditLog.Read.All).
    row = guest_row(createdDateTime=None, mail=None, externalUserState=None, creationType=None)
    assert row["created"] is None and row["mail"] is None and row["mail_domain"] is None
    assert row["sign_in_present"] is False and row["last_successful"] is None
    # Some tenants write 0001-01-01 for "never".
    never = guest_row(signInActivity={"lastSuccessfulSignInDateTime": "0001-01-01T00:00:00Z",
                                      "lastSignInDateTime": None})
    assert never["sign_in_present"] is True and never["last_successful"] is None
    assert guest_row(createdDateTime="2026-01-02T03:04:05Z")["created"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert guest_row(externalUserState="somethingNew")["external_user_state"] == "somethingNew"   # unknown enum


@pytest.mark.parametrize(("changes", "reason"), [
    ({"accountEnabled": "yes"},
     "property accountEnabled of user 1a2b3c4d-0000-4000-8000-000000000001: expected a boolean, got the string 'yes'"),
    ({"displayName": 7}, "property displayName of user 1a2b3c4d-0000-4000-8000-000000000001: expected a string, "
                         "got the number 7"),
    ({"signInActivity": []}, "property signInActivity of user 1a2b3c4d-0000-4000-8000-000000000001: expected an "
                             "object, got a list"),
    ({"signInActivity": {"lastSuccessfulSignInDateTime": "yesterday"}},
     "property signInActivity.lastSuccessfulSignInDateTime of user 1a2b3c4d-0000-4000-8000-000000000001: expected a "
     "date and time (ISO 8601), got the string 'yesterday'"),
    ({"displayName": "x" * (MAX_TEXT + 1)},
     f"property displayName of user 1a2b3c4d-0000-4000-8000-000000000001: expected a string of at most 65,536 "
     f"characters, got a string of {MAX_TEXT + 1:,} characters"),
    ({"id": ...}, "property id of user #1: expected a string, got no value (the property is missing)"),
])
def test_a_value_graph_does_not_document_is_named(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(ShapeError) as raised:
        guest_row(**changes)
    assert str(raised.value) == reason


def test_lists_and_numbers_are_typed_too() -> None:
    policy = GraphObject({"stages": [{"a": 1}, "x"], "interval": True, "ids": ["a", 3]}, subject="policy p1")
    with pytest.raises(ShapeError, match=r"property stages\[1\] of policy p1: expected an object, got the string 'x'"):
        policy.children("stages")
    with pytest.raises(ShapeError, match="expected a whole number, got the boolean true"):
        policy.number("interval")
    with pytest.raises(ShapeError, match=r"property ids\[1\] of policy p1: expected a string, got the number 3"):
        policy.texts("ids")


def test_a_singleton_is_read_for_the_properties_the_checks_use() -> None:
    policy = {"allowInvitesFrom": "everyone", "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
              "defaultUserRolePermissions": "not what Graph sends, but no check reads it"}
    assert read_singleton("authorization_policy", policy) is policy
    with pytest.raises(ShapeError, match="property allowInvitesFrom: expected a string, got the number 3"):
        read_singleton("authorization_policy", {**policy, "allowInvitesFrom": 3})
    with pytest.raises(ShapeError, match=r"property inboundTrust\.isMfaAccepted: expected a boolean"):
        read_singleton("cross_tenant_partner", {"inboundTrust": {"isMfaAccepted": "true"}})
    assert read_singleton("cross_tenant_partner", {"inboundTrust": None}) == {"inboundTrust": None}   # inherits
    with pytest.raises(ShapeError, match="expected an object, got a list"):
        read_singleton("em_settings", [])
