"""The documented exit codes, through the real command line, and JSON log lines off a terminal."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from audit.demo import demo_config, demo_environment
from tests._disks import run_on_tmpfs

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config_path), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory):
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        yield env, tmp_path_factory


def write(config, path: Path) -> Path:
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    return path


def test_exit_0_when_every_tenant_is_read(estate) -> None:
    env, factory = estate
    out = factory.mktemp("ok")
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    result = run_cli(config, "--customers", "Northwind Traders")
    assert result.returncode == 0, result.stderr
    assert "Northwind Traders" in result.stdout and "0 with errors" in result.stdout
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "message"} <= line.keys() for line in lines)
    assert any("collected" in line["message"] for line in lines)


def test_unread_resources_are_logged_with_the_tenant_and_the_resource(estate) -> None:
    env, factory = estate
    out = factory.mktemp("unread")
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    adatum = next(c for c in env.estate.customers if c.name == "Adatum Logistics")   # lacks AuditLog.Read.All
    tenant = env.estate.tenants[adatum.tenant_id]
    planted = tenant.faults
    missing = {**planted.http_errors, "/policies/authorizationPolicy": 404}    # an object that should exist
    tenant.faults = dataclasses.replace(planted, http_errors=missing)
    try:
        result = run_cli(config, "--customers", "Adatum Logistics")
    finally:
        tenant.faults = planted
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    by_resource = {line["resource"]: line for line in lines
                   if line.get("tenant") == adatum.tenant_id and "resource" in line}
    forbidden = by_resource["guest_sign_ins"]
    assert forbidden["level"] == "warning" and "forbidden: missing permission AuditLog.Read.All" in forbidden["message"]
    assert adatum.tenant_id in forbidden["message"] and forbidden["customer"] == "Adatum Logistics"
    assert by_resource["authorization_policy"]["level"] == "warning"
    assert "authorization_policy not_found" in by_resource["authorization_policy"]["message"]
    assert by_resource["identity_sync"]["level"] == "info"     # 404: no identity sync configured, an answer


def test_exit_1_when_a_tenant_cannot_be_reached(estate) -> None:
    env, factory = estate
    out = factory.mktemp("broken")
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    result = run_cli(config, "--customers", "Wingtip Legal", "--quiet")
    assert result.returncode == 1
    assert result.stdout.strip().endswith("1 with errors.")
    named = [line for line in result.stdout.splitlines() if line.strip().startswith("Wingtip Legal:")]
    assert len(named) == 1 and "NOT REACHED" in named[0], result.stdout     # -q still names the tenant


MINIMAL_CONFIG = """
[mssp]
analyst_tenant_id = "22222222-2222-4222-8222-222222222222"
[app]
client_id = "44444444-4444-4444-8444-444444444444"
client_secret_env = "MSSP_AUDIT_TEST_SECRET"
[[customers]]
name = "Contoso"
tenant_id = "11111111-1111-4111-8111-111111111111"
[output]
data_dir = """

# Each bad data directory, made under tmp, and the reason the one line gives (after the path).
BAD_DATA_DIRS = {
    "under /proc": (lambda tmp: Path("/proc/mssp-audit-data"), "is under /proc, a pseudo file system"),
    "under /sys": (lambda tmp: Path("/sys/mssp-audit-data"), "is under /sys, a pseudo file system"),
    "a file": (lambda tmp: _file(tmp / "data"), "exists and is not a directory"),
    "under a file": (lambda tmp: _file(tmp / "file") / "data", "cannot be created: {tmp}/file is not a directory"),
}


def _file(path: Path) -> Path:
    path.write_text("a file where a directory should be")
    return path


@pytest.mark.parametrize("command, case", [
    *(("run", case) for case in BAD_DATA_DIRS),
    ("evaluate", "under /proc"), ("evaluate", "a file"), ("demo", "under /sys"), ("demo", "under a file"),
])
def test_exit_2_names_the_key_when_the_data_directory_cannot_be_used(tmp_path: Path, command: str,
                                                                    case: str) -> None:
    make, reason = BAD_DATA_DIRS[case]
    data_dir = make(tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(MINIMAL_CONFIG + json.dumps(str(data_dir)) + "\n")
    args = {"run": ["run", "--config", str(config)], "evaluate": ["evaluate", "--config", str(config), "--run", "x"],
            "demo": ["demo", "--out", str(data_dir)]}[command]
    result = subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=60, env={**os.environ, "MSSP_AUDIT_TEST_SECRET": "x"})
    where = "--out" if command == "demo" else f"{config}: key 'output.data_dir'"
    assert result.returncode == 2
    assert result.stderr == f"mssp-audit: {where}: {data_dir} {reason.format(tmp=tmp_path)}\n"
    assert "Starting" not in result.stdout     # demo: refused before the emulator starts


def test_exit_2_when_the_data_directory_is_on_a_read_only_mount(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(MINIMAL_CONFIG + json.dumps(str(tmp_path / "ro" / "data")) + "\n")
    result = run_on_tmpfs(tmp_path / "ro", "ro,size=64k", '"$@"', sys.executable, "-m", "audit", "run",
                          "--config", str(config), cwd=ROOT, timeout=60,
                          env={**os.environ, "MSSP_AUDIT_TEST_SECRET": "x"})
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"mssp-audit: {config}: key 'output.data_dir': {tmp_path}/ro/data "
                             "cannot be created: Read-only file system\n")


def test_exit_70_on_an_internal_error_in_one_line(estate) -> None:
    env, factory = estate
    out = factory.mktemp("crash")
    run_dir = out / "data" / "runs" / "20261122T020000Z-abcdef"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text("{ this is not JSON")      # a damaged run manifest
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    result = run_cli(config, "--resume", run_dir.name)
    assert result.returncode == 70
    assert result.stderr.strip().splitlines()[-1].startswith("mssp-audit: internal error:")
    assert "Traceback" not in result.stderr
