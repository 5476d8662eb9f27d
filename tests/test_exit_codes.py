"""The documented exit codes, through the real command line, and JSON log lines off a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from audit.demo import demo_config, demo_environment

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


def test_exit_1_when_a_tenant_cannot_be_reached(estate) -> None:
    env, factory = estate
    out = factory.mktemp("broken")
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    result = run_cli(config, "--customers", "Wingtip Legal", "--quiet")
    assert result.returncode == 1
    assert result.stdout.strip().endswith("1 with errors.")


def test_exit_2_names_the_key_when_the_data_directory_is_a_file(estate) -> None:
    env, factory = estate
    out = factory.mktemp("file")
    (out / "data").write_text("a file where the data directory should be")
    config = write(demo_config(env.estate, env.server, env.certificate_path, out / "data"), out / "c.toml")
    result = run_cli(config)
    assert result.returncode == 2 and "output.data_dir" in result.stderr


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
