"""Unattended runs: the lock, shards, the cron line, the run summary and metrics."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from audit.cli import shard_of
from audit.deliver.lock import AlreadyRunning, run_lock

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
[mssp]
analyst_tenant_id = "22222222-2222-4222-8222-222222222222"
[app]
client_id = "44444444-4444-4444-8444-444444444444"
client_secret_env = "MSSP_AUDIT_TEST_SECRET"
[output]
data_dir = "data"
[[customers]]
name = "Contoso"
tenant_id = "11111111-1111-4111-8111-111111111111"
"""


def test_shards_partition_the_tenants_stably() -> None:
    tenants = [str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(200)]
    shards = [{t for t in tenants if shard_of(t, 4) == k} for k in range(1, 5)]
    assert set().union(*shards) == set(tenants) and sum(map(len, shards)) == len(tenants)
    assert all(20 < len(s) < 80 for s in shards)
    assert [shard_of(t, 4) for t in tenants] == [shard_of(t.upper(), 4) for t in tenants]


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with run_lock(tmp_path):
        with pytest.raises(AlreadyRunning, match=str(os.getpid())):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path):   # released when the first holder is done
        pass


def test_second_run_exits_with_code_3_and_says_why(tmp_path: Path) -> None:
    config = tmp_path / "mssp-audit.toml"
    config.write_text(CONFIG)
    with run_lock(tmp_path / "data"):
        result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config)],
                                capture_output=True, text=True, cwd=ROOT, timeout=60,
                                env={**os.environ, "MSSP_AUDIT_TEST_SECRET": "x"})
    assert result.returncode == 3
    assert "another mssp-audit run" in result.stderr and str(os.getpid()) in result.stderr


def test_unknown_customer_selection_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "mssp-audit.toml"
    config.write_text(CONFIG)
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config), "--customers", "Nope"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "Nope".lower() in result.stderr.lower()
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config), "--shard", "5/4"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "--shard" in result.stderr


def _cron_command() -> str:
    lines = [l for l in (ROOT / "schedule.cron").read_text().splitlines() if l and not l.startswith("#")]
    entry = next(l for l in lines if l.split()[0] == "0")
    return entry.split(None, 5)[5]


@pytest.mark.parametrize("held", [False, True])
def test_cron_line_runs_through_sh_and_never_overlaps(tmp_path: Path, held: bool) -> None:
    fake = tmp_path / "mssp-audit"
    fake.write_text(f"#!/bin/sh\necho ran \"$@\" > {tmp_path}/ran\n")
    fake.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "MSSP_AUDIT": str(fake), "MSSP_AUDIT_CONFIG": "/etc/x.toml",
           "MSSP_AUDIT_LOG": str(tmp_path / "nightly.log")}
    command = _cron_command().replace("/tmp/mssp-audit.cron.lock", str(tmp_path / "cron.lock"))
    lock = os.open(tmp_path / "cron.lock", os.O_RDWR | os.O_CREAT)
    try:
        if held:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = subprocess.run(["sh", "-c", command], env=env, timeout=30)
    finally:
        os.close(lock)
    if held:
        assert result.returncode != 0 and not (tmp_path / "ran").exists()
    else:
        assert result.returncode == 0
        assert (tmp_path / "ran").read_text().strip() == "ran run --config /etc/x.toml"
        assert (tmp_path / "nightly.log").exists()
