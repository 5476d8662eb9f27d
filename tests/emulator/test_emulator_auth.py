"""The Entra side of the emulator, driven by real MSAL over HTTPS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import msal
import pytest

from audit.emulator import (
    NORMAL_ROLES,
    AppCertificate,
    EmulatorServer,
    Estate,
    make_app_certificate,
)

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]

MakeMsal = Callable[[str, object], msal.ConfidentialClientApplication]


@pytest.fixture(scope="module")
def secret(estate: Estate) -> str:
    assert estate.app.client_secret is not None
    return estate.app.client_secret


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_certificate_credential_rs256(make_msal: MakeMsal, app_certificate: AppCertificate, estate: Estate,
                                      tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Contoso Retail")
    credential = {"private_key": app_certificate.private_key_pem, "thumbprint": app_certificate.thumbprint}
    result = make_msal(tenant_id, credential).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result.get("token_type") == "Bearer", result
    claims = claims_of(result["access_token"])
    assert claims["tid"] == tenant_id
    assert claims["roles"] == list(NORMAL_ROLES)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["appid"] == claims["azp"] == estate.app.client_id
    assert claims["idtyp"] == "app"
    assert claims["appidacr"] == "2"
    assert claims["exp"] - claims["iat"] == 3599


def test_certificate_credential_ps256_with_public_certificate(
    make_msal: MakeMsal, app_certificate: AppCertificate, tenant_of: Callable[[str], str],
) -> None:
    credential = {"private_key": app_certificate.private_key_pem, "public_certificate": app_certificate.certificate_pem}
    result = make_msal(tenant_of("Northwind Traders"), credential).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "access_token" in result, result


def test_client_secret_and_partner_roles(make_msal: MakeMsal, secret: str, estate: Estate) -> None:
    result = make_msal(estate.partner_tenant_id, secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    claims = claims_of(result["access_token"])
    assert claims["appidacr"] == "1"
    assert "DelegatedAdminRelationship.Read.All" in claims["roles"]


def test_tenant_by_domain(make_msal: MakeMsal, secret: str, estate: Estate, tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Fabrikam Health")
    domain = estate.tenants[tenant_id].default_domain
    result = make_msal(domain, secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert claims_of(result["access_token"])["tid"] == tenant_id


def test_planted_permissions_show_in_roles(make_msal: MakeMsal, secret: str, estate: Estate,
                                           tenant_of: Callable[[str], str]) -> None:
    adatum = make_msal(tenant_of("Adatum Logistics"), secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "AuditLog.Read.All" not in claims_of(adatum["access_token"])["roles"]
    woodgrove = make_msal(tenant_of("Woodgrove Bank"), secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert "User.ReadWrite.All" in claims_of(woodgrove["access_token"])["roles"]


def test_wrong_secret(make_msal: MakeMsal, tenant_of: Callable[[str], str]) -> None:
    result = make_msal(tenant_of("Contoso Retail"), "not-the-secret").acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215:")
    assert result["error_codes"] == [7000215]
    assert {"timestamp", "trace_id", "correlation_id"} <= result.keys()


def test_unregistered_certificate(make_msal: MakeMsal, tenant_of: Callable[[str], str]) -> None:
    other = make_app_certificate("someone-else")
    credential = {"private_key": other.private_key_pem, "thumbprint": other.thumbprint}
    result = make_msal(tenant_of("Contoso Retail"), credential).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error_codes"] == [700027]


def test_consent_revoked_tenant(make_msal: MakeMsal, secret: str, tenant_of: Callable[[str], str]) -> None:
    result = make_msal(tenant_of("Wingtip Legal"), secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error_description"].startswith("AADSTS7000229:")
    assert result["error_codes"] == [7000229]


def test_injected_token_error(make_msal: MakeMsal, secret: str, estate: Estate,
                              tenant_of: Callable[[str], str]) -> None:
    tenant_id = tenant_of("Tailspin Toys")
    estate.tenants[tenant_id].faults.token_error = "AADSTS700016"
    result = make_msal(tenant_id, secret).acquire_token_for_client(scopes=GRAPH_SCOPE)
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]


def test_unknown_tenant_fails_discovery(make_msal: MakeMsal, secret: str, estate: Estate, server: EmulatorServer,
                                        http: httpx.Client) -> None:
    unknown = "00000000-1111-2222-3333-444444444444"
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        make_msal(unknown, estate.app.client_secret)
    answer = http.get(f"{server.authority_host}/{unknown}/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [90002]


def test_token_endpoint_errors_directly(server: EmulatorServer, http: httpx.Client, estate: Estate,
                                        tenant_of: Callable[[str], str]) -> None:
    url = f"{server.authority_host}/{tenant_of('Contoso Retail')}/oauth2/v2.0/token"
    base = {"grant_type": "client_credentials", "scope": GRAPH_SCOPE[0]}
    unknown_app = http.post(url, data={**base, "client_id": "nope", "client_secret": estate.app.client_secret})
    assert unknown_app.json()["error_codes"] == [700016]
    no_credential = http.post(url, data={**base, "client_id": estate.app.client_id})
    assert (no_credential.status_code, no_credential.json()["error_codes"]) == (401, [7000218])
    bad_scope = http.post(url, data={**base, "scope": "User.Read", "client_id": estate.app.client_id,
                                     "client_secret": estate.app.client_secret})
    assert bad_scope.json()["error"] == "invalid_scope"
    assert http.get(url).status_code == 405


def test_graph_rejects_missing_and_forged_tokens(server: EmulatorServer, http: httpx.Client) -> None:
    missing = http.get(f"{server.graph_base}/users")
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    forged = http.get(f"{server.graph_base}/users", headers={"Authorization": "Bearer a.b.c"})
    assert forged.status_code == 401
