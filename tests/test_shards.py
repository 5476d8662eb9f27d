"""A night in shards, as a Kubernetes Indexed Job runs it: N `run --shard auto` processes on one data
directory, each told its shard by JOB_COMPLETION_INDEX, then `merge`; the merged night must hold
what one unsharded run of the same estate holds, and a shard that dies must be named."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from audit.cli import shard_of
from audit.demo import demo_config, demo_environment
from tests._cli import ROOT, cli, write_config

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
AS_OF = "2026-11-22T02:00:00+00:00"      # both nights evaluate at the same instant
SHARDS = 2


@pytest.fixture(scope="module")
def estate():
    with demo_environment(now=NOW, customers=5, seed=7) as env:
        assert {shard_of(c.tenant_id, SHARDS) for c in env.estate.customers} == set(range(1, SHARDS + 1))
        yield env


def _config(env: Any, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    config = demo_config(env.estate, env.server, env.certificate_path, where / "data",
                         output={"data_dir": str(where / "data"), "metrics_file": str(where / "night.prom")})
    return write_config(config, where / "data", where / "c.toml")


def _shard(config: Path, index: int) -> subprocess.Popen[str]:
    """One pod of the Indexed Job: Kubernetes sets JOB_COMPLETION_INDEX (0-based), the manifest MSSP_AUDIT_SHARDS."""
    env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "MSSP_AUDIT_SHARDS": str(SHARDS)}
    return subprocess.Popen([sys.executable, "-m", "audit", "run", "--config", str(config), "--shard", "auto",
                             "--as-of", AS_OF, "--quiet"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _sheets(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's rows, but the cells that say when or which run wrote it (they differ by design)."""
    wb = openpyxl.load_workbook(path, read_only=True)
    sheets = {}
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append(tuple(None if isinstance(v, datetime) or (isinstance(v, str) and _run_stamp(v)) else v
                              for v in row))
        sheets[ws.title] = rows
    return sheets


def _run_stamp(value: str) -> bool:
    """A run id, night id or timestamp in a header line."""
    return bool(re.search(r"\d{8}T\d{6}Z|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", value))


def _customers(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(c["name"], c["tenant_id"], c["score"], c["in_error"], tuple(c["errors"]), tuple(c["unread"]),
             Path(c["pdf"]).name if c["pdf"] else None) for c in summary["customers"]]


def test_a_night_in_shards_merges_into_what_one_run_writes(estate: Any, tmp_path: Path) -> None:
    whole = cli("run", "--config", str(_config(estate, tmp_path / "one")), "--as-of", AS_OF, "--quiet")
    assert whole.returncode in (0, 1), whole.stderr
    sharded = _config(estate, tmp_path / "many")
    shards = [_shard(sharded, i) for i in range(SHARDS)]          # at once, on one data directory
    for proc in shards:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == whole.returncode, err
    runs = sorted((tmp_path / "many" / "data" / "runs").glob("*/run.json"))
    recorded = sorted(json.loads(p.read_text())["shard"]["index"] for p in runs)
    assert recorded == list(range(1, SHARDS + 1))
    merged = cli("merge", "--config", str(sharded))
    assert merged.returncode == whole.returncode, merged.stderr

    one = json.loads((tmp_path / "one" / "data" / "last-run.json").read_text())
    night = json.loads((tmp_path / "many" / "data" / "last-run.json").read_text())
    assert night["failed_shards"] == [] and [s["ok"] for s in night["shards"]] == [True] * SHARDS
    assert len(night["customers"]) == len(estate.estate.customers) == len(one["customers"])
    assert _customers(night) == _customers(one)
    for key in ("findings", "tenants_ok", "tenants_error", "exit_code"):
        assert night[key] == one[key], key
    assert (tmp_path / "many" / "data" / "latest").resolve() == Path(night["run_dir"]).resolve()

    a = _sheets(Path(one["portfolio"]))
    b = _sheets(Path(night["portfolio"]))
    assert a.keys() == b.keys() and sum(len(rows) for rows in b.values()) > len(estate.estate.customers)
    for sheet in a:
        assert b[sheet] == a[sheet], sheet
    csv_one = (Path(one["portfolio"]).parent / "findings.csv").read_text()
    assert (Path(night["portfolio"]).parent / "findings.csv").read_text() == csv_one
    def figures(path: Path) -> list[str]:    # the metrics but when and how long
        return [l for l in path.read_text().splitlines() if not l.startswith(("mssp_audit_last_run", "mssp_audit_run_"))]
    assert figures(tmp_path / "many" / "night.prom") == figures(tmp_path / "one" / "night.prom")
    assert any(l.startswith("mssp_audit_findings{") for l in figures(tmp_path / "many" / "night.prom"))


def test_a_killed_shard_is_named_and_the_merge_exits_non_zero(estate: Any, tmp_path: Path) -> None:
    config = _config(estate, tmp_path)
    runs = tmp_path / "data" / "runs"
    assert _shard(config, 0).communicate(timeout=600)[0] is not None
    doomed = _shard(config, 1)
    deadline = time.monotonic() + 120
    while not any(json.loads(p.read_text()).get("shard", {}).get("index") == 2
                  for p in runs.glob("*/run.json") if p.stat().st_size):
        assert doomed.poll() is None and time.monotonic() < deadline, "shard 2 ended before it could be killed"
        time.sleep(0.01)
    doomed.send_signal(signal.SIGKILL)      # as the node dies under the pod
    doomed.communicate(timeout=60)
    merged = cli("merge", "--config", str(config))
    assert merged.returncode == 1, merged.stderr
    assert "shard 2/2" in merged.stdout + merged.stderr
    summary = json.loads((tmp_path / "data" / "last-run.json").read_text())
    assert summary["exit_code"] == 1 and summary["failed_shards"] == ["2/2"]
    [failed] = [s for s in summary["shards"] if not s["ok"]]
    assert failed["run_id"] and "did not finish" in failed["failure"]
    lost = {c.tenant_id for c in estate.estate.customers if shard_of(c.tenant_id, SHARDS) == 2}
    named = {c["tenant_id"] for c in summary["customers"] if c["in_error"] and "shard 2/2" in (c["error"] or "")}
    assert named == lost and lost
    wb = openpyxl.load_workbook(summary["portfolio"], read_only=True)
    text = " ".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert all(tenant in text for tenant in lost) and "shard 2/2" in text
