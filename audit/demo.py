"""`mssp-audit demo`: the real pipeline against the built-in Graph emulator, no tenant needed.

The app's private key and the emulator's TLS files live in a temporary directory that is removed
when the demo ends; nothing secret is written under the output directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from audit.config import Config
from audit.emulator._gen_common import ANALYST_DOMAIN, CORPORATE_DOMAIN
from audit.emulator.certs import make_app_certificate
from audit.emulator.estate import AppRegistration, Estate, generate_estate
from audit.emulator.server import EmulatorServer
from audit.pipeline import RunOutcome, run
from audit.responses import responses_for

DEMO_CLIENT_ID = "5e1f2c3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


@dataclass(frozen=True)
class DemoEnvironment:
    estate: Estate
    server: EmulatorServer
    certificate_path: Path


def demo_config(estate: Estate, server: EmulatorServer, certificate_path: Path, data_dir: Path,
                **overrides: Any) -> Config:
    """The configuration an MSSP would write for this estate, pointed at the emulator."""
    tenants = estate.tenants
    data: dict[str, Any] = {
        "mssp": {"analyst_tenant_id": estate.mssp_tenant_id, "partner_tenant_id": estate.partner_tenant_id,
                 "corporate_tenant_ids": estate.corporate_tenant_ids, "analyst_domains": [ANALYST_DOMAIN],
                 "corporate_domains": [CORPORATE_DOMAIN]},
        "app": {"client_id": estate.app.client_id, "certificate_path": str(certificate_path)},
        "cloud": {"name": "custom", "authority_host": server.authority_host,
                  "graph_host": "https://graph.microsoft.com", "graph_base": server.graph_base,
                  "ca_bundle": str(server.ca_file)},
        "output": {"data_dir": str(data_dir)},
        "customers": [{"name": c.name, "tenant_id": c.tenant_id, "projected_growth": c.projected_growth,
                       "setup_admin": f"mssp-setup-admin@{tenants[c.tenant_id].default_domain}"}
                      for c in estate.customers],
    }
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values} if isinstance(values, dict) else values
    return Config.model_validate(data)


@contextmanager
def demo_environment(*, now: datetime, customers: int = 8, seed: int = 7, **estate_args: Any) -> Iterator[DemoEnvironment]:
    """A running emulator serving a fresh estate, and the app certificate it trusts."""
    with tempfile.TemporaryDirectory(prefix="mssp-audit-demo-") as secrets:
        certificate = make_app_certificate()
        certificate_path = Path(secrets) / "app.pem"
        fd = os.open(certificate_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(certificate.private_key_pem + certificate.certificate_pem)
        app = AppRegistration(client_id=DEMO_CLIENT_ID, certificate_pem=certificate.certificate_pem)
        estate = generate_estate(now=now, app=app, seed=seed, customers=customers, **estate_args)
        with EmulatorServer(estate, Path(secrets) / "tls") as server:
            yield DemoEnvironment(estate, server, certificate_path)


# The first demo customer (Contoso Retail) has an overdue access review (AR-001 FAIL) and more
# Global Administrators than the range allows (ADM-001 FAIL): one response is late, one on time.
DEMO_RESPONSES = """\
# Management responses (README, "Management responses"): per customer and check, who owns the
# finding, what the MSSP will do and by when. Shown beside the finding in the PDF and workbooks;
# a response past its target date while the finding is still open is flagged overdue.

[[response]]
customer = {customer}
check = "AR-001"
owner = "Jane Doe, MSSP service manager"
response = "The overdue review will be completed and the reviewers reminded by the service desk."
target_date = {late}

[[response]]
customer = {customer}
check = "ADM-001"
owner = "Sam Lee, customer IT lead"
response = "Two of the Global Administrator accounts will be moved to Privileged Role Administrator."
target_date = {due}
"""


def write_demo_responses(estate: Estate, path: Path, today: date) -> Path:
    """A sample responses file for the demo estate's first customer, dated from `today`."""
    customer = estate.customers[0].name
    path.write_text(DEMO_RESPONSES.format(customer=_toml_string(customer), late=today - timedelta(days=14),
                                          due=today + timedelta(days=60)), encoding="utf-8")
    return path


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_demo(out: Path, *, customers: int = 8, seed: int = 7, now: datetime | None = None) -> RunOutcome:
    """The demo night. Its sample responses file is written beside the runs (out/responses.toml) and
    read once before collection, as `mssp-audit run` does."""
    now = now or datetime.now(UTC)
    with demo_environment(now=now, customers=customers, seed=seed) as env:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        responses = write_demo_responses(env.estate, out / "responses.toml", now.date())
        config = demo_config(env.estate, env.server, env.certificate_path, out,
                             output={"responses": str(responses)})
        responses_for(config)
        return run(config, now=now)
