from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.snapshot.store import RawWriter, RunStore, atomic_open, iter_raw, sha256_file

TENANT = "11111111-1111-4111-8111-111111111111"


def test_raw_file_appears_only_on_commit_with_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "guests.jsonl"
    writer = RawWriter(path)
    writer.write({"request": "users", "page": {"value": [{"id": "1", "displayName": "<b>x</b>"}]}})
    assert not path.exists()
    sha = writer.commit()
    assert path.exists() and sha == sha256_file(path)
    assert [r["page"]["value"][0]["id"] for r in iter_raw(path)] == ["1"]


def test_aborted_raw_file_leaves_nothing(tmp_path: Path) -> None:
    writer = RawWriter(tmp_path / "raw" / "guests.jsonl")
    writer.write({"page": {"value": []}})
    writer.abort()
    assert list((tmp_path / "raw").iterdir()) == []


def test_atomic_open_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_manifest_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path, "run-1")
    manifest = TenantManifest(TENANT, "Contoso", datetime(2026, 11, 22, tzinfo=UTC), True, "", ("User.Read.All",),
                              {"guests": ResourceRecord("guests", "users", ResourceStatus.FORBIDDEN,
                                                        reason="missing permission", http_status=403)})
    store.write_tenant_manifest(manifest)
    assert store.read_tenant_manifest(TENANT) == manifest


def test_tenant_dir_refuses_anything_but_a_tenant_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RunStore(tmp_path, "r").tenant_dir("../../etc")
