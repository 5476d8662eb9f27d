"""`mssp-audit verify` through the real command line over one demo night: every kind of tampering
is found and named (exit 1), a run that does not exist or an id that is not a run id is exit 2,
and a malformed file is a finding, never a crash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from audit.config import Config
from audit.demo import demo_config, demo_environment

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def write_config(config: Config, data: Path, path: Path) -> Path:
    moved = config.model_copy(update={"output": config.output.model_copy(update={"data_dir": data})})
    path.write_text(tomli_w.dumps(moved.model_dump(mode="json", exclude_none=True)))
    return path


@dataclass(frozen=True)
class Night:
    config: Config
    data: Path
    run_id: str
    tenant_id: str        # a customer whose tenant was read

    @property
    def root(self) -> Path:
        return self.data / "runs" / self.run_id


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    out = tmp_path_factory.mktemp("sealed")
    with demo_environment(now=NOW, customers=2, seed=7, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, out / "data")
        result = cli("run", "--config", str(write_config(config, out / "data", out / "c.toml")))
    assert result.returncode in (0, 1), result.stderr[-2000:]
    summary = json.loads((out / "data" / "last-run.json").read_text())
    tenant_id = next(c["tenant_id"] for c in summary["customers"] if c["reachable"]).lower()
    yield Night(config, out / "data", summary["run_id"], tenant_id)


def copy_of(night: Night, tmp: Path) -> tuple[Path, Path]:
    """A copy of the night's data directory and a configuration pointing at it."""
    data = tmp / "data"
    shutil.copytree(night.data, data, symlinks=True)
    return data, write_config(night.config, data, tmp / "c.toml")


def verify(config: Path, run_id: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("verify", "--config", str(config), "--run", run_id, *extra)


def test_an_untouched_run_is_intact(night: Night, tmp_path: Path) -> None:
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), night.run_id)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Run {night.run_id}: intact" in result.stdout


@pytest.mark.parametrize("run_id", ["../runs", "/etc", "20261122T020000Z-abcdef/../x", "nope", ""])
def test_an_id_that_is_not_a_run_id_is_exit_2(night: Night, tmp_path: Path, run_id: str) -> None:
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), run_id)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a run id" in result.stderr and "TAMPERED" not in result.stdout


def test_a_run_that_does_not_exist_is_exit_2_not_tampered(night: Night, tmp_path: Path) -> None:
    typo = night.run_id[:-1] + ("0" if night.run_id[-1] != "0" else "1")
    result = verify(write_config(night.config, night.data, tmp_path / "c.toml"), typo)
    assert result.returncode == 2 and f"no run {typo}" in result.stderr
    assert "TAMPERED" not in result.stdout


def _raw(root: Path, tenant_id: str) -> Path:
    return root / "tenants" / tenant_id / "raw" / "guests.jsonl"


def _edit_raw(root: Path, tenant_id: str) -> str:
    raw = _raw(root, tenant_id)
    raw.write_bytes(raw.read_bytes().replace(b'"Guest"', b'"Member"', 1))
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence changed since collection"


def _delete_raw(root: Path, tenant_id: str) -> str:
    _raw(root, tenant_id).unlink()
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence file missing"


def _add_raw(root: Path, tenant_id: str) -> str:
    (root / "tenants" / tenant_id / "raw" / "extra.jsonl").write_text("{}\n")
    return f"tenants/{tenant_id}/raw/extra.jsonl: raw file not recorded in the manifest"


def _directory_for_raw(root: Path, tenant_id: str) -> str:
    _raw(root, tenant_id).unlink()
    _raw(root, tenant_id).mkdir()
    return f"tenants/{tenant_id}/raw/guests.jsonl: raw evidence file is not a regular file"


def _truncated_manifest(root: Path, tenant_id: str) -> str:
    manifest = root / "tenants" / tenant_id / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:200])
    return f"tenants/{tenant_id}/manifest.json: tenant manifest unreadable: not valid JSON"


def _manifest_not_an_object(root: Path, tenant_id: str) -> str:
    (root / "tenants" / tenant_id / "manifest.json").write_text("[1, 2]")
    return f"tenants/{tenant_id}/manifest.json: tenant manifest is not a JSON object"


def _malformed_run_manifest(root: Path, tenant_id: str) -> str:
    (root / "run.json").write_text("{ not JSON")
    return "run.json: run manifest unreadable: not valid JSON"


@pytest.mark.parametrize("damage", [_edit_raw, _delete_raw, _add_raw, _directory_for_raw, _truncated_manifest,
                                    _manifest_not_an_object, _malformed_run_manifest])
def test_tampering_is_found_and_named(night: Night, tmp_path: Path, damage: Callable[[Path, str], str]) -> None:
    data, config = copy_of(night, tmp_path)
    expected = damage(data / "runs" / night.run_id, night.tenant_id)
    result = verify(config, night.run_id)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"TAMPERED {expected}" in result.stdout.splitlines(), result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
