"""Raw Graph pages → polars tables with declared schemas, one `TenantData` per customer.

Only resources whose status is `ok` are read: a table that is absent means "no evidence", and
the check framework turns that into ERROR before any check sees it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.normalize import defender, directory, governance, reviews, users
from audit.normalize._common import raw_items
from audit.snapshot.store import atomic_open, write_json

Parser = Callable[[Any], pl.DataFrame]

# resource → (table name, parser). access_packages yields two tables (packages and policies).
TABLES: dict[str, tuple[str, Parser]] = {
    "guests": ("guests", users.guests),
    "connected_organizations": ("connected_organizations", governance.connected_organizations),
    "catalogs": ("catalogs", governance.catalogs),
    "assignments": ("assignments", governance.assignments),
    "assignment_requests": ("assignment_requests", governance.assignment_requests),
    "review_definitions": ("review_definitions", reviews.definitions),
    "review_instances": ("review_instances", reviews.instances),
    "review_decisions": ("review_decisions", reviews.decisions),
    "role_assignments": ("role_assignments", directory.role_assignments),
    "subscribed_skus": ("subscribed_skus", directory.subscribed_skus),
    "groups": ("groups", directory.groups),
    "group_members": ("group_members", directory.group_members),
    "gdap_relationships": ("gdap_relationships", directory.gdap_relationships),
    "gdap_access_assignments": ("gdap_access_assignments", directory.gdap_access_assignments),
    "defender_role_definitions": ("defender_role_definitions", defender.role_definitions),
    "defender_role_assignments": ("defender_role_assignments", defender.role_assignments),
}
SINGLETONS = ("em_settings", "authorization_policy", "cross_tenant_default", "cross_tenant_partner", "identity_sync")
PARTNER_RESOURCES = frozenset({"gdap_relationships", "gdap_access_assignments"})


@dataclass(frozen=True)
class TenantData:
    """What the checks see of one customer: its manifest, its tables, its singleton objects."""

    manifest: TenantManifest
    tables: Mapping[str, pl.DataFrame]
    singletons: Mapping[str, Mapping[str, Any] | None]   # None: collected and absent (404 where allowed)
    partner: TenantManifest | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def record(self, resource: str) -> ResourceRecord:
        if resource in PARTNER_RESOURCES:
            if self.partner is None:
                return ResourceRecord(resource, "", ResourceStatus.SKIPPED,
                                      reason="no partner tenant configured (mssp.partner_tenant_id)")
            return self.partner.status_of(resource)
        return self.manifest.status_of(resource)

    def table(self, name: str) -> pl.DataFrame:
        return self.tables[name]

    def singleton(self, name: str) -> Mapping[str, Any] | None:
        return self.singletons[name]


def normalize_tenant(tenant_dir: Path, manifest: TenantManifest, *, partner_dir: Path | None = None,
                     partner: TenantManifest | None = None) -> TenantData:
    tables: dict[str, pl.DataFrame] = {}
    for resource, (name, parse) in TABLES.items():
        source_dir, source = (partner_dir, partner) if resource in PARTNER_RESOURCES else (tenant_dir, manifest)
        if source is None or source_dir is None:
            continue
        record = source.resources.get(resource)
        if record is None or record.status is not ResourceStatus.OK:
            continue
        tables[name] = parse(raw_items(source_dir, record.file))
    packages = manifest.resources.get("access_packages")
    if packages is not None and packages.status is ResourceStatus.OK:
        tables["access_packages"], tables["policies"] = governance.access_packages(raw_items(tenant_dir, packages.file))
    if "gdap_relationships" in tables:
        mine = tables["gdap_relationships"].filter(pl.col("customer_tenant_id") == manifest.tenant_id.lower())
        tables["gdap_relationships"] = mine
        if "gdap_access_assignments" in tables:
            tables["gdap_access_assignments"] = tables["gdap_access_assignments"].filter(
                pl.col("relationship_id").is_in(mine["id"].to_list()))
    singletons: dict[str, Mapping[str, Any] | None] = {}
    for name in SINGLETONS:
        record = manifest.resources.get(name)
        if record is not None and record.status is ResourceStatus.OK:
            singletons[name] = next(item for item, _ in raw_items(tenant_dir, record.file))
        elif record is not None and record.status is ResourceStatus.NOT_FOUND:
            singletons[name] = None
    return TenantData(manifest, tables, singletons, partner)


def write_normalized(tenant_dir: Path, data: TenantData) -> None:
    """Keep the tables beside the evidence, so history and drift need no re-parsing."""
    out = tenant_dir / "normalized"       # atomic_open creates it, failing as a StorageError
    for name, table in data.tables.items():
        # Through a buffer: polars reports a failed write to a handle as a ComputeError, while our
        # own write fails as an OSError that atomic_open turns into a StorageError naming the file.
        buffer = io.BytesIO()
        table.write_parquet(buffer)
        with atomic_open(out / f"{name}.parquet", "wb") as handle:
            handle.write(buffer.getbuffer())
    write_json(out / "singletons.json", dict(data.singletons))
