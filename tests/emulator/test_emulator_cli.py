"""``python -m audit.emulator`` serves in the foreground and says how to reach it."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

import audit.emulator

PROJECT_ROOT = Path(audit.emulator.__file__).resolve().parents[2]


def test_module_entry_point_serves_an_estate(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "audit.emulator", "--customers", "3", "--seed", "11", "--tls-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        info_file = tmp_path / "emulator.json"
        deadline = time.monotonic() + 30
        while not info_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert info_file.exists(), "the emulator did not write emulator.json"
        info = json.loads(info_file.read_text())
        assert len(info["customers"]) == 3
        context = ssl.create_default_context(cafile=info["ca_file"])
        with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
            tenant_id = info["customers"][0]["tenant_id"]
            token = client.post(f"{info['authority_host']}/{tenant_id}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": info["client_id"],
                "client_secret": info["client_secret"], "scope": "https://graph.microsoft.com/.default",
            }).json()["access_token"]
            users = client.get(f"{info['graph_base']}/users", headers={"Authorization": f"Bearer {token}"})
            assert users.status_code == 200 and users.json()["value"]
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "authority host: https://127.0.0.1:" in stdout
