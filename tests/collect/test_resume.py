"""kill -9 part-way through a collection, resume it, and get what an uninterrupted run gets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
import tomli_w

from audit.demo import demo_config, demo_environment
from audit.snapshot.store import read_json

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def write_config(config, path: Path) -> Path:
    data = config.model_dump(mode="json", exclude_none=True)
    path.write_text(tomli_w.dumps(data))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit", *args]


def normalized(run_root: Path) -> dict[tuple[str, str], pl.DataFrame]:
    return {(p.parent.parent.name, p.stem): pl.read_parquet(p)
            for p in sorted(run_root.glob("tenants/*/normalized/*.parquet"))}


def ok_resources(data_dir: Path) -> int:
    count = 0
    for manifest in data_dir.glob("runs/*/tenants/*/manifest.json"):
        try:
            count += sum(r["status"] == "ok" for r in read_json(manifest)["resources"].values())
        except (ValueError, KeyError):
            pass
    return count


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    with demo_environment(now=NOW, customers=4, seed=11, include_broken_tenant=False) as env:
        for tenant in env.estate.tenants.values():
            tenant.faults.latency_ms = 40          # slow enough to be caught part-way
        killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
        killed_cfg = write_config(demo_config(env.estate, env.server, env.certificate_path, killed_dir),
                                  tmp_path / "killed.toml")
        clean_cfg = write_config(demo_config(env.estate, env.server, env.certificate_path, clean_dir),
                                 tmp_path / "clean.toml")

        process = subprocess.Popen(cli("run", "--config", str(killed_cfg)), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while ok_resources(killed_dir) < 8 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the collection finished before it could be interrupted"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        interrupted = ok_resources(killed_dir)
        (run_dir,) = (killed_dir / "runs").iterdir()
        assert read_json(run_dir / "run.json")["status"] == "collecting"

        # Requests the killed process had in flight still reach the emulator's log for a moment
        # (40 ms latency, up to 32 of them): let it settle so they are not counted as the resume's.
        settled, seen = time.monotonic(), len(env.server.request_log)
        while time.monotonic() - settled < 0.5:
            time.sleep(0.05)
            if len(env.server.request_log) != seen:
                settled, seen = time.monotonic(), len(env.server.request_log)
        env.server.request_log.clear()
        resumed = subprocess.run(cli("run", "--config", str(killed_cfg), "--resume", run_dir.name),
                                 capture_output=True, text=True, timeout=300)
        assert resumed.returncode in (0, 1), resumed.stderr
        resumed_requests = len(env.server.request_log)

        env.server.request_log.clear()
        clean = subprocess.run(cli("run", "--config", str(clean_cfg)), capture_output=True, text=True, timeout=300)
        assert clean.returncode in (0, 1), clean.stderr
        clean_requests = len(env.server.request_log)

    (clean_run,) = (clean_dir / "runs").iterdir()
    assert read_json(run_dir / "run.json")["status"] == "complete"
    killed_tables, clean_tables = normalized(run_dir), normalized(clean_run)
    assert killed_tables.keys() == clean_tables.keys() and killed_tables
    for key, frame in clean_tables.items():
        assert killed_tables[key].equals(frame), key
    # What was complete before the kill was not asked for again.
    assert interrupted >= 8 and resumed_requests < clean_requests


def test_resume_of_an_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    with demo_environment(now=NOW, customers=1, seed=3, include_broken_tenant=False) as env:
        cfg = write_config(demo_config(env.estate, env.server, env.certificate_path, tmp_path / "d"),
                           tmp_path / "c.toml")
        result = subprocess.run(cli("run", "--config", str(cfg), "--resume", "nope"), capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 2 and "no run nope" in result.stderr


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The subprocesses must not pick up a CA bundle or proxy from the machine: the config carries its own.
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
