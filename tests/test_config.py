"""A bad configuration gets one line naming the file and the key, and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import app
from audit.config import ConfigError, load_config

GOOD = """
[mssp]
analyst_tenant_id = "22222222-2222-4222-8222-222222222222"

[app]
client_id = "44444444-4444-4444-8444-444444444444"
certificate_path = "certs/app.pem"

[[customers]]
name = "Contoso"
tenant_id = "11111111-1111-4111-8111-111111111111"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mssp-audit.toml"
    path.write_text(text)
    return path


def test_good_config_loads_and_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.app.certificate_path == tmp_path / "certs/app.pem"
    assert config.cloud.base_url == "https://graph.microsoft.com/v1.0"
    assert config.cloud.scope == "https://graph.microsoft.com/.default"
    assert config.thresholds.stale_guest_days == 90


def test_national_cloud_hosts() -> None:
    from audit.config import CloudSettings
    gov = CloudSettings(name="usgov")
    assert gov.authority == "https://login.microsoftonline.us"
    assert gov.scope == "https://graph.microsoft.us/.default"
    assert CloudSettings(name="china").base_url == "https://microsoftgraph.chinacloudapi.cn/v1.0"


@pytest.mark.parametrize(("text", "expected"), [
    (GOOD.replace('tenant_id = "11111111-1111-4111-8111-111111111111"', 'tenant_id = "nope"'),
     "customers[0].tenant_id"),
    (GOOD.replace('[app]\nclient_id = "44444444-4444-4444-8444-444444444444"\n', "[app]\n"), "app.client_id"),
    (GOOD + "\n[thresholds]\nstale_guest_days = 0\n", "thresholds.stale_guest_days"),
    (GOOD + "\n[thresholds]\nstale_gust_days = 30\n", "thresholds.stale_gust_days"),
    (GOOD.replace('certificate_path = "certs/app.pem"', ""), "app"),
    (GOOD + '\n[[customers]]\nname = "Again"\ntenant_id = "11111111-1111-4111-8111-111111111111"\n', "listed twice"),
    ("[mssp\n", "not valid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_cli_exit_code_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("analyst_tenant_id", "analyst_tenant"))
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "mssp.analyst_tenant_id" in lines[0]


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2 and "absent.toml" in result.output and "cannot read" in result.output


def test_example_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "example.toml")
    assert config.customers[0].attestations and config.customers[0].accepted_risks
    assert config.delivery.password_env == "MSSP_AUDIT_SMTP_PASSWORD"
