"""Configuration that cannot mean anything is refused through the real command line: exit 2, one
line naming the file and the key (issue 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from audit.checks import SPECS

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER = '''
[[customers]]
name = "Contoso"
tenant_id = "11111111-1111-4111-8111-111111111111"
'''
BASE = '''
[mssp]
analyst_tenant_id = "22222222-2222-4222-8222-222222222222"

[app]
client_id = "44444444-4444-4444-8444-444444444444"
client_secret_env = "MSSP_AUDIT_SECRET"
'''


def cli(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "mssp-audit.toml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "audit", *args, "--config", str(path)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr, result.stdout)
    return lines[0]


@pytest.mark.parametrize(("kind", "entry"), [
    ("accepted_risks", 'check_id = "EM-099"\nrationale = "x"\nowner = "CISO"\nexpires = 2027-01-01'),
    ("attestations", 'check_id = "EM-099"\nby = "J. Auditor"\non = 2026-06-01\nevidence = "ticket 7"'),
])
def test_an_unknown_check_id_is_refused(tmp_path: Path, kind: str, entry: str) -> None:
    # four customers (distinct tenant ids); the entry belongs to the fourth, customers[3]
    customers = "".join(CUSTOMER.replace("111111111111\"", f"11111111111{i}\"") for i in range(4))
    text = BASE + customers + f"\n[[customers.{kind}]]\n{entry}\n"
    line = one_line(cli(tmp_path, text, "run"))
    assert str(tmp_path / "mssp-audit.toml") in line
    assert f"customers[3].{kind}[0].check_id': 'EM-099' is not a check; known: " in line
    assert "GA-007" in line and len(line.split(", ")) >= len(SPECS)


def test_a_known_check_id_is_accepted(tmp_path: Path) -> None:
    text = BASE + CUSTOMER + '\n[[customers.accepted_risks]]\ncheck_id = "ADM-001"\nrationale = "x"\nowner = "o"\n' \
        'expires = 2027-01-01\n[output]\ndata_dir = "data"\n'
    result = cli(tmp_path, text, "runs", "list")
    assert result.returncode == 0 and "No runs under" in result.stdout, result.stderr


def test_a_certificate_and_a_secret_together_are_refused(tmp_path: Path) -> None:
    text = BASE.replace('client_secret_env', 'certificate_path = "app.pem"\nclient_secret_env') + CUSTOMER
    line = one_line(cli(tmp_path, text, "run"))
    assert "key 'app'" in line and "app.certificate_path and app.client_secret_env are both set" in line


def test_the_example_configuration_names_known_checks() -> None:
    from audit.checks import validate_check_ids
    from audit.config import load_config
    validate_check_ids(load_config(ROOT / "config" / "example.toml"))
