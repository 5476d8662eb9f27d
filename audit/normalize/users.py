"""Guest accounts (graph-api.md §1)."""

from __future__ import annotations

import polars as pl

from audit.normalize._common import UTC_TIME, Items, graph_items

GUESTS = {
    "id": pl.String, "display_name": pl.String, "mail": pl.String, "upn": pl.String, "mail_domain": pl.String,
    "user_type": pl.String, "external_user_state": pl.String, "external_state_changed": UTC_TIME,
    "creation_type": pl.String, "created": UTC_TIME, "account_enabled": pl.Boolean,
    "sign_in_present": pl.Boolean, "last_sign_in": UTC_TIME, "last_non_interactive": UTC_TIME,
    "last_successful": UTC_TIME,
}


def guests(items: Items) -> pl.DataFrame:
    rows = []
    for user, _ in graph_items(items, "user"):
        # Absent for users who never signed in, and when the collector fell back to the query without it.
        activity = user.child("signInActivity")
        mail = user.text("mail") or ""
        rows.append({
            "id": user.id,
            "display_name": user.text("displayName"),
            "mail": mail or None,
            "upn": user.text("userPrincipalName"),
            "mail_domain": mail.rpartition("@")[2].lower() or None,
            "user_type": user.text("userType"),
            "external_user_state": user.text("externalUserState"),
            "external_state_changed": user.when("externalUserStateChangeDateTime"),
            "creation_type": user.text("creationType"),
            "created": user.when("createdDateTime"),
            "account_enabled": user.flag("accountEnabled"),
            "sign_in_present": user.raw("signInActivity") is not None,
            "last_sign_in": activity.when("lastSignInDateTime"),
            "last_non_interactive": activity.when("lastNonInteractiveSignInDateTime"),
            "last_successful": activity.when("lastSuccessfulSignInDateTime"),
        })
    return pl.DataFrame(rows, schema=GUESTS)
