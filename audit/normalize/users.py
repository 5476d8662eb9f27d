"""User accounts: the guests, the member-type B2B users, and what kind of account each is (graph-api.md §1)."""

from __future__ import annotations

import polars as pl

from audit.normalize._common import UTC_TIME, GraphObject, Items, graph_items

# `external`: the account's home is another tenant (b2b_marks); `kind`: what sort of account it is,
# in the words the evidence shows (account_kind).
KIND = {"external": pl.Boolean, "kind": pl.String}
USERS = {
    "id": pl.String, "display_name": pl.String, "mail": pl.String, "upn": pl.String, "mail_domain": pl.String,
    "user_type": pl.String, "external_user_state": pl.String, "external_state_changed": UTC_TIME,
    "creation_type": pl.String, "created": UTC_TIME, "account_enabled": pl.Boolean,
    "sign_in_present": pl.Boolean, "last_sign_in": UTC_TIME, "last_non_interactive": UTC_TIME,
    "last_successful": UTC_TIME, **KIND,
}


UNKNOWN_KIND = "not known (Graph returned no userType, UPN or invitation data)"


def b2b_marks(upn: str | None, creation_type: str | None, external_user_state: str | None) -> tuple[str, ...]:
    """What shows an account to be a B2B (external) account, the one test every stage uses.

    graph-api.md §1, "External users that are not userType=Guest": a UPN carrying #EXT# (the B2B
    collaboration user's UPN, entra-docs external-id/user-properties), creationType 'Invitation' (the
    user resource: "as an external account") or an externalUserState (set for invited users). No
    mark: an account of this tenant, whatever its userType (internal guests exist).
    """
    marks = []
    if "#EXT#" in (upn or ""):
        marks.append("#EXT# UPN")
    if creation_type == "Invitation":
        marks.append("creationType Invitation")
    if external_user_state is not None:
        marks.append(f"externalUserState {external_user_state}")
    return tuple(marks)


def account_kind(user_type: str | None, marks: tuple[str, ...], external_user_state: str | None) -> str:
    """The kind of account, as far as its user object tells. Graph v1.0 carries no property that
    tells a cross-tenant-synced user from a guest converted to member (both: userType Member,
    creationType Invitation, #EXT# UPN; entra-docs cross-tenant-synchronization-overview), so the
    kind names both rather than guess."""
    pending = external_user_state == "PendingAcceptance"
    if not marks and user_type is None:
        # graph-api.md §9: without permission for a member's object type Graph returns only its id.
        return UNKNOWN_KIND
    if not marks:
        return "internal guest (an account of this tenant marked Guest)" if user_type == "Guest" else "local account"
    if user_type == "Guest":
        return "invited guest (B2B), invitation pending" if pending else "invited guest (B2B)"
    if user_type == "Member":
        return ("invited as member (B2B), invitation pending" if pending else
                "member-type B2B (cross-tenant-synced, or a guest converted to member)")
    return f"B2B account (userType {user_type or 'not returned'})"


def kind_of(user_type: str | None, upn: str | None, creation_type: str | None,
            external_user_state: str | None) -> dict[str, object]:
    """The `external` and `kind` columns of one account."""
    marks = b2b_marks(upn, creation_type, external_user_state)
    return {"external": bool(marks), "kind": account_kind(user_type, marks, external_user_state)}


def users(items: Items) -> pl.DataFrame:
    rows = []
    for user, _ in graph_items(items, "user"):
        # Absent for users who never signed in, and when the collector fell back to the query without it.
        activity = user.child("signInActivity")
        mail = user.text("mail") or ""
        upn, user_type = user.text("userPrincipalName"), user.text("userType")
        creation, state = user.text("creationType"), user.text("externalUserState")
        rows.append({
            "id": user.id,
            "display_name": user.text("displayName"),
            "mail": mail or None,
            "upn": upn,
            "mail_domain": mail.rpartition("@")[2].lower() or None,
            "user_type": user_type,
            "external_user_state": state,
            "external_state_changed": user.when("externalUserStateChangeDateTime"),
            "creation_type": creation,
            "created": user.when("createdDateTime"),
            "account_enabled": user.flag("accountEnabled"),
            "sign_in_present": user.raw("signInActivity") is not None,
            "last_sign_in": activity.when("lastSignInDateTime"),
            "last_non_interactive": activity.when("lastNonInteractiveSignInDateTime"),
            "last_successful": activity.when("lastSuccessfulSignInDateTime"),
            **kind_of(user_type, upn, creation, state),
        })
    return pl.DataFrame(rows, schema=USERS)


def member_kind(member: GraphObject) -> dict[str, object]:
    """`external` and `kind` of a group member or role principal (a user; anything else is neither)."""
    if member.kind() not in ("", "user"):
        return {"external": False, "kind": member.kind()}
    return kind_of(member.text("userType"), member.text("userPrincipalName"), member.text("creationType"),
                   member.text("externalUserState"))


guests = users
external_members = users
