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


@dataclass(frozen=True)
class SealedTenant:
    customer: str
    manifest_sha256: str
    partner: bool = False


@dataclass(frozen=True)
class Seal:
    """What collection left, vouched for once. `config` is the resolved configuration as dumped by
    pydantic; it holds paths and the names of environment variables, never a secret."""

    run_id: str
    collected_at: datetime
    started_at: datetime
    sealed_at: datetime
    tool_version: str
    config_sha256: str
    config: dict[str, Any]
    tenants: dict[str, SealedTenant]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SEAL_SCHEMA, "run_id": self.run_id, "collected_at": self.collected_at.isoformat(),
                "started_at": self.started_at.isoformat(), "sealed_at": self.sealed_at.isoformat(),
                "tool_version": self.tool_version, "config_sha256": self.config_sha256, "config": self.config,
                "tenants": {t: {"customer": s.customer, "sha256": s.manifest_sha256, "partner": s.partner}
                            for t, s in sorted(self.tenants.items())}}

    @classmethod
    def from_json(cls, data: Any) -> Seal:
        """Raises SealError when `data` is not a seal (any missing or mistyped field)."""
        try:
            if data["schema"] != SEAL_SCHEMA:
                raise SealError(f"not a seal: schema {data['schema']!r}")
            tenants = {str(t): SealedTenant(str(s["customer"]), str(s["sha256"]), bool(s.get("partner")))
                       for t, s in data["tenants"].items()}
            return cls(str(data["run_id"]), datetime.fromisoformat(data["collected_at"]),
                       datetime.fromisoformat(data["started_at"]), datetime.fromisoformat(data["sealed_at"]),
                       str(data["tool_version"]), str(data["config_sha256"]), dict(data["config"]), tenants)
        except SealError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise SealError(f"seal.json is malformed: {type(error).__name__}: {error}") from None

    @property
    def customers(self) -> dict[str, str]:
        """tenant id → customer name, the partner tenant left out."""
        return {t: s.customer for t, s in self.tenants.items() if not s.partner}


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
    """One evaluation of a sealed run. `files` maps paths relative to the run directory to sha256;
    `tenants` is what run.json and `runs show` print for each customer."""

    evaluation_id: str
    run_id: str
    seal_sha256: str
    evaluated_at: datetime           # the wall clock when it ran
    as_of: datetime                  # "now" of the checks: the collection time, or --as-of
    tool_version: str
    outputs: str                     # where it wrote, relative to the run: "." or "evaluations/<id>"
    files: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": EVALUATION_SCHEMA, "evaluation_id": self.evaluation_id, "run_id": self.run_id,
                "seal_sha256": self.seal_sha256, "evaluated_at": self.evaluated_at.isoformat(),
                "as_of": self.as_of.isoformat(), "tool_version": self.tool_version, "outputs": self.outputs,
                "files": dict(sorted(self.files.items())), "tenants": self.tenants}

    @classmethod
    def from_json(cls, data: Any) -> EvaluationRecord:
        try:
            if data["schema"] != EVALUATION_SCHEMA:
                raise ValueError(f"schema {data['schema']!r}")
            return cls(str(data["evaluation_id"]), str(data["run_id"]), str(data["seal_sha256"]),
                       datetime.fromisoformat(data["evaluated_at"]), datetime.fromisoformat(data["as_of"]),
                       str(data["tool_version"]), str(data["outputs"]),
                       {str(k): str(v) for k, v in data["files"].items()}, dict(data["tenants"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not an evaluation record: {type(error).__name__}: {error}") from None


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


def output_files(store: RunStore, tenant_ids: list[str]) -> dict[str, str]:
    """sha256 of everything an evaluation wrote under its output root, relative to the run."""
    roots = [store.output_dir(t) / "normalized" for t in tenant_ids] + [store.reports_dir]
    files = [store.results_path(t) for t in tenant_ids if store.results_path(t).is_file()]
    for root in roots:
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    return {str(p.relative_to(store.root)): sha256_file(p) for p in sorted(files)}


def write_evaluation(store: RunStore, record: EvaluationRecord) -> str:
    return write_json_once(store.evaluations_dir / f"{record.evaluation_id}.json", record.to_json())
