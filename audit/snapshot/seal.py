"""Sealed runs: the seal written once when collection completes, and the evaluation records.

    <run>/seal.json                      written once: every tenant manifest's sha256, the resolved
                                         configuration (no secrets live in it), tool version, times
    <run>/evaluations/<id>.json          one per evaluation, never rewritten: the seal it evaluated
                                         (sha256 of seal.json), and the sha256 of every file it wrote
    <run>/evaluations/<id>/…             what a later evaluation wrote (the first writes in the run)

The chain an auditor checks: raw page files → tenant manifest (`resources.*.sha256`) → seal
(`tenants.*.sha256`) → evaluation record (`seal_sha256`, `files`) → results, tables, reports.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.snapshot.store import RunStore, read_json, sha256_file, write_json_once

SEAL_SCHEMA = "mssp-audit/seal/1"
EVALUATION_SCHEMA = "mssp-audit/evaluation/1"
EVALUATION_ID = re.compile(r"^\d{3,}$")
EVIDENCE_CHANGED = "evidence changed since collection"


class SealError(Exception):
    """The run has no usable seal: its collection did not finish, or seal.json is damaged."""


class EvidenceChanged(Exception):
    """A file the seal vouches for is not what was collected; the message names it."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{EVIDENCE_CHANGED}: {detail}")


def canonical(value: Any) -> bytes:
    """The bytes a digest is taken over: JSON with sorted keys, no spaces, UTF-8 (`jq -cS`)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def tenant_leaf(tenant_id: str, entry: dict[str, Any]) -> str:
    """One tenant's leaf of a seal or an evaluation: its core lists only these hashes, so one
    customer's part can be shown (the auditor's bundle) without any other customer's."""
    return digest({"tenant_id": tenant_id, **entry})


@dataclass(frozen=True)
class SealedTenant:
    customer: str
    manifest_sha256: str
    partner: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer, "sha256": self.manifest_sha256, "partner": self.partner}


@dataclass(frozen=True)
class Seal:
    """What collection left, vouched for once. `config` is the resolved configuration as dumped by
    pydantic; it holds paths and the names of environment variables, never a secret.

    seal.json holds `core` (times, tool version, the configuration's digest, one leaf hash per
    tenant) and beside it what the leaves are made of; the seal's digest — what an evaluation
    names and a signature signs — is sha256 of the canonical core."""

    run_id: str
    collected_at: datetime
    started_at: datetime
    sealed_at: datetime
    tool_version: str
    config_sha256: str               # of the configuration file as read, when there was one
    config: dict[str, Any]
    tenants: dict[str, SealedTenant]

    @property
    def core(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "collected_at": self.collected_at.isoformat(),
                "started_at": self.started_at.isoformat(), "sealed_at": self.sealed_at.isoformat(),
                "tool_version": self.tool_version, "config_file_sha256": self.config_sha256,
                "config_digest": digest(self.config),
                "tenants": sorted(tenant_leaf(t, s.to_json()) for t, s in self.tenants.items())}

    @property
    def digest(self) -> str:
        return digest(self.core)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SEAL_SCHEMA, "core": self.core, "digest": self.digest, "config": self.config,
                "tenants": {t: s.to_json() for t, s in sorted(self.tenants.items())}}

    @classmethod
    def from_json(cls, data: Any) -> Seal:
        """Raises SealError when `data` is not a complete seal (any missing or mistyped field)."""
        try:
            if data["schema"] != SEAL_SCHEMA:
                raise SealError(f"not a seal: schema {data['schema']!r}")
            core = data["core"]
            tenants = {str(t): SealedTenant(str(s["customer"]), str(s["sha256"]), bool(s.get("partner")))
                       for t, s in data["tenants"].items()}
            seal = cls(str(core["run_id"]), datetime.fromisoformat(core["collected_at"]),
                       datetime.fromisoformat(core["started_at"]), datetime.fromisoformat(core["sealed_at"]),
                       str(core["tool_version"]), str(core["config_file_sha256"]), dict(data["config"]), tenants)
        except SealError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise SealError(f"seal.json is malformed: {type(error).__name__}: {error}") from None
        if seal.core != core:
            raise SealError("seal.json's core does not match its tenants and configuration")
        return seal

    @property
    def customers(self) -> dict[str, str]:
        """tenant id → customer name, the partner tenant left out."""
        return {t: s.customer for t, s in self.tenants.items() if not s.partner}


def check_seal_json(data: Any) -> tuple[str | None, dict[str, dict[str, Any]], list[str]]:
    """(digest, disclosed tenants, problems) of a seal.json, whole or redacted for one customer:
    every disclosed tenant must be one of the core's leaves, a disclosed configuration its digest."""
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("schema") != SEAL_SCHEMA or not isinstance(data.get("core"), dict):
        return None, {}, ["seal is malformed: no schema or core"]
    core = data["core"]
    leaves = core.get("tenants")
    if not isinstance(leaves, list):
        return None, {}, ["seal's core lists no tenants"]
    sealed = digest(core)
    if data.get("digest") != sealed:
        problems.append("seal's digest is not the sha256 of its core")
    if "config" in data and digest(data["config"]) != core.get("config_digest"):
        problems.append("seal's configuration differs from the digest in its core")
    tenants = data.get("tenants")
    disclosed: dict[str, dict[str, Any]] = {}
    for tenant_id, entry in sorted(tenants.items()) if isinstance(tenants, dict) else ():
        if not isinstance(entry, dict) or tenant_leaf(tenant_id, entry) not in leaves:
            problems.append(f"tenant {str(tenant_id)[:40]} is not one the seal's core vouches for")
            continue
        disclosed[tenant_id] = entry
    if not isinstance(tenants, dict):
        problems.append("seal discloses no tenants")
    return sealed, disclosed, problems


def write_seal(store: RunStore, seal: Seal) -> str:
    """Write seal.json once; FileExistsError if the run is already sealed. Returns its sha256."""
    return write_json_once(store.seal_path, seal.to_json())


def read_seal(store: RunStore) -> Seal | None:
    """The run's seal; None when the run was never sealed; SealError when seal.json is unreadable."""
    if not store.seal_path.exists():
        return None
    try:
        return Seal.from_json(read_json(store.seal_path))
    except (OSError, ValueError) as error:
        raise SealError(f"seal.json is unreadable: {type(error).__name__}") from None


def check_evidence(store: RunStore, seal: Seal, tenant_id: str) -> None:
    """Re-hash one tenant's manifest against the seal and its raw files against the manifest,
    before anything reads them; raise EvidenceChanged naming the first file that differs."""
    sealed = seal.tenants.get(tenant_id)
    if sealed is None:
        raise EvidenceChanged(f"tenant {tenant_id} is not in the seal")
    manifest_path = store.manifest_path(tenant_id)
    rel = manifest_path.relative_to(store.root)
    if not manifest_path.is_file() or sha256_file(manifest_path) != sealed.manifest_sha256:
        raise EvidenceChanged(f"{rel} differs from the seal")
    try:
        resources = read_json(manifest_path)["resources"]
        records = [(r.get("file"), r.get("sha256")) for r in resources.values()]
    except (ValueError, KeyError, TypeError, AttributeError) as error:   # hashed right, yet not a manifest
        raise EvidenceChanged(f"{rel} is not a manifest: {type(error).__name__}") from None
    tenant_dir = manifest_path.parent
    for file, sha in records:
        if not sha:
            continue
        path = (tenant_dir / str(file)).resolve()
        if tenant_dir.resolve() not in path.parents:
            raise EvidenceChanged(f"{rel} names a file outside the tenant: {str(file)[:80]!r}")
        if not path.is_file() or sha256_file(path) != sha:
            raise EvidenceChanged(f"{(tenant_dir / str(file)).relative_to(store.root)} differs from its manifest")


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation of a sealed run. Per tenant: what run.json and `runs show` print (`summary`)
    and the sha256 of every file written for it (`files`, paths relative to the run directory);
    `shared` the files about every customer (portfolio workbook, findings CSV). Like the seal, its
    core lists one leaf per tenant, so one customer's part can be shown without the others'."""

    evaluation_id: str
    run_id: str
    seal_digest: str
    evaluated_at: datetime           # the wall clock when it ran
    as_of: datetime                  # "now" of the checks: the collection time, or --as-of
    tool_version: str
    outputs: str                     # where it wrote, relative to the run: "." or "evaluations/<id>"
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)    # tenant id → {summary, files}
    shared: dict[str, str] = field(default_factory=dict)

    @property
    def core(self) -> dict[str, Any]:
        return {"evaluation_id": self.evaluation_id, "run_id": self.run_id, "seal_digest": self.seal_digest,
                "evaluated_at": self.evaluated_at.isoformat(), "as_of": self.as_of.isoformat(),
                "tool_version": self.tool_version, "outputs": self.outputs, "shared_digest": digest(self.shared),
                "tenants": sorted(tenant_leaf(t, part) for t, part in self.tenants.items())}

    @property
    def digest(self) -> str:
        return digest(self.core)

    @property
    def files(self) -> dict[str, str]:
        every = dict(self.shared)
        for part in self.tenants.values():
            every.update(part["files"])
        return every

    def summaries(self) -> dict[str, Any]:
        return {t: part["summary"] for t, part in self.tenants.items()}

    def to_json(self) -> dict[str, Any]:
        return {"schema": EVALUATION_SCHEMA, "core": self.core, "digest": self.digest, "shared": self.shared,
                "tenants": self.tenants}

    @classmethod
    def from_json(cls, data: Any) -> EvaluationRecord:
        try:
            if data["schema"] != EVALUATION_SCHEMA:
                raise ValueError(f"schema {data['schema']!r}")
            core = data["core"]
            return cls(str(core["evaluation_id"]), str(core["run_id"]), str(core["seal_digest"]),
                       datetime.fromisoformat(core["evaluated_at"]), datetime.fromisoformat(core["as_of"]),
                       str(core["tool_version"]), str(core["outputs"]),
                       {str(t): {"summary": dict(p["summary"]), "files": {str(k): str(v) for k, v in p["files"].items()}}
                        for t, p in data["tenants"].items()},
                       {str(k): str(v) for k, v in data.get("shared", {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not an evaluation record: {type(error).__name__}: {error}") from None


def check_evaluation_json(data: Any) -> tuple[dict[str, Any] | None, dict[str, str], list[str]]:
    """(core, every disclosed file → sha256, problems) of an evaluation record, whole or redacted
    for one customer: each disclosed tenant part must be a leaf of the core, the shared files (when
    present) its shared digest."""
    if not isinstance(data, dict) or data.get("schema") != EVALUATION_SCHEMA or not isinstance(data.get("core"), dict):
        return None, {}, ["evaluation record is malformed: no schema or core"]
    core, problems, files = data["core"], [], {}
    leaves = core.get("tenants") if isinstance(core.get("tenants"), list) else []
    if data.get("digest") != digest(core):
        problems.append("evaluation record's digest is not the sha256 of its core")
    if "shared" in data:
        if not isinstance(data["shared"], dict) or digest(data["shared"]) != core.get("shared_digest"):
            problems.append("evaluation record's shared files differ from the digest in its core")
        else:
            files.update(data["shared"])
    tenants = data.get("tenants")
    for tenant_id, part in sorted(tenants.items()) if isinstance(tenants, dict) else ():
        if not isinstance(part, dict) or tenant_leaf(tenant_id, part) not in leaves \
                or not isinstance(part.get("files"), dict):
            problems.append(f"tenant {str(tenant_id)[:40]} is not one the evaluation's core vouches for")
            continue
        files.update(part["files"])
    return core, files, problems


def evaluation_ids(store: RunStore) -> list[str]:
    """The run's evaluations, oldest first."""
    if not store.evaluations_dir.is_dir():
        return []
    ids = [p.stem for p in store.evaluations_dir.glob("*.json") if EVALUATION_ID.fullmatch(p.stem)]
    return sorted(ids, key=int)


def read_evaluations(store: RunStore) -> list[EvaluationRecord]:
    """Every readable evaluation record, oldest first (verify reports the unreadable ones)."""
    records = []
    for evaluation_id in evaluation_ids(store):
        try:
            records.append(EvaluationRecord.from_json(read_json(store.evaluations_dir / f"{evaluation_id}.json")))
        except (OSError, ValueError):
            continue
    return records


def next_evaluation(store: RunStore) -> tuple[str, RunStore]:
    """The next evaluation's id and the store it writes through: the run directory itself for the
    first, `evaluations/<id>/` for every later one."""
    ids = evaluation_ids(store)
    evaluation_id = f"{int(ids[-1]) + 1 if ids else 1:03d}"
    return evaluation_id, store if not ids else store.writing_to(store.evaluations_dir / evaluation_id)


def tenant_output_files(store: RunStore, tenant_id: str, reports: list[Path]) -> dict[str, str]:
    """sha256 of what an evaluation wrote for one tenant (results, tables, its reports), relative to the run."""
    files = [store.results_path(tenant_id), *reports]
    normalized = store.output_dir(tenant_id) / "normalized"
    if normalized.is_dir():
        files += [p for p in normalized.rglob("*") if not p.name.endswith(".part")]
    return {str(p.relative_to(store.root)): sha256_file(p) for p in sorted(files) if p.is_file()}


def shared_output_files(store: RunStore, tenant_files: list[dict[str, str]]) -> dict[str, str]:
    """The evaluation's reports that are about no one customer (portfolio, findings CSV)."""
    claimed = {name for files in tenant_files for name in files}
    found = [p for p in store.reports_dir.rglob("*") if p.is_file() and not p.name.endswith(".part")] \
        if store.reports_dir.is_dir() else []
    return {rel: sha256_file(p) for p in sorted(found) if (rel := str(p.relative_to(store.root))) not in claimed}


def write_evaluation(store: RunStore, record: EvaluationRecord) -> str:
    return write_json_once(store.evaluations_dir / f"{record.evaluation_id}.json", record.to_json())
