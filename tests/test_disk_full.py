"""A full disk mid-run, for real, through the command line against the emulator: one line naming
the file, exit 74, no traceback, no temp file left, and `--resume` finishes the run without
collecting again what was already committed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from audit.demo import demo_config, demo_environment
from tests._disks import run_on_tmpfs, with_file_size_limit

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
CUSTOMER = "Northwind Traders"       # small: a run is ~0.5 MB, with raw files of up to ~35 kB


@pytest.fixture(scope="module")
def estate():
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        yield env


def _config(env, tmp_path: Path, data_dir: Path) -> Path:
    config = demo_config(env.estate, env.server, env.certificate_path, data_dir)
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    return path


def _the_error_line(stderr: str, data_dir: Path) -> tuple[str, str]:
    """The run's one error line (a JSON log line off a terminal), and the run id the file names."""
    assert "Traceback" not in stderr
    errors = [entry for entry in map(json.loads, stderr.splitlines()) if entry["level"] == "error"]
    assert len(errors) == 1, stderr
    message = errors[0]["message"]
    assert message.startswith(f"cannot write {data_dir}/runs/"), message
    run_id = Path(message.split()[2].rstrip(":")).relative_to(data_dir / "runs").parts[0]
    assert message.endswith(f"then finish the run with `mssp-audit run --resume {run_id}`")
    return message, run_id


def _committed(data_dir: Path) -> dict[Path, int]:
    """Every raw file a tenant manifest records, with its inode: a re-collected file gets a new one."""
    files = {}
    for manifest in data_dir.glob("runs/*/tenants/*/manifest.json"):
        for name, record in json.loads(manifest.read_text())["resources"].items():
            # Only a resource's own file: guest_sign_ins points at guests' before that is committed.
            if record.get("file") == f"raw/{name}.jsonl":
                files[manifest.parent / record["file"]] = (manifest.parent / record["file"]).stat().st_ino
    return files


def test_a_file_size_limit_mid_run_names_the_file_and_the_run_resumes(estate, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = _config(estate, tmp_path, data_dir)
    command = [sys.executable, "-m", "audit", "run", "--config", str(config), "--customers", CUSTOMER]
    # 30 kB: every file of the run start fits, a larger raw file or report does not (EFBIG).
    first = subprocess.run(with_file_size_limit(30_000, command), capture_output=True, text=True, cwd=ROOT,
                           timeout=300)
    assert first.returncode == 74, first.stderr
    message, run_id = _the_error_line(first.stderr, data_dir)
    assert ": File too large; what was collected is kept" in message
    assert not list(data_dir.rglob("*.part"))
    kept = _committed(data_dir)
    assert kept, "the resources committed before the failure are in the manifests"

    second = subprocess.run([*command, "--resume", run_id], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert second.returncode == 0, second.stderr
    assert {path: path.stat().st_ino for path in kept} == kept     # kept, not collected again
    verified = subprocess.run([sys.executable, "-m", "audit", "verify", "--config", str(config), "--run", run_id],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert verified.returncode == 0, verified.stdout


# Run inside a private mount namespace with a tiny tmpfs as the data directory: the first run hits
# ENOSPC; then the tmpfs grows (as an operator frees space) and the run is resumed and verified.
_FILL_THEN_RESUME = """
py="$1"; config="$2"; data="$3"; out="$4"; customer="$5"
"$py" -m audit run --config "$config" --customers "$customer" >"$out/first.out" 2>"$out/first.err"
echo $? >"$out/first.rc"
find "$data" -name '*.part' >"$out/parts"
mount -o remount,size=64m "$data" || exit 98
run_id=$(ls "$data/runs")
"$py" -m audit run --config "$config" --customers "$customer" --resume "$run_id" >"$out/second.out" 2>"$out/second.err"
echo $? >"$out/second.rc"
"$py" -m audit verify --config "$config" --run "$run_id" >"$out/verify.out" 2>&1
echo $? >"$out/verify.rc"
"""


def test_no_space_left_on_a_real_file_system_names_the_file_and_the_run_resumes(estate, tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out"
    out.mkdir()
    config = _config(estate, tmp_path, data_dir)
    shell = run_on_tmpfs(data_dir, "size=96k", _FILL_THEN_RESUME, sys.executable, str(config), str(data_dir),
                         str(out), CUSTOMER, cwd=ROOT, timeout=600)
    assert shell.returncode == 0, shell.stderr
    assert (out / "first.rc").read_text().strip() == "74", (out / "first.err").read_text()
    message, _ = _the_error_line((out / "first.err").read_text(), data_dir)
    assert ": No space left on device; what was collected is kept" in message
    assert (out / "parts").read_text() == ""
    assert (out / "second.rc").read_text().strip() == "0", (out / "second.err").read_text()
    assert (out / "verify.rc").read_text().strip() == "0", (out / "verify.out").read_text()
