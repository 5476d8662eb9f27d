"""JWTs: checking the app's client assertion, issuing and checking Graph access tokens.

Client assertion (stack-notes.md): MSAL signs RS256 with header ``x5t`` (SHA-1 thumbprint)
when given ``{"private_key", "thumbprint"}``, or PS256 with ``x5t#S256`` when given the
public certificate; ``aud`` is the token endpoint, ``iss`` = ``sub`` = client id, 600 s life.
Access tokens are HS256 with a per-server secret: only this server has to read them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

GRAPH_AUDIENCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
TOKEN_LIFETIME_S = 3599
_SKEW_S = 300   # Entra tolerates five minutes of clock skew on assertions


class AssertionRejected(Exception):
    """The client assertion cannot authenticate the app; ``code`` is the AADSTS number."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class TokenRejected(Exception):
    """A bearer token Graph would refuse (401 InvalidAuthenticationToken)."""


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        payload = json.loads(b64url_decode(payload_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("malformed JWT") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("malformed JWT")
    return header, payload, signature, f"{header_b64}.{payload_b64}".encode("ascii")


@dataclass(frozen=True)
class _Certificate:
    public_key: rsa.RSAPublicKey
    x5t: str          # base64url SHA-1 of the DER certificate
    x5t_s256: str     # base64url SHA-256 of the DER certificate


def _load_certificate(pem: str) -> _Certificate:
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the app certificate must hold an RSA key")
    der = cert.public_bytes(serialization.Encoding.DER)
    return _Certificate(
        public_key=key,
        x5t=b64url_encode(hashlib.sha1(der).digest()),
        x5t_s256=b64url_encode(hashlib.sha256(der).digest()),
    )


def _thumb(value: object) -> str | None:
    # MSAL keeps base64 padding on x5t ("…="); RFC 7515 says base64url without. Accept both.
    return value.rstrip("=") if isinstance(value, str) else None


def verify_client_assertion(
    assertion: str, *, certificate_pem: str | None, client_id: str, audiences: set[str], now: float,
) -> None:
    """Raise ``AssertionRejected`` unless ``assertion`` proves possession of the app's key."""
    try:
        header, claims, signature, signed = _split(assertion)
    except ValueError:
        raise AssertionRejected(50027, "The client assertion is not a JWT.") from None
    if certificate_pem is None:
        raise AssertionRejected(700027, "No certificate is registered on the application.")
    cert = _load_certificate(certificate_pem)
    alg = header.get("alg")
    try:
        if alg == "RS256":
            if _thumb(header.get("x5t")) != cert.x5t:
                raise AssertionRejected(700027, "Key was not found (x5t does not match).")
            cert.public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "PS256":
            if _thumb(header.get("x5t#S256")) != cert.x5t_s256:
                raise AssertionRejected(700027, "Key was not found (x5t#S256 does not match).")
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            cert.public_key.verify(signature, signed, pss, hashes.SHA256())
        else:
            raise AssertionRejected(50027, f"Unsupported signing algorithm {alg!r}.")
    except InvalidSignature:
        raise AssertionRejected(700027, "Client assertion contains an invalid signature.") from None
    if claims.get("aud") not in audiences:
        raise AssertionRejected(50027, "The audience of the client assertion is not the token endpoint.")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRejected(50027, "The client assertion's iss and sub must be the client id.")
    expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
    if not isinstance(expires, (int, float)) or expires + _SKEW_S < now:
        raise AssertionRejected(700024, "The client assertion has expired.")
    if isinstance(not_before, (int, float)) and not_before - _SKEW_S > now:
        raise AssertionRejected(700024, "The client assertion is not yet valid.")


def issue_access_token(secret: bytes, claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    payload = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url_encode(signature)}"


def read_access_token(secret: bytes, token: str, *, now: float) -> dict[str, Any]:
    """The claims of a token this server issued; ``TokenRejected`` with Graph's reason otherwise."""
    try:
        header, claims, signature, signed = _split(token)
    except ValueError:
        raise TokenRejected("IDX14100: JWT is not well formed.") from None
    expected = hmac.new(secret, signed, hashlib.sha256).digest()
    if header.get("alg") != "HS256" or not hmac.compare_digest(signature, expected):
        raise TokenRejected("Signature validation failed.")
    if claims.get("aud") not in GRAPH_AUDIENCES:
        raise TokenRejected("Invalid audience.")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now:
        raise TokenRejected("Lifetime validation failed, the token is expired.")
    return claims
