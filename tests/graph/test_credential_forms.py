"""Credentials as people hold them: a combined PEM, separate key and certificate PEMs, a PFX with its
password from the environment, an encrypted PEM key, and `mssp-audit cert new` output — each
authenticates with real MSAL against the emulator, which checks the signed client assertion."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from audit.config import ConfigError, load_config
from audit.demo import DEMO_CLIENT_ID, demo_config, demo_environment
from audit.emulator.estate import AppRegistration, generate_estate
from audit.emulator.server import EmulatorServer
from audit.graph.auth import CredentialError, TokenProvider, load_credential, token_claims

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD_ENV = "MSSP_AUDIT_TEST_PFX_PASSWORD"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    with demo_environment(now=NOW, customers=1, seed=5, include_broken_tenant=False) as env:
        config = demo_config(env.estate, env.server, env.certificate_path, tmp_path_factory.mktemp("d"))
        yield env, config


def token_for(config, credential, tenant_id: str) -> dict:
    tokens = TokenProvider(tenant_id=tenant_id, client_id=config.app.client_id, credential=credential,
                           authority_host=config.cloud.authority, scope=config.cloud.scope,
                           ca_bundle=config.cloud.ca_bundle)
    try:
        return token_claims(asyncio.run(tokens.token()))
    finally:
        tokens.close()


def split(combined: Path, out: Path) -> tuple[Path, Path, object, x509.Certificate]:
    pem = combined.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem)
    key_path, cert_path = out / "app.key", out / "app.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, key, cert


def forms(combined: Path, out: Path) -> dict[str, dict]:
    key_path, cert_path, key, cert = split(combined, out)
    pfx = out / "app.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(
        b"app", key, cert, None, serialization.BestAvailableEncryption(b"correct horse")))
    encrypted = out / "encrypted.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"correct horse")))
    return {
        "combined PEM": {"certificate_path": combined},
        "key and certificate PEMs": {"certificate_path": cert_path, "private_key_path": key_path},
        "PFX with password": {"certificate_path": pfx, "password_env": PASSWORD_ENV},
        "encrypted PEM key": {"certificate_path": cert_path, "private_key_path": encrypted,
                              "password_env": PASSWORD_ENV},
    }


def test_each_certificate_form_authenticates(env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo, config = env
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    tenant_id = demo.estate.customers[0].tenant_id
    thumbprints = set()
    for form, args in forms(demo.certificate_path, tmp_path).items():
        credential = load_credential(args.pop("certificate_path"), **args)
        thumbprints.add(credential.value["thumbprint"])
        claims = token_for(config, credential, tenant_id)
        assert claims.get("tid") == tenant_id and claims.get("appid") == config.app.client_id, form
    assert len(thumbprints) == 1       # computed from the one certificate, whatever its wrapping


def test_wrong_password_missing_password_and_foreign_key_are_one_line(env, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    demo, _ = env
    made = forms(demo.certificate_path, tmp_path)
    with pytest.raises(CredentialError, match="PEM file, and not a PKCS#12/PFX") as exc:
        monkeypatch.setenv(PASSWORD_ENV, "Tr0ub4dor&3")
        load_credential(made["PFX with password"]["certificate_path"], password_env=PASSWORD_ENV)
    assert "Tr0ub4dor" not in str(exc.value)
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(CredentialError, match=f"{PASSWORD_ENV} .* is empty or unset"):
        load_credential(made["PFX with password"]["certificate_path"], password_env=PASSWORD_ENV)
    with pytest.raises(CredentialError, match="the private key is encrypted"):
        load_credential(made["encrypted PEM key"]["certificate_path"],
                        private_key_path=made["encrypted PEM key"]["private_key_path"])
    with pytest.raises(CredentialError, match="holds no private key"):
        load_credential(made["key and certificate PEMs"]["certificate_path"])
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run([sys.executable, "-m", "audit", "cert", "new", "--out", str(other)], check=True,
                   capture_output=True, cwd=ROOT, timeout=120)
    with pytest.raises(CredentialError, match="no certificate in it belongs to the private key"):
        load_credential(made["key and certificate PEMs"]["certificate_path"], private_key_path=other / "mssp-audit.key")


def test_a_typed_thumbprint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[mssp]\nanalyst_tenant_id = "22222222-2222-4222-8222-222222222222"\n'
                    f'[app]\nclient_id = "{DEMO_CLIENT_ID}"\ncertificate_path = "a.pem"\n'
                    'certificate_thumbprint = "AB"\n[[customers]]\nname = "A"\n'
                    'tenant_id = "00000000-0000-0000-0000-000000000001"\n')
    with pytest.raises(ConfigError, match="the thumbprint is computed from the certificate"):
        load_config(path)


def test_cert_new_output_authenticates(tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    made = subprocess.run([sys.executable, "-m", "audit", "cert", "new", "--out", str(out)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert made.returncode == 0, made.stderr
    key_path, cert_path = out / "mssp-audit.key", out / "mssp-audit.crt"
    assert (key_path.stat().st_mode & 0o777) == 0o600 and (out.stat().st_mode & 0o777) == 0o700
    cert_pem = cert_path.read_text()
    assert "PRIVATE KEY" not in cert_pem                     # what is uploaded holds no secret
    printed = dict(line.split(":", 1) for line in made.stdout.splitlines() if line.startswith("Thumbprint"))
    credential = load_credential(cert_path, private_key_path=key_path)
    assert printed["Thumbprint"].split()[0] == credential.value["thumbprint"]
    assert f'certificate_path = "{cert_path}"' in made.stdout and f'private_key_path = "{key_path}"' in made.stdout
    # The registration holds only the uploaded certificate; the emulator checks the assertion against it.
    app = AppRegistration(client_id=DEMO_CLIENT_ID, certificate_pem=cert_pem)
    estate = generate_estate(now=NOW, app=app, seed=5, customers=1, include_broken_tenant=False)
    with EmulatorServer(estate, tmp_path / "tls") as server:
        config = demo_config(estate, server, cert_path, tmp_path / "data",
                             app={"certificate_path": str(cert_path), "private_key_path": str(key_path)})
        claims = token_for(config, credential, estate.customers[0].tenant_id)
    assert claims.get("appid") == DEMO_CLIENT_ID
    again = subprocess.run([sys.executable, "-m", "audit", "cert", "new", "--out", str(out)], capture_output=True,
                           text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and key_path.read_bytes()
