"""Unattended runs: the lock, shards, the cron line, the run summary and metrics."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

import pytest

import typer

from audit.cli import parse_shard, shard_of
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


def test_lock_refuses_a_second_holder_and_is_owner_only(tmp_path: Path) -> None:
    (tmp_path / ".mssp-audit.lock").touch(mode=0o644)     # as an older version left it
    with run_lock(tmp_path):
        with pytest.raises(AlreadyRunning, match=str(os.getpid())):
            with run_lock(tmp_path):
                pass
    with run_lock(tmp_path) as path:   # released when the first holder is done
        assert path.stat().st_mode & 0o777 == 0o600


def test_second_run_exits_with_code_3_and_says_why(tmp_path: Path) -> None:
    config = tmp_path / "mssp-audit.toml"
    config.write_text(CONFIG)
    with run_lock(tmp_path / "data"):
        result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config)],
                                capture_output=True, text=True, cwd=ROOT, timeout=60,
                                env={**os.environ, "MSSP_AUDIT_TEST_SECRET": "x"})
    assert result.returncode == 3
    [entry] = [json.loads(line) for line in result.stderr.splitlines()]    # one JSON line for cron's log
    assert entry["level"] == "error" and "another mssp-audit run" in entry["message"]
    assert str(os.getpid()) in entry["message"]


def test_unknown_customer_selection_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "mssp-audit.toml"
    config.write_text(CONFIG)
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config), "--customers", "Nope"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "Nope".lower() in result.stderr.lower()
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config), "--shard", "5/4"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and "--shard" in result.stderr


def test_shard_auto_is_the_indexed_jobs_pod_index_counted_from_one() -> None:
    for index in range(3):     # Kubernetes numbers the pods 0 … completions-1; --shard K/N counts from 1
        env = {"JOB_COMPLETION_INDEX": str(index), "MSSP_AUDIT_SHARDS": "3"}
        assert parse_shard("auto", env) == parse_shard(f"{index + 1}/3") == (index + 1, 3)


@pytest.mark.parametrize(("env", "named"), [
    ({"JOB_COMPLETION_INDEX": "0"}, "MSSP_AUDIT_SHARDS"),
    ({"JOB_COMPLETION_INDEX": "0", "MSSP_AUDIT_SHARDS": "0"}, "MSSP_AUDIT_SHARDS"),
    ({"JOB_COMPLETION_INDEX": "0", "MSSP_AUDIT_SHARDS": "two"}, "MSSP_AUDIT_SHARDS"),
    ({"MSSP_AUDIT_SHARDS": "2"}, "JOB_COMPLETION_INDEX"),
    ({"JOB_COMPLETION_INDEX": "2", "MSSP_AUDIT_SHARDS": "2"}, "JOB_COMPLETION_INDEX"),
    ({"JOB_COMPLETION_INDEX": "-1", "MSSP_AUDIT_SHARDS": "2"}, "JOB_COMPLETION_INDEX"),
])
def test_shard_auto_refuses_a_missing_or_wrong_variable_by_name(env: dict[str, str], named: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_:
        parse_shard("auto", env)
    err = capsys.readouterr().err
    assert exit_.value.exit_code == 2 and named in err and len(err.strip().splitlines()) == 1


def test_shard_auto_without_its_variables_exits_2_before_collecting(tmp_path: Path) -> None:
    config = tmp_path / "mssp-audit.toml"
    config.write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("JOB_COMPLETION_INDEX", "MSSP_AUDIT_SHARDS")}
    result = subprocess.run([sys.executable, "-m", "audit", "run", "--config", str(config), "--shard", "auto"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60,
                            env={**env, "JOB_COMPLETION_INDEX": "0"})
    assert result.returncode == 2 and "MSSP_AUDIT_SHARDS is not set" in result.stderr
    assert not (tmp_path / "data" / "runs").exists()


def _cron_file() -> tuple[dict[str, str], str]:
    """The variables and the nightly command of schedule.cron, the command as cron hands it to sh:
    cron ends a command at an unescaped % and turns each \\% into %."""
    lines = [l for l in (ROOT / "schedule.cron").read_text().splitlines() if l and not l.startswith("#")]
    variables = dict(l.split("=", 1) for l in lines if re.match(r"^[A-Z_]+=", l))
    entry = next(l for l in lines if l.split()[0] == "0")
    command = entry.split(None, 5)[5]
    assert not re.search(r"(?<!\\)%", command), "an unescaped % would end the cron command there"
    return variables, command.replace("\\%", "%")


def test_cron_lock_lives_where_only_the_service_account_can_create_it() -> None:
    variables, command = _cron_file()
    lock = Path(variables["MSSP_AUDIT_LOCK"])
    assert lock.parent == Path("/var/lib/mssp-audit") and '"$MSSP_AUDIT_LOCK"' in command
    assert "/tmp" not in command and "/tmp" not in "".join(variables.values())


@pytest.mark.parametrize("held", [False, True])
def test_cron_line_runs_through_sh_and_never_overlaps(tmp_path: Path, held: bool) -> None:
    fake = tmp_path / "mssp-audit"
    fake.write_text(f"#!/bin/sh\necho ran \"$@\" > {tmp_path}/ran\n")
    fake.chmod(0o755)
    log, lock_path = tmp_path / "nightly.log", tmp_path / "cron.lock"
    env = {"PATH": os.environ["PATH"], "MSSP_AUDIT": str(fake), "MSSP_AUDIT_CONFIG": "/etc/x.toml",
           "MSSP_AUDIT_LOG": str(log), "MSSP_AUDIT_LOCK": str(lock_path)}
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        if held:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        subprocess.run(["sh", "-c", _cron_file()[1]], env=env, timeout=30, check=True)
    finally:
        os.close(lock)
    if held:
        assert not (tmp_path / "ran").exists()
        [line] = log.read_text().splitlines()        # one line, in the JSON shape of the tool's own log
        entry = json.loads(line)
        assert entry["level"] == "error" and str(lock_path) in entry["message"] and "skipped" in entry["message"]
        assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    else:
        assert (tmp_path / "ran").read_text().strip() == "ran run --config /etc/x.toml"
        assert log.exists() and "skipped" not in log.read_text()
