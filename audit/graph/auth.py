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
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

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


def load_credential(certificate_path: Path | None, thumbprint: str | None,
                    secret_env: str | None) -> Credential:
    """Certificate preferred; client secret from an environment variable as the fallback."""
    if certificate_path is not None:
        try:
            pem = certificate_path.read_bytes()
        except OSError as exc:
            raise CredentialError(f"{certificate_path}: cannot read the certificate ({exc.strerror})") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise CredentialError(
                f"{certificate_path}: needs an unencrypted private key and its certificate in one PEM file"
            ) from None
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        sha1 = thumbprint or hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        return Credential({"private_key": key_pem, "thumbprint": sha1}, "certificate")
    if secret_env:
        secret = os.environ.get(secret_env, "")
        if not secret:
            raise CredentialError(f"environment variable {secret_env} (app.client_secret_env) is empty or unset")
        return Credential(secret, "secret")
    raise CredentialError("no credential configured (app.certificate_path or app.client_secret_env)")


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
