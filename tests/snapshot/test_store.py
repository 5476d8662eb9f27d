from __future__ import annotations

import errno
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.models import ResourceRecord, ResourceStatus, TenantManifest
from audit.snapshot.store import (RawWriter, RunStore, StorageError, atomic_open, iter_raw, sha256_file,
                                  write_json)
from tests._disks import file_size_limit

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


def test_a_raw_file_past_the_disk_limit_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    committed = tmp_path / "raw" / "catalogs.jsonl"
    writer = RawWriter(committed)
    writer.write({"page": {"value": []}})
    writer.commit()
    path = tmp_path / "raw" / "guests.jsonl"
    with file_size_limit(64 * 1024), pytest.raises(StorageError) as raised:
        writer = RawWriter(path)
        for _ in range(100):
            writer.write({"page": {"value": ["x" * 1000]}})
        writer.commit()
    assert raised.value.path == path and raised.value.reason == "File too large"
    assert str(raised.value) == f"cannot write {path}: File too large"
    assert isinstance(raised.value.__cause__, OSError) and raised.value.__cause__.errno == errno.EFBIG
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["catalogs.jsonl"]   # no temp file left
    assert [r["page"] for r in iter_raw(committed)] == [{"value": []}]                    # the committed one stays


def test_write_json_past_the_disk_limit_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("old")
    with file_size_limit(16 * 1024), pytest.raises(StorageError, match=rf"^cannot write {path}: File too large$"):
        write_json(path, {"rows": ["x" * 1000] * 100})
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_directory_that_cannot_be_made_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "tenants").write_text("")     # a file where the directory should go
    path = tmp_path / "tenants" / "x" / "manifest.json"
    with pytest.raises(StorageError, match=rf"^cannot write {path}: Not a directory$"):
        write_json(path, {})
    with pytest.raises(StorageError, match=rf"^cannot write {path}: Not a directory$"):
        RawWriter(path)


def test_a_storage_error_survives_the_trip_back_from_a_render_worker() -> None:
    error = pickle.loads(pickle.dumps(StorageError(Path("/data/reports/a.pdf"), "No space left on device")))
    assert str(error) == "cannot write /data/reports/a.pdf: No space left on device"
    assert error.path == Path("/data/reports/a.pdf")


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
