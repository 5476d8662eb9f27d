"""Key material: the TLS chain the clients trust and the app's certificate credential."""

from __future__ import annotations

import hashlib
import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from audit.emulator import make_app_certificate, make_tls_files


def test_tls_files(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path / "tls")
    for path in (files.ca_file, files.cert_file, files.key_file):
        assert path.read_text().startswith("-----BEGIN")
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    server = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.IPv4Address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert server.issuer == ca.subject
    server.verify_directly_issued_by(ca)


def test_app_certificate_thumbprint() -> None:
    credential = make_app_certificate("mssp-audit-test")
    cert = x509.load_pem_x509_certificate(credential.certificate_pem.encode())
    der = cert.public_bytes(serialization.Encoding.DER)
    assert credential.thumbprint.lower() == hashlib.sha1(der).hexdigest()
    key = serialization.load_pem_private_key(credential.private_key_pem.encode(), password=None)
    assert key.key_size == 2048  # type: ignore[union-attr]
