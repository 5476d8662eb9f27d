"""`mssp-audit cert new`: a self-signed certificate for the app registration.

The private key stays on this machine (mode 0600, in a directory of mode 0700); only the
certificate (public) is uploaded to the app registration under Certificates & secrets.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from audit.graph.auth import thumbprint

KEY_FILE = "mssp-audit.key"
CERT_FILE = "mssp-audit.crt"


@dataclass(frozen=True)
class NewCertificate:
    key_path: Path
    certificate_path: Path
    thumbprint: str
    not_before: dt.datetime
    not_after: dt.datetime


def new_certificate(out: Path, *, common_name: str = "mssp-audit", days: int = 730,
                    now: dt.datetime | None = None) -> NewCertificate:
    """A 2048-bit RSA key and a self-signed certificate for it, written to OUT; never overwrites
    (FileExistsError), so an existing key of a registered app is not lost."""
    if days < 1:
        raise ValueError("the certificate must be valid for at least one day")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, cert_path = out / KEY_FILE, out / CERT_FILE
    for path in (key_path, cert_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; choose another --out (an existing key is never "
                                  "overwritten)")
    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    not_before = now.replace(microsecond=0) - dt.timedelta(minutes=5)
    not_after = not_before + dt.timedelta(days=days)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    fd = os.open(cert_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return NewCertificate(key_path, cert_path, thumbprint(cert), not_before, not_after)
