"""Guest accounts (graph-api.md §1)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

from audit.normalize._common import UTC_TIME, parse_time

GUESTS = {
    "id": pl.String, "display_name": pl.String, "mail": pl.String, "upn": pl.String, "mail_domain": pl.String,
    "user_type": pl.String, "external_user_state": pl.String, "external_state_changed": UTC_TIME,
    "creation_type": pl.String, "created": UTC_TIME, "account_enabled": pl.Boolean,
    "sign_in_present": pl.Boolean, "last_sign_in": UTC_TIME, "last_non_interactive": UTC_TIME,
    "last_successful": UTC_TIME,
}


def guests(items: Iterable[tuple[dict[str, Any], str | None]]) -> pl.DataFrame:
    rows = []
    for user, _ in items:
        activity = user.get("signInActivity")
        mail = user.get("mail") or ""
        rows.append({
            "id": user.get("id"),
            "display_name": user.get("displayName"),
            "mail": mail or None,
            "upn": user.get("userPrincipalName"),
            "mail_domain": mail.rpartition("@")[2].lower() or None,
            "user_type": user.get("userType"),
            "external_user_state": user.get("externalUserState"),
            "external_state_changed": parse_time(user.get("externalUserStateChangeDateTime")),
            "creation_type": user.get("creationType"),
            "created": parse_time(user.get("createdDateTime")),
            "account_enabled": user.get("accountEnabled"),
            "sign_in_present": isinstance(activity, dict),
            "last_sign_in": parse_time((activity or {}).get("lastSignInDateTime")),
            "last_non_interactive": parse_time((activity or {}).get("lastNonInteractiveSignInDateTime")),
            "last_successful": parse_time((activity or {}).get("lastSuccessfulSignInDateTime")),
        })
    return pl.DataFrame(rows, schema=GUESTS)
