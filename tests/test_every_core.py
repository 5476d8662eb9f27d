"""A night on every core: collector processes and per-customer workers write what one process writes,
bring their log lines home, and a collector process that dies costs only its unfinished tenants."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit import pipeline
from audit.config import Config
from audit.demo import demo_config, demo_environment
from audit.emulator import Faults

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def env() -> Any:
    with demo_environment(now=NOW, customers=6, seed=11) as environment:
        yield environment


def _config(env: Any, data: Path, processes: int, **collect: Any) -> Config:
    config = demo_config(env.estate, env.server, env.certificate_path, data)
    return config.model_copy(update={"collect": config.collect.model_copy(update={"processes": processes, **collect})})


def _night(run: pipeline.RunOutcome) -> dict[str, Any]:
    """What a night says about each tenant: every resource's status and item count, every result."""
    night: dict[str, Any] = {}
    for manifest_path in sorted(run.root.glob("tenants/*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        tenant = manifest["tenant_id"]
        results_path = manifest_path.parent / "results.json"
        results = json.loads(results_path.read_text())["results"] if results_path.exists() else []
        night[tenant] = {
            "token_ok": manifest["token_ok"],
            "resources": {n: (r["status"], r.get("items")) for n, r in manifest["resources"].items()},
            "results": {r["check"]: (r["status"], r["summary"]) for r in results},
        }
    return night


def test_collector_processes_and_workers_write_what_one_process_writes(env: Any, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO)
    alone = pipeline.run(_config(env, tmp_path / "one", 1), now=NOW, as_of=NOW)
    one_log = {(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("audit.collect")}
    caplog.clear()
    spread = pipeline.run(_config(env, tmp_path / "two", 2), now=NOW, as_of=NOW)
    two_log = {(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("audit.collect")}

    assert _night(spread) == _night(alone)
    assert len(_night(spread)) == len(env.estate.customers) + 1           # the partner tenant too
    assert [(c.tenant_id, c.score, c.counts, c.errors) for c in spread.customers] == \
        [(c.tenant_id, c.score, c.counts, c.errors) for c in alone.customers]
    assert all(c.pdf is not None and c.pdf.is_file() and c.workbook is not None and c.workbook.is_file()
               for c in spread.customers)
    # Every tenant's "collected" line was written here, whichever process collected it.
    collected = {m for _, m in two_log if m.endswith(": collected") or "resource(s) not read" in m}
    assert len(collected) == len(env.estate.customers) + 1, two_log
    assert two_log == one_log


def _collectors() -> list[int]:
    """The collector processes: the forkserver's children while a night is collecting."""
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid          # noqa: SLF001 (the test needs the real process)
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server:
                children.append(int(entry.name))
    return children


def test_a_collector_process_that_dies_costs_only_its_unfinished_tenants(env: Any, tmp_path: Path) -> None:
    hung = env.estate.customers[0]
    saved = env.estate.tenants[hung.tenant_id].faults
    env.estate.tenants[hung.tenant_id].faults = Faults(graph_hang={"/users"})
    done: list[str] = []
    killed: list[int] = []

    def kill_when_the_rest_are_in() -> None:
        deadline = time.monotonic() + 120
        while len(done) < len(env.estate.customers) and time.monotonic() < deadline:    # all but the hung one
            time.sleep(0.1)
        for pid in _collectors():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_when_the_rest_are_in, daemon=True)
    killer.start()
    try:
        outcome = pipeline.run(_config(env, tmp_path / "data", 2, timeout_seconds=60),
                               now=NOW, as_of=NOW, on_tenant=lambda m: done.append(m.tenant_id))
    finally:
        env.estate.tenants[hung.tenant_id].faults = saved
    killer.join()
    assert killed, "no collector process was found to kill"
    assert outcome.exit_code == 1
    by_tenant = {c.tenant_id: c for c in outcome.customers}
    lost = by_tenant[hung.tenant_id.lower()]
    assert not lost.reachable and lost.reason.startswith("collection process ended unexpectedly (exit code -9)")
    assert lost.pdf is not None and lost.pdf.is_file()                # its report says why, as for any unreached tenant
    others = [c for t, c in by_tenant.items() if t != hung.tenant_id.lower()]
    assert all(c.reachable for c in others) and len(others) == len(env.estate.customers) - 1
    assert hung.tenant_id.lower() in done                              # the progress line counted it too


def test_workers_follow_a_containers_cpu_quota(tmp_path: Path) -> None:
    from audit.workers import cpu_quota

    v2, quota, period = tmp_path / "cpu.max", tmp_path / "quota", tmp_path / "period"
    missing = (tmp_path / "none", tmp_path / "none")
    v2.write_text("200000 100000\n")
    assert cpu_quota(v2, missing) == 2                      # a pod limited to 2 CPUs
    v2.write_text("150000 100000\n")
    assert cpu_quota(v2, missing) == 2                      # 1.5 CPUs: rounded up
    v2.write_text("max 100000\n")
    assert cpu_quota(v2, missing) is None                   # no limit
    quota.write_text("400000\n")
    period.write_text("100000\n")
    assert cpu_quota(tmp_path / "none", (quota, period)) == 4    # cgroup v1
    quota.write_text("-1\n")
    assert cpu_quota(tmp_path / "none", (quota, period)) is None
    assert cpu_quota(tmp_path / "none", missing) is None
