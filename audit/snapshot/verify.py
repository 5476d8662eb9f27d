"""Re-hash a stored run along its chain (audit/snapshot/seal.py): raw files against their tenant
manifest, tenant manifests against the seal, evaluated files against their evaluation record, the
record against the seal. Anything changed, missing or added after it was written is reported.

A file that cannot be read or parsed (truncated, not JSON, a directory where a file belongs) is a
finding like any other: `verify` names it and goes on, it never crashes on what it was asked to judge.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from audit.snapshot.seal import check_evaluation_json, check_seal_json
from audit.snapshot.signing import signature_path, signature_valid
from audit.snapshot.store import RunStore, sha256_file

_TENANT_ID = re.compile(r"^[0-9a-f-]{36}$")


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


def verify_run(store: RunStore, public_key: Any = None) -> tuple[int, list[Finding]]:
    """(files checked, problems) over the whole chain: raw pages → tenant manifests → seal →
    evaluation records → normalised tables, results and reports; and run.json's scores against the
    evaluation it names. With `public_key`, the seal and every record must carry a valid signature.
    An empty problem list means the run is intact and complete."""
    return verify_tree(store.root, public_key=public_key)


def verify_tree(root: Path, *, bundle: bool = False, public_key: Any = None) -> tuple[int, list[Finding]]:
    """A run directory, or an auditor's bundle unpacked (`bundle`: one customer's part of the
    seal and of its evaluation, no run.json, and every file in it accounted for)."""
    walk = _Walk(root)
    store = RunStore.at(root)
    sealed = _verify_seal(walk, store, bundle, public_key)
    if sealed is not None:
        accounted = _verify_evaluations(walk, store, sealed, bundle, public_key)
        if bundle:
            _verify_nothing_else(walk, root, accounted)
        else:
            _verify_run_manifest(walk, store, accounted.records)
    return walk.checked, walk.problems


def _verify_signature(walk: _Walk, record: Path, digest: str, public_key: Any) -> None:
    if public_key is None:
        return
    signature = signature_path(record)
    if not signature.is_file():
        walk.add(signature, "signature missing")
    elif not signature_valid(public_key, digest, signature.read_bytes()):
        walk.add(signature, f"signature does not verify with the public key: {walk.rel(record)} was changed, "
                            "or it was signed with another key")
    else:
        walk.checked += 1


@dataclass
class _Accounted:
    files: set[str]
    records: dict[str, dict[str, Any]]


def _verify_seal(walk: _Walk, store: RunStore, bundle: bool, public_key: Any) -> str | None:
    """The seal's digest when seal.json is there and readable (its problems are findings)."""
    if not store.seal_path.exists() and not store.seal_path.is_symlink():
        walk.add(store.seal_path, "seal missing" if bundle else "run not sealed: its collection did not finish")
        return None
    if walk.hash_of(store.seal_path, "seal") is None:
        return None
    data = walk.json_object(store.seal_path, "seal")
    if data is None:
        return None
    sealed, disclosed, problems = check_seal_json(data)
    for problem in problems:
        walk.add(store.seal_path, problem)
    if sealed is None:
        return None
    _verify_signature(walk, store.seal_path, sealed, public_key)
    leaves = data["core"]["tenants"]
    if not bundle and len(disclosed) != len(leaves):
        walk.add(store.seal_path, f"the core vouches for {len(leaves)} tenant(s), {len(disclosed)} are listed")
    if bundle and not disclosed:
        walk.add(store.seal_path, "the bundle discloses no tenant")
    tenants_dir = store.root / "tenants"
    present = {p.name for p in tenants_dir.iterdir()} if tenants_dir.is_dir() else set()
    for extra in sorted(present - set(disclosed)):
        walk.add(tenants_dir / extra, "tenant directory not in the seal")
    for tenant_id, entry in disclosed.items():
        if not _TENANT_ID.fullmatch(tenant_id):
            walk.add(store.seal_path, f"not a tenant id: {tenant_id[:60]!r}")
            continue
        verify_tenant(walk, tenants_dir / tenant_id, entry.get("sha256"))
    return sealed


def _verify_evaluations(walk: _Walk, store: RunStore, sealed: str, bundle: bool, public_key: Any) -> _Accounted:
    accounted = _Accounted(set(), {})
    evaluations = store.evaluations_dir
    paths = sorted(p for p in evaluations.glob("*.json")) if evaluations.is_dir() else []
    for path in paths:
        if walk.hash_of(path, "evaluation record") is None:
            continue
        data = walk.json_object(path, "evaluation record")
        if data is None:
            continue
        core, files, problems = check_evaluation_json(data)
        for problem in problems:
            walk.add(path, problem)
        if core is None:
            continue
        if core.get("evaluation_id") != path.stem:
            walk.add(path, f"names itself evaluation {str(core.get('evaluation_id'))[:20]!r}")
        accounted.records[path.stem] = data
        if core.get("seal_digest") != sealed:
            walk.add(path, "evaluated a different seal than the run's seal.json")
        _verify_signature(walk, path, str(data.get("digest")), public_key)
        for name, sha in sorted(files.items()):
            relative = safe_relative(name)
            if relative is None:
                walk.add(path, f"names a file outside the run: {str(name)[:80]!r}")
                continue
            accounted.files.add(str(relative))
            walk.check(store.root / relative, sha, "evaluated file", "changed since its evaluation")
    if not paths:
        walk.add(evaluations, "no evaluation record" if bundle else "run never evaluated: no evaluation record")
    if not bundle:
        for path in _evaluation_outputs(store):
            if walk.rel(path) not in accounted.files:
                walk.add(path, "not recorded by any evaluation")
    return accounted


def _verify_nothing_else(walk: _Walk, root: Path, accounted: _Accounted) -> None:
    """Every file of a bundle is part of the sealed record (or its README)."""
    known = set(accounted.files) | {"README.txt", "seal.json", "seal.json.sig"}
    for path in sorted(root.rglob("*")):
        rel = walk.rel(path)
        if path.is_dir() or rel in known or _EVIDENCE_OR_RECORD.fullmatch(rel):
            continue        # manifests and raw files: verify_tenant names any the manifest does not record
        walk.add(path, "not part of the sealed record")


_EVIDENCE_OR_RECORD = re.compile(r"tenants/[^/]+/(manifest\.json|raw/[^/]+)|evaluations/\d+\.json(\.sig)?")


def _evaluation_outputs(store: RunStore) -> list[Path]:
    """Every file where an evaluation writes: results, tables and reports, of the run's first
    evaluation and of the later ones under evaluations/<id>/."""
    roots = [store.root] + ([p for p in sorted(store.evaluations_dir.iterdir()) if p.is_dir()]
                            if store.evaluations_dir.is_dir() else [])
    found: list[Path] = []
    for root in roots:
        candidates = list((root / "reports").rglob("*")) if (root / "reports").is_dir() else []
        tenants = root / "tenants"
        for tenant in sorted(tenants.iterdir()) if tenants.is_dir() else ():
            candidates.append(tenant / "results.json")
            if (tenant / "normalized").is_dir():
                candidates += list((tenant / "normalized").rglob("*"))
        found += [p for p in candidates if (p.exists() or p.is_symlink()) and not p.is_dir()
                  and not p.name.endswith(".part")]
    return sorted(found)


def _verify_run_manifest(walk: _Walk, store: RunStore, records: dict[str, dict[str, Any]]) -> None:
    """run.json is the run's working status; its scores must be those of the evaluation it names."""
    if walk.hash_of(store.run_manifest_path, "run manifest") is None:
        return
    run = walk.json_object(store.run_manifest_path, "run manifest")
    if run is None or "evaluation" not in run:
        if run is not None:
            walk.add(store.run_manifest_path, "run manifest names no evaluation (the run did not finish)")
        return
    record = records.get(str(run["evaluation"]))
    if record is None:
        walk.add(store.run_manifest_path, f"names evaluation {str(run['evaluation'])[:20]!r}, which has no record")
    elif run.get("tenants") != {t: p.get("summary") for t, p in (record.get("tenants") or {}).items()}:
        walk.add(store.run_manifest_path, f"tenants' scores or counts differ from evaluation {run['evaluation']}")
