"""`mssp-audit doctor` through the real command line against the emulator over HTTPS, on a mixed
estate: consented (Contoso), consent revoked (Wingtip, AADSTS7000229), one permission missing
(Adatum, no AuditLog.Read.All), no P1/P2 (Tailspin: signInActivity not licensed), a tenant id that
does not exist (AADSTS90002), one without User.Read.All (Litware, taken away here: then whether
AuditLog.Read.All is granted cannot be seen), and the MSSP partner tenant. Only GET reaches Graph."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from audit.demo import demo_config, demo_environment
from audit.emulator.server import LoggedRequest
from audit.resources import permissions
from tests._cli import cli

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
UNKNOWN = "0badc0de-0000-4000-8000-000000000000"
PASSWORD_ENV = "MSSP_AUDIT_TEST_PFX_PASSWORD"


@dataclass
class Estate:
    config: Path
    data: dict
    tenants: dict[str, str]          # name → tenant id
    authority: str
    client_id: str
    partner: str
    log: list[LoggedRequest]
    certificate_path: Path
    tmp: Path

    def write(self, name: str, **app: str) -> Path:
        data = {**self.data, "app": {"client_id": self.client_id, **app}}
        path = self.tmp / name
        path.write_text(tomli_w.dumps(data))
        return path


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("doctor")
    with demo_environment(now=NOW, customers=8, seed=7) as env:
        litware = next(c.tenant_id for c in env.estate.customers if c.name == "Litware Energy")
        env.estate.tenants[litware].granted_roles.remove("User.Read.All")
        config = demo_config(env.estate, env.server, env.certificate_path, tmp / "data")
        data = config.model_dump(mode="json", exclude_none=True)
        data["customers"].append({"name": "Typo Corp", "tenant_id": UNKNOWN})
        path = tmp / "c.toml"
        path.write_text(tomli_w.dumps(data))
        tenants = {c.name: c.tenant_id for c in env.estate.customers} | {"Typo Corp": UNKNOWN}
        yield Estate(path, data, tenants, config.cloud.authority, config.app.client_id,
                     env.estate.partner_tenant_id, env.server.request_log, env.certificate_path, tmp)


@pytest.fixture(scope="module")
def doctor_json(estate: Estate):
    before = len(estate.log)
    result = cli("doctor", "--config", str(estate.config), "--format", "json")
    sent = list(estate.log)[before:]
    assert result.returncode == 1, result.stdout + result.stderr    # some tenants are not ready
    report = json.loads(result.stdout)
    return {t["name"]: t for t in report["tenants"]}, report, sent


def test_every_cell_of_the_mixed_estate(doctor_json, estate: Estate) -> None:
    tenants, report, _ = doctor_json
    customer_side = set(permissions())
    assert report["ready"] is False
    assert report["permissions"][-1] == "DelegatedAdminRelationship.Read.All"

    contoso = tenants["Contoso Retail"]
    assert contoso["ready"] and contoso["token"]["ok"] and contoso["consent_url"] is None
    assert {p: c["state"] for p, c in contoso["permissions"].items()} == dict.fromkeys(customer_side, "granted")
    assert contoso["licence"]["p1"] is True and contoso["licence"]["p2"] is True

    adatum = tenants["Adatum Logistics"]
    assert not adatum["ready"]
    assert {p: c["state"] for p, c in adatum["permissions"].items()} == \
        dict.fromkeys(customer_side, "granted") | {"AuditLog.Read.All": "missing"}
    assert adatum["consent_url"] == \
        f"{estate.authority}/{estate.tenants['Adatum Logistics']}/adminconsent?client_id={estate.client_id}"

    tailspin = tenants["Tailspin Toys"]
    assert tailspin["permissions"]["AuditLog.Read.All"]["state"] == "not licensed"
    assert "NonPremium" in tailspin["permissions"]["AuditLog.Read.All"]["detail"]
    assert tailspin["permissions"]["User.Read.All"]["state"] == "granted"
    assert tailspin["licence"]["p1"] is False and tailspin["licence"]["p2"] is False
    assert "subscribedSkus" in tailspin["licence"]["evidence"]
    assert tailspin["consent_url"] is None            # no consent makes a licence

    wingtip = tenants["Wingtip Legal"]
    assert not wingtip["ready"] and not wingtip["token"]["ok"]
    assert wingtip["token"]["code"] == "AADSTS7000229" and wingtip["token"]["meaning"].startswith("not consented")
    assert {c["state"] for c in wingtip["permissions"].values()} == {"not checked"}
    assert wingtip["consent_url"] == \
        f"{estate.authority}/{estate.tenants['Wingtip Legal']}/adminconsent?client_id={estate.client_id}"
    assert wingtip["licence"]["p1"] is None           # not read: unknown, never "no"

    typo = tenants["Typo Corp"]
    assert typo["token"]["code"] == "AADSTS90002" and typo["token"]["meaning"].startswith("unknown tenant")
    assert typo["consent_url"] is None and not typo["ready"]

    litware = tenants["Litware Energy"]
    assert litware["permissions"]["User.Read.All"]["state"] == "missing"
    assert litware["permissions"]["AuditLog.Read.All"] == {"state": "not checked", "detail": "needs User.Read.All first"}
    assert litware["permissions"]["Policy.Read.All"]["state"] == "granted" and litware["consent_url"]

    partner = tenants["MSSP partner tenant"]
    assert partner["partner"] and partner["ready"] and partner["tenant_id"] == estate.partner.lower()
    assert {p: c["state"] for p, c in partner["permissions"].items()} == \
        dict.fromkeys(permissions(partner=True), "granted")


def test_only_get_reaches_graph_one_request_per_permission(doctor_json, estate: Estate) -> None:
    _, _, sent = doctor_json
    graph = [r for r in sent if r.path.startswith(("/v1.0", "/beta"))]
    assert graph and {r.method for r in graph} == {"GET"}
    contoso = estate.tenants["Contoso Retail"]
    assert len([r for r in graph if r.tenant_id == contoso]) == len(permissions())
    assert not [r for r in graph if r.tenant_id in (estate.tenants["Wingtip Legal"], UNKNOWN)]


def test_table_names_each_problem_and_its_fix(estate: Estate) -> None:
    result = cli("doctor", "--config", str(estate.config))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line.startswith(tuple(estate.tenants))}
    assert " yes " in rows["Contoso Retail"] and " NO " in rows["Wingtip Legal"]
    assert "missing" in rows["Adatum Logistics"] and "not licensed" in rows["Tailspin Toys"]
    assert "AADSTS7000229: not consented" in out and "AADSTS90002: unknown tenant" in out
    assert f"admin consent: {estate.authority}/{estate.tenants['Adatum Logistics']}/adminconsent" in out
    assert out.rstrip().endswith("6 of 10 tenant(s) ready.")   # not Adatum, Litware, Wingtip, Typo


def split_forms(estate: Estate) -> dict[str, dict[str, str]]:
    pem = estate.certificate_path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem)
    (estate.tmp / "app.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (estate.tmp / "app.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (estate.tmp / "app.pfx").write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", key, cert, None, serialization.BestAvailableEncryption(b"s3cret pfx")))
    return {
        "combined PEM": {"certificate_path": str(estate.certificate_path)},
        "key + certificate": {"certificate_path": str(estate.tmp / "app.crt"),
                              "private_key_path": str(estate.tmp / "app.key")},
        "PFX": {"certificate_path": str(estate.tmp / "app.pfx"), "certificate_password_env": PASSWORD_ENV},
    }


def test_each_certificate_form_is_ready_through_the_cli(estate: Estate) -> None:
    for form, app in split_forms(estate).items():
        config = estate.write(f"{form}.toml".replace(" ", "-"), **app)
        result = cli("doctor", "--config", str(config), "--customers", "Contoso Retail",
                     env={PASSWORD_ENV: "s3cret pfx"})
        assert result.returncode == 0, (form, result.stdout, result.stderr)
        assert result.stdout.rstrip().endswith("2 of 2 tenant(s) ready."), form     # Contoso and the partner


def test_an_unregistered_certificate_is_named_wrong_certificate(estate: Estate) -> None:
    made = cli("cert", "new", "--out", str(estate.tmp / "unregistered"))
    assert made.returncode == 0, made.stderr
    config = estate.write("unregistered.toml", certificate_path=str(estate.tmp / "unregistered" / "mssp-audit.crt"),
                          private_key_path=str(estate.tmp / "unregistered" / "mssp-audit.key"))
    result = cli("doctor", "--config", str(config), "--customers", "Contoso Retail", "--format", "json")
    assert result.returncode == 1, result.stderr
    contoso = next(t for t in json.loads(result.stdout)["tenants"] if t["name"] == "Contoso Retail")
    assert contoso["token"]["code"] == "AADSTS700027" and contoso["token"]["meaning"].startswith("wrong certificate")
    assert contoso["consent_url"] is None             # consent does not fix a wrong certificate


def test_a_credential_that_cannot_load_is_exit_2(estate: Estate) -> None:
    config = estate.write("nopfx.toml", certificate_path=str(estate.tmp / "app.pfx"),
                          certificate_password_env=PASSWORD_ENV)
    split_forms(estate)
    result = cli("doctor", "--config", str(config), env={PASSWORD_ENV: ""})
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{PASSWORD_ENV} (app.certificate_password_env) is empty or unset" in result.stderr


def test_what_graph_says_is_cleaned_before_it_reaches_a_terminal() -> None:
    from audit.doctor import MISSING, NOT_LICENSED, Probe, _cell
    from audit.graph.client import GraphError
    from audit.normalize.licences import Feature, LicenceState
    probe = Probe("AuditLog.Read.All", "guest_sign_ins", "users?$top=1", Feature.SIGN_IN_ACTIVITY)
    hostile = GraphError(403, "Authorization_RequestDenied\x1b[2J\x1b]0;pwned\x07", "Insufficient privileges")
    cell = _cell(probe, hostile, None, ())
    assert cell.state == MISSING and "\x1b" not in cell.detail and "\x07" not in cell.detail
    # No SKU grants P1 (subscribedSkus lists none): a plain 403 is "not licensed" when the token holds
    # the permission, and "missing" when it does not — consent is then what is needed.
    unlicensed = LicenceState(())
    assert _cell(probe, hostile, unlicensed, ("AuditLog.Read.All",)).state == NOT_LICENSED
    assert _cell(probe, hostile, unlicensed, ("User.Read.All",)).state == MISSING
    assert _cell(probe, GraphError(503, "ServiceUnavailable", ""), unlicensed, ()).state == "error"
