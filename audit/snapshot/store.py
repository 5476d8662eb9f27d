"""The evidence on disk (DESIGN.md, "The snapshot").

    <data_dir>/runs/<run_id>/run.json
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/manifest.json
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/raw/<resource>.jsonl
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/normalized/<table>.parquet
    <data_dir>/runs/<run_id>/tenants/<tenant_id>/results.json
    <data_dir>/runs/<run_id>/reports/…

Every write is atomic (temp file in the same directory, fsync, rename), so a `kill -9` leaves
either the old file or the new one, never half of one. Raw files are never edited once committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from audit.models import ResourceRecord, TenantManifest

_TENANT_DIR = re.compile(r"^[0-9a-fA-F-]{36}$")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temp file beside `path`; rename over it on success, delete it on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> str:
    """Atomic, stable JSON; returns the sha256 of what was written."""
    blob = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=_default).encode()
    with atomic_open(path, "wb") as handle:
        handle.write(blob)
    return hashlib.sha256(blob).hexdigest()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RawWriter:
    """Streams Graph pages into raw/<resource>.jsonl, one page a line, hashing as it goes.

    The file only appears under its real name when `commit()` is called: an aborted or crashed
    collection leaves nothing a later stage could mistake for complete evidence.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        self._handle = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.lines = 0
        self.items = 0

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self._digest.update(line)
        self._handle.write(line)
        self.lines += 1
        page = record.get("page")
        if isinstance(page, dict) and isinstance(page.get("value"), list):
            self.items += len(page["value"])

    def commit(self, path: Path | None = None) -> str:
        """Publish the file under its name (or `path`, e.g. the partial pages of a failed chain)."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, path or self.path)
        return self._digest.hexdigest()

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        Path(self._tmp).unlink(missing_ok=True)


def iter_raw(path: Path) -> Iterator[dict[str, Any]]:
    """The stored page records of a raw file, in order."""
    with path.open("rb") as handle:
        for line in handle:
            yield json.loads(line)


class RunStore:
    """Paths and manifests of one run."""

    def __init__(self, data_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.root = data_dir / "runs" / run_id

    @property
    def run_manifest_path(self) -> Path:
        return self.root / "run.json"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def tenant_dir(self, tenant_id: str) -> Path:
        if not _TENANT_DIR.match(tenant_id):  # tenant ids come from config, but stay paranoid
            raise ValueError(f"not a tenant id: {tenant_id!r}")
        return self.root / "tenants" / tenant_id.lower()

    def raw_path(self, tenant_id: str, resource: str) -> Path:
        return self.tenant_dir(tenant_id) / "raw" / f"{resource}.jsonl"

    def manifest_path(self, tenant_id: str) -> Path:
        return self.tenant_dir(tenant_id) / "manifest.json"

    def write_tenant_manifest(self, manifest: TenantManifest) -> str:
        return write_json(self.manifest_path(manifest.tenant_id), manifest_to_json(manifest))

    def read_tenant_manifest(self, tenant_id: str) -> TenantManifest | None:
        path = self.manifest_path(tenant_id)
        return manifest_from_json(read_json(path)) if path.exists() else None


def manifest_to_json(manifest: TenantManifest) -> dict[str, Any]:
    return {
        "schema": "mssp-audit/tenant-manifest/1",
        "tenant_id": manifest.tenant_id,
        "customer": manifest.customer,
        "collected_at": manifest.collected_at.isoformat(),
        "token_ok": manifest.token_ok,
        "token_reason": manifest.token_reason,
        "granted_roles": list(manifest.granted_roles),
        "resources": {name: record.to_json() for name, record in sorted(manifest.resources.items())},
    }


def manifest_from_json(data: dict[str, Any]) -> TenantManifest:
    return TenantManifest(
        tenant_id=data["tenant_id"],
        customer=data["customer"],
        collected_at=datetime.fromisoformat(data["collected_at"]),
        token_ok=bool(data["token_ok"]),
        token_reason=data.get("token_reason", ""),
        granted_roles=tuple(data.get("granted_roles", ())),
        resources={name: ResourceRecord.from_json(r) for name, r in data.get("resources", {}).items()},
    )
