"""Defender XDR unified RBAC (graph-api.md §10, beta only): role definitions and assignments."""

from __future__ import annotations

from typing import Any

import polars as pl

from audit.normalize._common import Items, graph_items

STRINGS = pl.List(pl.String)

ROLE_DEFINITIONS: dict[str, Any] = {"id": pl.String, "display_name": pl.String, "is_built_in": pl.Boolean,
                                    "actions": STRINGS}
# unifiedRoleAssignmentMultiple: one assignment binds a role to several principals at once.
ROLE_ASSIGNMENTS: dict[str, Any] = {"id": pl.String, "display_name": pl.String, "role_definition_id": pl.String,
                    "principal_ids": STRINGS, "app_scope_ids": STRINGS}


def role_definitions(items: Items) -> pl.DataFrame:
    rows = []
    for definition, _ in graph_items(items, "Defender role definition"):
        actions = [action for permission in definition.children("rolePermissions")
                   for action in permission.texts("allowedResourceActions")]
        rows.append({"id": definition.id, "display_name": definition.text("displayName"),
                     "is_built_in": definition.flag("isBuiltIn"), "actions": actions})
    return pl.DataFrame(rows, schema=ROLE_DEFINITIONS)


def role_assignments(items: Items) -> pl.DataFrame:
    return pl.DataFrame([{"id": a.id, "display_name": a.text("displayName"),
                          "role_definition_id": a.text("roleDefinitionId"),
                          "principal_ids": [p.lower() for p in a.texts("principalIds")],
                          "app_scope_ids": a.texts("appScopeIds")}
                         for a, _ in graph_items(items, "Defender role assignment")], schema=ROLE_ASSIGNMENTS)
