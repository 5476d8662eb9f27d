"""App-only tokens with MSAL: one ConfidentialClientApplication per tenant (graph-api.md §11).

MSAL gets its own `requests.Session` with `trust_env=False`: on these machines REQUESTS_CA_BUNDLE
is set and would silently override `verify=` (stack-notes.md), and an `httpx.Client` as MSAL's
http_client form-encodes the signed assertion as a Python bytes repr (AADSTS50027).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

if TYPE_CHECKING:
    from audit.config import Config

_AADSTS = re.compile(r"AADSTS\d+")


class CredentialError(Exception):
    """The configured credential cannot be loaded (missing file, empty env var…)."""


class TokenError(Exception):
    """No token could be had for a tenant; the message carries the AADSTS reason, never a secret."""


@dataclass(frozen=True)
class Credential:
    """What MSAL's `client_credential=` takes. Kept out of repr so it never reaches a log."""

    value: Any
    kind: str  # "certificate" or "secret"

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r})"


def load_credential(certificate_path: Path | None, secret_env: str | None = None, *,
                    private_key_path: Path | None = None, password_env: str | None = None) -> Credential:
    """Certificate preferred; client secret from an environment variable as the fallback.

    The certificate as people hold it: one PEM with the key and the certificate, a certificate PEM
    and a separate key PEM (`private_key_path`), or a PFX/PKCS#12 file. A password (of the PFX or of
    an encrypted PEM key) comes from the environment variable named by `password_env`. The SHA-1
    thumbprint MSAL sends as `x5t` is always computed from the certificate, never typed."""
    if certificate_path is not None:
        key, cert = load_certificate(certificate_path, private_key_path=private_key_path,
                                     password_env=password_env)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return Credential({"private_key": key_pem, "thumbprint": thumbprint(cert)}, "certificate")
    if secret_env:
        secret = os.environ.get(secret_env, "")
        if not secret:
            raise CredentialError(f"environment variable {secret_env} (app.client_secret_env) is empty or unset")
        return Credential(secret, "secret")
    raise CredentialError("no credential configured (app.certificate_path or app.client_secret_env)")


def thumbprint(cert: x509.Certificate) -> str:
    """The SHA-1 thumbprint of the DER certificate in hex, as the Entra portal shows it."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _password(password_env: str | None) -> bytes | None:
    if password_env is None:
        return None
    value = os.environ.get(password_env)
    if not value:
        raise CredentialError(f"environment variable {password_env} (app.certificate_password_env) is empty or unset")
    return value.encode()


def load_certificate(certificate_path: Path, *, private_key_path: Path | None = None,
                     password_env: str | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The app's RSA private key and the certificate that belongs to it, from any of the three forms;
    `CredentialError` with one line naming the file otherwise (never the password)."""
    data = _read(certificate_path, "certificate")
    password = _password(password_env)
    if b"-----BEGIN" not in data:
        if private_key_path is not None:
            raise CredentialError(f"{certificate_path}: a PFX/PKCS#12 file holds its own key; "
                                  "remove app.private_key_path")
        try:
            key, cert, _chain = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError):
            hint = "" if password_env else " (set app.certificate_password_env if it has a password)"
            raise CredentialError(f"{certificate_path}: not a PEM file, and not a PKCS#12/PFX file that "
                                  f"opens with the password given{hint}") from None
        if key is None or cert is None:
            raise CredentialError(f"{certificate_path}: the PFX/PKCS#12 file must hold both the private key "
                                  "and its certificate")
        candidates = [cert]
    else:
        try:
            candidates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise CredentialError(f"{certificate_path}: holds no PEM certificate (BEGIN CERTIFICATE)") from None
        where = private_key_path or certificate_path
        key_data = data if private_key_path is None else _read(private_key_path, "private key")
        try:
            key = serialization.load_pem_private_key(key_data, password=password)
        except TypeError:
            raise CredentialError(f"{where}: the private key is encrypted; name the environment variable holding "
                                  "its password in app.certificate_password_env" if password is None else
                                  f"{where}: the private key is not encrypted; remove app.certificate_password_env"
                                  ) from None
        except ValueError:
            if private_key_path is None:
                raise CredentialError(f"{where}: holds no private key (or it does not open with the password "
                                      "given); put the key in the same PEM or set app.private_key_path") from None
            raise CredentialError(f"{where}: not a PEM private key, or it does not open with the password "
                                  "given") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(f"{private_key_path or certificate_path}: the key must be RSA (Entra certificate "
                              "credentials are RSA)")
    mine = key.public_key().public_numbers()
    for cert in candidates:
        public = cert.public_key()
        if isinstance(public, rsa.RSAPublicKey) and public.public_numbers() == mine:
            return key, cert
    raise CredentialError(f"{certificate_path}: no certificate in it belongs to the private key")


def token_claims(access_token: str) -> dict[str, Any]:
    """The JWT payload, decoded without validation: a hint about granted roles, nothing more."""
    try:
        payload = access_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


# Connect and read timeouts of every request to the authority: MSAL's own session would wait for
# ever on an authority that accepts the connection and never answers.
DEFAULT_TOKEN_TIMEOUT = (10.0, 60.0)


class TokenProvider:
    """Tokens for one tenant. MSAL caches them and refreshes ~5 min before expiry; `token(stale=…)`
    drops a token Graph refused (revoked before its advertised expiry) and asks for a new one."""

    def __init__(self, *, tenant_id: str, client_id: str, credential: Credential, authority_host: str,
                 scope: str, ca_bundle: Path | None,
                 timeout: tuple[float, float] = DEFAULT_TOKEN_TIMEOUT) -> None:
        self.tenant_id = tenant_id
        self._scope = scope
        session = requests.Session()
        session.trust_env = False
        session.verify = str(ca_bundle) if ca_bundle else True
        # requests has no session-wide timeout; MSAL does the same for its own session.
        session.request = functools.partial(session.request, timeout=timeout)  # type: ignore[method-assign]
        self._session = session
        # The thread of a hung request cannot be cancelled; this bounds how long a tenant waits for it.
        self._deadline = sum(timeout) + 5.0
        self._app: msal.ConfidentialClientApplication | None = None
        self._app_args = dict(client_id=client_id, client_credential=credential.value,
                              authority=f"{authority_host}/{tenant_id}", http_client=session,
                              instance_discovery=False)
        self._lock = asyncio.Lock()
        self._current: str | None = None
        self.roles: tuple[str, ...] = ()
        self.refreshed = 0               # tokens dropped because Graph refused them

    def _acquire(self, stale: str | None) -> str:
        try:
            if self._app is None:
                # The constructor fetches the OpenID discovery document: a network call.
                self._app = msal.ConfidentialClientApplication(**self._app_args)
            if stale is not None and stale == self._current:
                # MSAL rejects force_refresh for client credentials: drop the cached token instead.
                cache = self._app.token_cache
                for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    cache.remove_at(entry)
                self.refreshed += 1
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except (requests.RequestException, ValueError) as exc:
            raise TokenError(f"cannot reach the token endpoint: {_scrub(_first_line(exc))}") from None
        if "access_token" not in result:
            raise TokenError(_describe_failure(result))
        token: str = result["access_token"]
        self._current = token
        self.roles = tuple(sorted(token_claims(token).get("roles", [])))
        return token

    async def token(self, *, stale: str | None = None) -> str:
        """A valid token; `stale` is one Graph just refused with 401, replaced unless already replaced."""
        async with self._lock:
            try:
                return await asyncio.wait_for(asyncio.to_thread(self._acquire, stale), self._deadline)
            except TimeoutError:
                raise TokenError(f"no answer from the token endpoint within {self._deadline:g} s") from None

    def close(self) -> None:
        self._session.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text.splitlines()[0]}"[:300]


def _describe_failure(result: dict[str, Any]) -> str:
    description = str(result.get("error_description", ""))
    code = _AADSTS.search(description)
    first_line = description.splitlines()[0] if description else ""
    text = first_line if code else f"{result.get('error', 'unknown_error')}: {first_line}".rstrip(": ")
    return _scrub(text)[:300]


def _scrub(text: str) -> str:
    # Entra never echoes secrets, but a proxy or a library might echo a request: drop anything
    # that looks like a JWT or a long opaque credential.
    return re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]*|[A-Za-z0-9~_.\-]{40,}", "[redacted]", text)


def app_credential(config: Config) -> Credential:
    """The credential the configuration's [app] section names."""
    app = config.app
    return load_credential(app.certificate_path, app.client_secret_env, private_key_path=app.private_key_path,
                           password_env=app.certificate_password_env)
