"""Optional Ed25519 signatures of the seal and of each evaluation record.

A signature signs the record's digest (the sha256 of its canonical core, audit/snapshot/seal.py) as
ASCII hex, and is stored beside the record as `<record>.sig`: the base64 of the 64 signature bytes.
`[output] signing_key` names the private key (PEM, PKCS#8); the auditor checks with the public key.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from audit.snapshot.store import write_bytes_once


class SigningError(Exception):
    """The signing key or a public key cannot be used; the message says which file and why."""


def signature_path(record: Path) -> Path:
    return record.with_name(record.name + ".sig")


def load_private_key(path: Path):  # -> Ed25519PrivateKey (cryptography is imported only when signing)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise SigningError(f"{path}: not a readable unencrypted PEM private key ({type(error).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path):  # -> Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError) as error:
        raise SigningError(f"{path}: not a readable PEM public key ({type(error).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path}: not an Ed25519 public key")
    return key


def sign_record(key_path: Path | None, record: Path, digest: str) -> None:
    """Write `<record>.sig` (once) when a signing key is configured."""
    if key_path is None:
        return
    signature = load_private_key(key_path).sign(digest.encode("ascii"))
    write_bytes_once(signature_path(record), base64.b64encode(signature) + b"\n")


def signature_valid(public_key, digest: str, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    try:
        public_key.verify(base64.b64decode(signature.strip(), validate=True), digest.encode("ascii"))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
