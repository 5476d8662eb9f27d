"""Raw Graph pages → polars tables with declared schemas, one `TenantData` per customer.

Only resources whose status is `ok` are read: a table that is absent means "no evidence", and
the check framework turns that into ERROR before any check sees it. A resource that was collected
but holds a value Graph does not document (a string for a boolean, a list for an object, a 10 MB
name) is *unreadable*: it gets no table, its record reads as failed with the property named, and
the other resources and customers are unaffected.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from audit.gc_policy import fewer_collections
from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.normalize import defender, directory, governance, reviews, users
from audit.normalize._common import ShapeError, raw_items
from audit.normalize.licences import LicenceState, licence_from_record
from audit.normalize.settings import read_singleton
from audit.resources import PARTNER_RESOURCES, RESOURCES, SINGLETONS
from audit.snapshot.store import atomic_open, write_json

# A parser turns a resource's raw items into its tables, in the catalogue's order of `tables`.
Parser = Callable[[Any], pl.DataFrame | tuple[pl.DataFrame, ...]]

# resource → parser, for every resource of the catalogue that yields tables (audit/resources.py).
PARSERS: dict[str, Parser] = {
    "guests": users.guests,
    "external_members": users.external_members,
    "connected_organizations": governance.connected_organizations,
    "catalogs": governance.catalogs,
    "access_packages": governance.access_packages,      # packages, and the policies it expands
    "assignments": governance.assignments,
    "assignment_requests": governance.assignment_requests,
    "review_definitions": reviews.definitions,
    "review_instances": reviews.instances,
    "review_decisions": reviews.decisions,
    "role_assignments": directory.role_assignments,
    "subscribed_skus": directory.subscribed_skus,
    "groups": directory.groups,
    "group_members": directory.group_members,
    "role_group_members": directory.role_group_members,
    "gdap_relationships": directory.gdap_relationships,
    "gdap_access_assignments": directory.gdap_access_assignments,
    "defender_role_definitions": defender.role_definitions,
    "defender_role_assignments": defender.role_assignments,
}


@dataclass(frozen=True)
class TenantData:
    """What the checks see of one customer: its manifest, its tables, its singleton objects."""

    manifest: TenantManifest
    tables: Mapping[str, pl.DataFrame]
    singletons: Mapping[str, Mapping[str, Any] | None]   # None: collected and absent (404 where allowed)
    partner: TenantManifest | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # resource → why it was collected but could not be read (the property and value not understood)
    unreadable: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def licence(self) -> LicenceState:
        """The tenant's licence state (audit.normalize.licences), decided once: the check framework's
        licence gate asks it for every check, the licence checks and the report once more."""
        return licence_from_record(self.record("subscribed_skus"), self.tables.get("subscribed_skus"))

    def record(self, resource: str) -> ResourceRecord:
        """How the resource's evidence stands: its manifest record, failed when it was unreadable."""
        record = self._collected(resource)
        if resource in self.unreadable:
            return dataclasses.replace(record, status=ResourceStatus.FAILED,
                                       reason=f"unreadable: {self.unreadable[resource]}")
        return record

    def _collected(self, resource: str) -> ResourceRecord:
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
    with fewer_collections():     # json.loads over every raw page: millions of dicts, few cycles
        return _normalize_tenant(tenant_dir, manifest, partner_dir=partner_dir, partner=partner)


def _normalize_tenant(tenant_dir: Path, manifest: TenantManifest, *, partner_dir: Path | None,
                      partner: TenantManifest | None) -> TenantData:
    tables: dict[str, pl.DataFrame] = {}
    unreadable: dict[str, str] = {}
    tenant_id = manifest.tenant_id.lower()
    mine: list[str] = []                     # this customer's GDAP relationship ids
    for spec in RESOURCES:
        if not spec.tables:
            continue
        resource, parse = spec.name, PARSERS[spec.name]
        source_dir, source = (partner_dir, partner) if spec.partner else (tenant_dir, manifest)
        if source is None or source_dir is None:
            continue
        record = source.resources.get(resource)
        if record is None or record.status is not ResourceStatus.OK:
            continue
        items = raw_items(source_dir, record.file)
        # The partner's GDAP files hold every customer's relationships: read only this customer's,
        # so another customer's odd value never makes this one's unreadable.
        if resource == "gdap_relationships":
            items = _of_customer(items, tenant_id)
        elif resource == "gdap_access_assignments":
            if "gdap_relationships" in unreadable:   # whose assignments are whose cannot be told
                unreadable[resource] = "its parent gdap_relationships is unreadable"
                continue
            items = ((item, parent) for item, parent in items if parent in mine)
        try:
            parsed = parse(items)
        except _UNREADABLE as exc:
            unreadable[resource] = _why(exc)
            continue
        tables.update(zip(spec.tables, parsed if isinstance(parsed, tuple) else (parsed,), strict=True))
        if resource == "gdap_relationships":
            tables["gdap_relationships"] = tables["gdap_relationships"].filter(
                pl.col("customer_tenant_id") == tenant_id)
            mine = tables["gdap_relationships"]["id"].to_list()
    singletons: dict[str, Mapping[str, Any] | None] = {}
    for name in SINGLETONS:
        record = manifest.resources.get(name)
        if record is not None and record.status is ResourceStatus.OK:
            try:
                singletons[name] = read_singleton(name, next(
                    (item for item, _ in raw_items(tenant_dir, record.file, collection=False)), None))
            except _UNREADABLE as exc:
                unreadable[name] = _why(exc)
        elif record is not None and record.status is ResourceStatus.NOT_FOUND:
            singletons[name] = None
    return TenantData(manifest, tables, singletons, partner, unreadable=unreadable)


_TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A value Graph does not document, or a raw file that cannot be read back (JSON, I/O).
_UNREADABLE = (ShapeError, json.JSONDecodeError, UnicodeDecodeError, OSError)


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ShapeError) else f"the raw file could not be read ({type(exc).__name__}: {exc})"


def _of_customer(items: Iterator[tuple[Any, str | None]], tenant_id: str) -> Iterator[tuple[Any, str | None]]:
    """Relationships whose customer.tenantId is another tenant's id are skipped unread; one whose
    customer cannot be told is kept, and the parser names what it could not read."""
    for item, parent in items:
        customer = item.get("customer") if isinstance(item, dict) else None
        other = customer.get("tenantId") if isinstance(customer, dict) else None
        if isinstance(other, str) and _TENANT_ID.fullmatch(other) and other.lower() != tenant_id:
            continue
        yield item, parent


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
