"""The Entra side: OpenID discovery and the v2.0 token endpoint (client credentials only).

MSAL reads ``/{tenant}/v2.0/.well-known/openid-configuration`` in its constructor, then posts
``grant_type=client_credentials`` with a client assertion or secret to the ``token_endpoint``
named there (stack-notes.md). Failures carry Entra's body: ``error``, ``error_description``
starting with the AADSTS code, ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from audit.emulator._errors import aadsts_code, entra_error
from audit.emulator._token import (
    TOKEN_LIFETIME_S,
    AssertionRejected,
    issue_access_token,
    verify_client_assertion,
)
from audit.emulator.estate import Estate, TenantData

_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_GRAPH_SCOPES = ("https://graph.microsoft.com/.default", "00000003-0000-0000-c000-000000000000/.default")
_OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}


@dataclass(frozen=True)
class IdentityReply:
    status: int
    body: dict[str, Any]
    tenant_id: str | None      # resolved tenant, for the request log


def find_tenant(estate: Estate, segment: str) -> TenantData | None:
    """A tenant by id or by its default domain, as Entra accepts both in the authority."""
    tenant = estate.tenants.get(segment.lower())
    if tenant is not None:
        return tenant
    lowered = segment.lower()
    return next((t for t in estate.tenants.values() if t.default_domain.lower() == lowered), None)


def _token_endpoint(host: str, tenant_id: str) -> str:
    return f"{host}/{tenant_id}/oauth2/v2.0/token"


def discovery(estate: Estate, host: str, segment: str) -> IdentityReply:
    tenant = find_tenant(estate, segment)
    if tenant is None:
        status, body = entra_error(90002, tenant=segment, client_id="")
        return IdentityReply(status, body, None)
    tid = tenant.tenant_id
    # Entra names the tenant GUID in every endpoint, whatever form the caller used.
    body = {
        "token_endpoint": _token_endpoint(host, tid),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{host}/{tid}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{host}/{tid}/v2.0",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{host}/{tid}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{host}/{tid}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{host}/{tid}/oauth2/v2.0/logout",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "msgraph_host": "graph.microsoft.com",
    }
    return IdentityReply(200, body, tid)


def parse_form(raw: bytes) -> dict[str, str]:
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def token(estate: Estate, host: str, segment: str, form: dict[str, str], *, secret: bytes, now: float) -> IdentityReply:
    """Answer one client-credentials token request."""
    client_id = form.get("client_id", "")
    tenant = find_tenant(estate, segment)

    def fail(code: int, detail: str = "", scope: str = "") -> IdentityReply:
        status, body = entra_error(code, tenant=tenant.tenant_id if tenant else segment, client_id=client_id,
                                   detail=detail, scope=scope)
        return IdentityReply(status, body, tenant.tenant_id if tenant else None)

    if tenant is None:
        return fail(90002)
    if form.get("grant_type") != "client_credentials":
        return fail(70003)
    app = estate.app
    if client_id != app.client_id:
        return fail(700016)
    if tenant.faults.token_error:
        return fail(aadsts_code(tenant.faults.token_error))
    scopes = [s for s in form.get("scope", "").split() if s not in _OIDC_SCOPES]
    if len(scopes) != 1 or scopes[0] not in _GRAPH_SCOPES:
        return fail(1002012, scope=repr(form.get("scope", "")))
    assertion, client_secret = form.get("client_assertion"), form.get("client_secret")
    if assertion is not None:
        if form.get("client_assertion_type") != _JWT_BEARER:
            return fail(50027, "client_assertion_type must be jwt-bearer.")
        audiences = {_token_endpoint(host, tenant.tenant_id), _token_endpoint(host, segment)}
        try:
            verify_client_assertion(assertion, certificate_pem=app.certificate_pem, client_id=client_id,
                                    audiences=audiences, now=now)
        except AssertionRejected as rejected:
            return fail(rejected.code, rejected.detail)
        auth_method = "2"   # appidacr: 2 = certificate
    elif client_secret is not None:
        if app.client_secret is None or not hmac.compare_digest(client_secret.encode(), app.client_secret.encode()):
            return fail(7000215)
        auth_method = "1"   # appidacr: 1 = client secret
    else:
        return fail(7000218)
    issued = int(now)
    claims: dict[str, Any] = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{tenant.tenant_id}/",   # Graph's app tokens are v1.0 tokens
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_LIFETIME_S,
        "app_displayname": "mssp-audit",
        "appid": client_id,
        "appidacr": auth_method,
        "azp": client_id,
        "azpacr": auth_method,
        "idp": f"https://sts.windows.net/{tenant.tenant_id}/",
        "idtyp": "app",
        "oid": tenant.service_principal_id,
        "sub": tenant.service_principal_id,
        "tid": tenant.tenant_id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
    }
    if tenant.granted_roles:
        # Entra leaves ``roles`` out altogether when nothing is granted (§11).
        claims["roles"] = list(tenant.granted_roles)
    body = {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_S,
        "ext_expires_in": TOKEN_LIFETIME_S,
        "access_token": issue_access_token(secret, claims),
    }
    return IdentityReply(200, body, tenant.tenant_id)
