"""Key material for the emulator: its TLS chain and the audit app's own certificate.

MSAL refuses ``http://`` authorities, so the emulator must speak HTTPS with a certificate
whose SAN covers ``IP:127.0.0.1`` (stack-notes.md, "MSAL against a local authority"). The
clients trust a throwaway CA written next to it, never the system store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["AppCertificate", "TlsFiles", "make_app_certificate", "make_tls_files"]

# Short-lived on purpose: these files only live as long as a test session or a demo.
_VALIDITY = dt.timedelta(days=30)
_CLOCK_SKEW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for the emulator's HTTPS listener."""

    ca_file: Path      # the CA a client must trust (``verify=``)
    cert_file: Path    # server certificate, signed by the CA
    key_file: Path     # server private key (mode 0600)


@dataclass(frozen=True)
class AppCertificate:
    """The audit app's certificate credential, as MSAL takes it."""

    private_key_pem: str
    certificate_pem: str
    thumbprint: str    # SHA-1 of the DER certificate, upper-case hex (what MSAL's ``thumbprint`` wants)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    # Create private files 0600 from the start rather than chmod after: no window where
    # another local user could read the key.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if private:
        os.chmod(path, 0o600)


def write_private(path: Path, text: str) -> None:
    """Write `text` owner-only (0600 from creation: it holds a key or a secret) and atomically: a
    client waiting for the file never reads half of it."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def make_tls_files(directory: Path) -> TlsFiles:
    """Write a fresh CA and a server certificate for 127.0.0.1/localhost into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = _new_key()
    ca_name = _name("mssp-audit emulator CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _new_key()
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + _VALIDITY)
        # Python's ssl module matches IP addresses only against IP SANs, never the CN.
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    _write(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(directory / "ca-key.pem", _key_pem(ca_key), private=True)
    _write(files.cert_file, server_cert.public_bytes(serialization.Encoding.PEM))
    _write(files.key_file, _key_pem(server_key), private=True)
    return files


def make_app_certificate(common_name: str = "mssp-audit") -> AppCertificate:
    """A self-signed RSA 2048 certificate, the kind an app registration accepts as credential."""
    now = dt.datetime.now(dt.timezone.utc)
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return AppCertificate(
        private_key_pem=_key_pem(key).decode("ascii"),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        thumbprint=hashlib.sha1(der).hexdigest().upper(),
    )
