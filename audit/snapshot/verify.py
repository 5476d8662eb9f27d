"""Re-hash a stored run: every raw file against its tenant manifest, every tenant manifest
against the run manifest. Anything changed, missing or added after the run is reported.

A file that cannot be read or parsed (truncated, not JSON, a directory where a file belongs) is a
finding like any other: `verify` names it and goes on, it never crashes on what it was asked to judge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from audit.snapshot.store import RunStore, sha256_file


@dataclass(frozen=True)
class Finding:
    path: str
    problem: str


class _Walk:
    """The findings and the count of files re-hashed, relative to one run directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Finding] = []
        self.checked = 0

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def add(self, path: Path, problem: str) -> None:
        self.problems.append(Finding(self.rel(path), problem))

    def hash_of(self, path: Path, what: str) -> str | None:
        """The file's sha256, or None with a finding when it is missing or not a readable file."""
        if not path.exists() and not path.is_symlink():
            self.add(path, f"{what} missing")
            return None
        if not path.is_file() or path.is_symlink():
            self.add(path, f"{what} is not a regular file")
            return None
        try:
            digest = sha256_file(path)
        except OSError as error:
            self.add(path, f"{what} unreadable: {error.strerror or error}")
            return None
        self.checked += 1
        return digest

    def check(self, path: Path, expected: object, what: str, changed: str) -> bool:
        digest = self.hash_of(path, what)
        if digest is None:
            return False
        if digest != expected:
            self.add(path, changed)
            return False
        return True

    def json_object(self, path: Path, what: str) -> dict[str, Any] | None:
        """A JSON object read from `path`, or None with a finding (already made when missing)."""
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not valid JSON"
            self.add(path, f"{what} unreadable: {reason}")
            return None
        if not isinstance(data, dict):
            self.add(path, f"{what} is not a JSON object")
            return None
        return data


def safe_relative(name: object) -> PurePosixPath | None:
    """A path recorded in a manifest, if it stays inside its directory (no absolute path, no `..`)."""
    if not isinstance(name, str) or not name or "\\" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        return None
    return path


def verify_tenant(walk: _Walk, tenant_dir: Path, expected_sha: object) -> None:
    """The tenant manifest against its recorded hash, and every raw file against the manifest."""
    manifest_path = tenant_dir / "manifest.json"
    walk.check(manifest_path, expected_sha, "tenant manifest", "tenant manifest changed since the run")
    if not manifest_path.is_file():
        return
    manifest = walk.json_object(manifest_path, "tenant manifest")
    if manifest is None:
        return
    resources = manifest.get("resources")
    if not isinstance(resources, dict):
        walk.add(manifest_path, "tenant manifest has no resources object")
        return
    recorded: set[str] = set()
    shared: list[tuple[str, str]] = []     # (resource, file) read with another resource: no hash of its own
    for name, record in sorted(resources.items()):
        if not isinstance(record, dict):
            walk.add(manifest_path, f"resource {name!r} is not an object")
            continue
        if not record.get("file") and not record.get("sha256"):
            continue                                     # nothing stored (forbidden, not found, …)
        relative = safe_relative(record.get("file"))
        if relative is None:
            walk.add(manifest_path, f"resource {name!r} names no file inside the tenant directory")
            continue
        if not record.get("sha256"):                     # e.g. guest_sign_ins, "collected with guests"
            shared.append((name, str(relative)))
            continue
        recorded.add(str(relative))
        walk.check(tenant_dir / relative, record.get("sha256"), "raw evidence file",
                   "raw evidence changed since collection")
    for name, file in shared:
        if file not in recorded:
            walk.add(manifest_path, f"resource {name!r} names {file}, which no resource records a hash of")
    raw_dir = tenant_dir / "raw"
    if raw_dir.is_dir():
        for path in sorted(raw_dir.iterdir()):
            if path.name.endswith(".part"):              # a write interrupted before its rename
                continue
            if f"raw/{path.name}" not in recorded:
                walk.add(path, "raw file not recorded in the manifest")


def verify_run(store: RunStore) -> tuple[int, list[Finding]]:
    """(files checked, problems). An empty problem list means the evidence is intact."""
    walk = _Walk(store.root)
    run = walk.json_object(store.run_manifest_path, "run manifest") if walk.hash_of(
        store.run_manifest_path, "run manifest") else None
    if run is None:
        return walk.checked, walk.problems
    expected = run.get("tenant_manifests") or {}
    if not isinstance(expected, dict) or not expected:
        walk.add(store.run_manifest_path, "no tenant manifest hashes (the run did not finish)")
        expected = {}
    tenants_dir = store.root / "tenants"
    present = {p.name for p in tenants_dir.iterdir()} if tenants_dir.is_dir() else set()
    for extra in sorted(present - set(expected)):
        if expected:
            walk.add(tenants_dir / extra, "tenant directory not recorded in run.json")
    for tenant_id, sha in sorted(expected.items()):
        if not isinstance(tenant_id, str) or safe_relative(tenant_id) is None or "/" in tenant_id:
            walk.add(store.run_manifest_path, f"not a tenant id: {tenant_id!r}")
            continue
        verify_tenant(walk, tenants_dir / tenant_id, sha)
    return walk.checked, walk.problems
