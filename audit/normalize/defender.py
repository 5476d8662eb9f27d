"""Defender XDR unified RBAC (graph-api.md §10, beta only): role definitions and assignments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

Items = Iterable[tuple[dict[str, Any], str | None]]
STRINGS = pl.List(pl.String)

ROLE_DEFINITIONS: dict[str, Any] = {"id": pl.String, "display_name": pl.String, "is_built_in": pl.Boolean,
                                    "actions": STRINGS}
# unifiedRoleAssignmentMultiple: one assignment binds a role to several principals at once.
ROLE_ASSIGNMENTS: dict[str, Any] = {"id": pl.String, "display_name": pl.String, "role_definition_id": pl.String,
                    "principal_ids": STRINGS, "app_scope_ids": STRINGS}


def role_definitions(items: Items) -> pl.DataFrame:
    rows = []
    for definition, _ in items:
        actions = [str(action) for permission in definition.get("rolePermissions") or []
                   for action in (permission.get("allowedResourceActions") or [])]
        rows.append({"id": definition.get("id"), "display_name": definition.get("displayName"),
                     "is_built_in": definition.get("isBuiltIn"), "actions": actions})
    return pl.DataFrame(rows, schema=ROLE_DEFINITIONS)


def role_assignments(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": a.get("id"), "display_name": a.get("displayName"),
                          "role_definition_id": a.get("roleDefinitionId"),
                          "principal_ids": [str(p).lower() for p in a.get("principalIds") or []],
                          "app_scope_ids": [str(s) for s in a.get("appScopeIds") or []]}
                         for a, _ in items], schema=ROLE_ASSIGNMENTS)
