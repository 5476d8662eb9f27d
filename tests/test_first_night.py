"""scripts/first-night: the README's "Running it for real" from a fresh machine to the first night
started by the schedule.cron entry, against the emulator over HTTPS with a client secret from the
env file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fresh_machine_to_first_scheduled_night(tmp_path: Path) -> None:
    prefix = tmp_path / "machine"
    result = subprocess.run([str(ROOT / "scripts" / "first-night"), str(prefix)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "first-night: OK" in result.stdout
    summary = json.loads((prefix / "var/lib/mssp-audit/last-run.json").read_text())
    assert summary["tenants_ok"] == 3 and summary["exit_code"] == 0       # three consenting customers, all read
    assert (prefix / "etc/mssp-audit/mssp-audit.env").stat().st_mode & 0o777 == 0o640
    assert not (prefix / "var/lib/mssp-audit/runs").stat().st_mode & 0o077
