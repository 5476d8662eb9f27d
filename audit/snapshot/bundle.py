"""The auditor's bundle: one customer's part of a sealed run in one zip, checkable with no
configuration and no data directory (`mssp-audit verify --bundle`).

It holds the customer's tenant manifest and raw evidence, the seal and the chosen evaluation record
each reduced to that customer's leaf (the cores, and so the digests and signatures, are the run's
own: the other customers are only anonymous leaf hashes in them), the customer's results, tables,
PDF and workbook, the signatures when the run was signed, and a README saying how to check it.
Nothing about another customer is in it: no portfolio, no partner tenant, no configuration.
"""

from __future__ import annotations

import json
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from audit.snapshot.seal import EvaluationRecord, SealError, read_evaluations, read_seal
from audit.snapshot.signing import signature_path
from audit.snapshot.store import RunStore, atomic_open, read_json
from audit.snapshot.verify import Finding, safe_relative, verify_run, verify_tree

# A bundle is one customer's evidence and reports: far below this, and a zip bomb is far above.
MAX_BUNDLE_BYTES = 4 << 30
README = """mssp-audit evidence bundle
==========================

Run {run_id}, evaluation {evaluation_id}, customer {customer} (tenant {tenant_id}).

Check it with the tool, no configuration needed:

    mssp-audit verify --bundle <this zip file> [--public-key mssp-public.pem]

Or by hand, one link of the chain at a time (docs/results.md, "The chain of hashes"):

  1. sha256sum tenants/{tenant_id}/raw/<resource>.jsonl
     equals resources.<resource>.sha256 in tenants/{tenant_id}/manifest.json;
  2. sha256sum tenants/{tenant_id}/manifest.json
     equals tenants."{tenant_id}".sha256 in seal.json;
  3. that tenant entry, with "tenant_id" added, as canonical JSON (jq -cS, no newline) hashes to one
     of the leaves in seal.json's core.tenants, and the core hashes to seal.json's digest;
  4. evaluations/{evaluation_id}.json names that digest as core.seal_digest, and lists the sha256 of
     the results, tables and reports of this customer in its tenants."{tenant_id}".files;
  5. with the MSSP's public key, seal.json.sig and evaluations/{evaluation_id}.json.sig are Ed25519
     signatures of the two digests (as ASCII hex).

This file is part of the bundle: verify re-creates it and reports any difference.
"""


class ExportError(Exception):
    """The bundle cannot be made; the message says why."""


class RunTampered(ExportError):
    """The run does not verify: no bundle vouches for it."""


def _readme(run_id: str, evaluation_id: str, customer: str, tenant_id: str) -> str:
    return README.format(run_id=run_id, evaluation_id=evaluation_id, customer=customer, tenant_id=tenant_id)


def export_bundle(store: RunStore, tenant_id: str, out: Path, evaluation_id: str | None = None) -> list[str]:
    """Write one customer's bundle to `out`; returns its member names. Refuses a run that does not
    verify (ExportError naming the first problems): a bundle only ever vouches for intact evidence."""
    checked, problems = verify_run(store)
    if problems:
        shown = "; ".join(f"{p.path}: {p.problem}" for p in problems[:3])
        raise RunTampered(f"run {store.run_id} does not verify ({len(problems)} problem(s): {shown})")
    seal = read_seal(store)
    if seal is None:
        raise SealError(f"run {store.run_id} is not sealed")
    if tenant_id not in seal.customers:
        raise ExportError(f"run {store.run_id} has no customer with tenant id {tenant_id}")
    record = _chosen(store, tenant_id, evaluation_id)
    seal_json = read_json(store.seal_path)
    evaluation_path = store.evaluations_dir / f"{record.evaluation_id}.json"
    evaluation_json = read_json(evaluation_path)
    members: dict[str, bytes] = {
        "seal.json": _json({k: seal_json[k] for k in ("schema", "core", "digest")}
                           | {"tenants": {tenant_id: seal_json["tenants"][tenant_id]}}),
        f"evaluations/{record.evaluation_id}.json": _json(
            {k: evaluation_json[k] for k in ("schema", "core", "digest")}
            | {"tenants": {tenant_id: evaluation_json["tenants"][tenant_id]}}),
    }
    for signed, name in ((store.seal_path, "seal.json"), (evaluation_path, f"evaluations/{record.evaluation_id}.json")):
        if signature_path(signed).is_file():
            members[name + ".sig"] = signature_path(signed).read_bytes()
    manifest_path = store.manifest_path(tenant_id)
    members[str(manifest_path.relative_to(store.root))] = manifest_path.read_bytes()
    for entry in read_json(manifest_path)["resources"].values():
        if entry.get("sha256"):
            raw = manifest_path.parent / entry["file"]
            members[str(raw.relative_to(store.root))] = raw.read_bytes()
    for name in record.tenants[tenant_id]["files"]:
        members[name] = (store.root / name).read_bytes()
    members["README.txt"] = _readme(store.run_id, record.evaluation_id, seal.customers[tenant_id], tenant_id).encode()
    stamp = seal.collected_at.timetuple()[:6]
    with atomic_open(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, blob in sorted(members.items()):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = (stat.S_IFREG | 0o600) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, blob)
    return sorted(members)


def _chosen(store: RunStore, tenant_id: str, evaluation_id: str | None) -> EvaluationRecord:
    records = [r for r in read_evaluations(store) if tenant_id in r.tenants]
    if evaluation_id is not None:
        records = [r for r in records if r.evaluation_id == evaluation_id]
    if not records:
        raise ExportError(f"run {store.run_id} has no evaluation {evaluation_id or ''} of tenant {tenant_id}".replace(
            "  ", " "))
    return records[-1]


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode()


def verify_bundle(path: Path, public_key: Any = None) -> tuple[int, list[Finding]]:
    """(files checked, problems) of a bundle; a member that cannot be unpacked safely is a problem."""
    with _unpacked(path) as (root, problems):
        if root is None:
            return 0, problems
        checked, found = verify_tree(root, bundle=True, public_key=public_key)
        return checked, problems + found + _readme_problems(root)


def _readme_problems(root: Path) -> list[Finding]:
    try:
        seal = read_json(root / "seal.json")
        (tenant_id, entry), = seal["tenants"].items()
        (record,) = sorted((root / "evaluations").glob("*.json"))
        expected = _readme(seal["core"]["run_id"], record.stem, entry["customer"], tenant_id)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [Finding("README.txt", "cannot be checked: the bundle holds no single customer and evaluation")]
    readme = root / "README.txt"
    if not readme.is_file():
        return [Finding("README.txt", "missing")]
    actual = readme.read_bytes()
    if actual != expected.encode():
        return [Finding("README.txt", "differs from the README this bundle was exported with")]
    return []


@contextmanager
def _unpacked(path: Path) -> Iterator[tuple[Path | None, list[Finding]]]:
    """The bundle's members in a private temporary directory named like the bundle. Only regular
    files at safe relative paths are unpacked; anything else is a finding."""
    problems: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="mssp-audit-bundle-") as tmp:
        root = Path(tmp) / path.name
        root.mkdir()
        try:
            with zipfile.ZipFile(path) as bundle:
                infos = bundle.infolist()
                if sum(i.file_size for i in infos) > MAX_BUNDLE_BYTES:
                    yield None, [Finding(path.name, "larger than any bundle mssp-audit writes")]
                    return
                seen: set[str] = set()
                for info in infos:
                    relative = safe_relative(info.filename)
                    mode = info.external_attr >> 16
                    if info.is_dir():
                        continue
                    if relative is None or stat.S_IFMT(mode) not in (0, stat.S_IFREG) or info.filename in seen:
                        problems.append(Finding(info.filename[:200], "not a plain file at a safe path, or twice"))
                        continue
                    seen.add(info.filename)
                    target = root / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        target.write_bytes(bundle.read(info))
                    except (zipfile.BadZipFile, OSError, ValueError) as error:   # e.g. a CRC mismatch
                        problems.append(Finding(info.filename, f"cannot be read from the zip: {error}"))
        except (zipfile.BadZipFile, OSError) as error:
            yield None, [Finding(path.name, f"not a readable zip file: {error}")]
            return
        yield root, problems
