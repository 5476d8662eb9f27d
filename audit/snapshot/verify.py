"""Re-hash a stored run: every raw file against its tenant manifest, every tenant manifest
against the run manifest. Anything changed, missing or added after the run is reported."""

from __future__ import annotations

from dataclasses import dataclass

from audit.snapshot.store import RunStore, read_json, sha256_file


@dataclass(frozen=True)
class Finding:
    path: str
    problem: str


def verify_run(store: RunStore) -> tuple[int, list[Finding]]:
    """(files checked, problems). An empty problem list means the evidence is intact."""
    problems: list[Finding] = []
    checked = 0
    if not store.run_manifest_path.exists():
        return 0, [Finding(str(store.run_manifest_path), "run manifest missing")]
    run = read_json(store.run_manifest_path)
    expected = run.get("tenant_manifests") or {}
    if not expected:
        problems.append(Finding("run.json", "no tenant manifest hashes (the run did not finish)"))
    tenants_dir = store.root / "tenants"
    present = {p.name for p in tenants_dir.iterdir()} if tenants_dir.exists() else set()
    for extra in sorted(present - set(expected)):
        if expected:
            problems.append(Finding(f"tenants/{extra}", "tenant directory not recorded in run.json"))
    for tenant_id, sha in sorted(expected.items()):
        manifest_path = store.manifest_path(tenant_id)
        rel = manifest_path.relative_to(store.root)
        checked += 1
        if not manifest_path.exists():
            problems.append(Finding(str(rel), "tenant manifest missing"))
            continue
        if sha256_file(manifest_path) != sha:
            problems.append(Finding(str(rel), "tenant manifest changed since the run"))
        manifest = read_json(manifest_path)
        recorded = set()
        for record in manifest.get("resources", {}).values():
            if not record.get("file") or not record.get("sha256"):
                continue
            recorded.add(record["file"])
            path = manifest_path.parent / record["file"]
            checked += 1
            if not path.exists():
                problems.append(Finding(str(path.relative_to(store.root)), "raw evidence file missing"))
            elif sha256_file(path) != record["sha256"]:
                problems.append(Finding(str(path.relative_to(store.root)), "raw evidence changed since collection"))
        raw_dir = manifest_path.parent / "raw"
        for path in sorted(raw_dir.glob("*.jsonl")) if raw_dir.exists() else ():
            if f"raw/{path.name}" not in recorded:
                problems.append(Finding(str(path.relative_to(store.root)), "raw file not recorded in the manifest"))
    return checked, problems
