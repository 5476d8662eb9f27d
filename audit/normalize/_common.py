"""Shared parsing of Graph values: timestamps, durations, subject sets."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import TypeAdapter, ValidationError

from audit.snapshot.store import iter_raw

UTC_TIME = pl.Datetime("us", "UTC")
_DURATION = TypeAdapter(timedelta)


def parse_time(value: Any) -> datetime | None:
    """Graph DateTimeOffset → aware UTC datetime. `0001-01-01…` means "never" in some tenants."""
    if not value or not isinstance(value, str) or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def duration_days(value: Any) -> float | None:
    """ISO 8601 durations as Graph writes them: P365D, P1Y, PT8760H, P1Y2M (a year = 365 days)."""
    if not value or not isinstance(value, str):
        return None
    try:
        return _DURATION.validate_python(value).total_seconds() / 86400
    except ValidationError:
        return None


def odata_type(obj: Mapping[str, Any] | None) -> str:
    return str((obj or {}).get("@odata.type", "")).removeprefix("#microsoft.graph.")


def subject_refs(subjects: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """subjectSet[] → 'groupMembers:<id>', 'singleUser:<id>', 'connectedOrganizationMembers:<id>', …"""
    refs = []
    for subject in subjects or ():
        kind = odata_type(subject)
        ident = (subject.get("groupId") or subject.get("userId") or subject.get("connectedOrganizationId")
                 or subject.get("servicePrincipalId") or subject.get("managerLevel") or "")
        refs.append(f"{kind}:{ident}" if ident != "" else kind)
    return refs


def raw_items(tenant_dir: Path, file: str) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every item of a committed raw file with the id of the parent it was fanned out from."""
    for record in iter_raw(tenant_dir / file):
        page = record["page"]
        parent = record.get("parent")
        if isinstance(page, dict) and isinstance(page.get("value"), list):
            for item in page["value"]:
                yield item, parent
        else:
            yield page, parent


def frame(rows: list[dict[str, Any]], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(schema))
