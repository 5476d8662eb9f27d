"""One emulator per test module, real MSAL and real httpx over real HTTPS."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import httpx
import msal
import pytest
import requests

from audit.emulator import (
    AppCertificate,
    AppRegistration,
    EmulatorServer,
    Estate,
    Faults,
    generate_estate,
    make_app_certificate,
)

CLIENT_ID = "6f1e3a52-3c1b-4e1e-9d55-0c2a8f6b7a10"
CLIENT_SECRET = "emulator-test-secret"
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]


@pytest.fixture(scope="session")
def app_certificate() -> AppCertificate:
    return make_app_certificate()


@pytest.fixture(scope="session")
def app_registration(app_certificate: AppCertificate) -> AppRegistration:
    return AppRegistration(CLIENT_ID, app_certificate.certificate_pem, CLIENT_SECRET)


@pytest.fixture(scope="module")
def estate(app_registration: AppRegistration) -> Estate:
    # The real clock: tokens are checked against it, and the estate is relative to "now".
    return generate_estate(now=datetime.now(timezone.utc), app=app_registration)


@pytest.fixture(scope="module")
def server(estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    with EmulatorServer(estate, tmp_path_factory.mktemp("tls"), seed=1) as running:
        yield running


@pytest.fixture(autouse=True)
def _calm_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests may inject faults into the module's estate; each test leaves none behind."""
    yield
    if "estate" not in request.fixturenames:
        return
    estate: Estate = request.getfixturevalue("estate")
    for tenant in estate.tenants.values():
        if tenant.faults.token_error != "AADSTS7000229":
            tenant.faults = Faults()
        else:
            tenant.faults = Faults(token_error="AADSTS7000229")


def msal_session(server: EmulatorServer) -> requests.Session:
    # REQUESTS_CA_BUNDLE is set on these machines and would override verify= (stack-notes.md).
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_file)
    return session


def msal_app(server: EmulatorServer, tenant_id: str, credential: object) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        server.estate.app.client_id, client_credential=credential, authority=f"{server.authority_host}/{tenant_id}",
        instance_discovery=False, http_client=msal_session(server),
    )


@pytest.fixture(scope="module")
def token_for(server: EmulatorServer) -> Callable[[str], str]:
    cache: dict[str, str] = {}

    def get(tenant_id: str) -> str:
        if tenant_id not in cache:
            result = msal_app(server, tenant_id, CLIENT_SECRET).acquire_token_for_client(scopes=GRAPH_SCOPE)
            assert "access_token" in result, result
            cache[tenant_id] = result["access_token"]
        return cache[tenant_id]

    return get


@pytest.fixture(scope="module")
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with httpx.Client(verify=context, trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def graph(server: EmulatorServer, http: httpx.Client, token_for: Callable[[str], str]) -> Callable[..., httpx.Response]:
    """``graph(tenant_id, "/users", params=..., headers=...)`` -> the response."""

    def call(tenant_id: str, path: str, *, method: str = "GET", **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token_for(tenant_id)}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        url = path if path.startswith("https://") else f"{server.graph_base}{path}"
        return http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]

    return call


@pytest.fixture(scope="module")
def tenant_of(estate: Estate) -> Callable[[str], str]:
    """``tenant_of("Contoso Retail")`` -> that customer's tenant id."""

    def find(name: str) -> str:
        return next(c.tenant_id for c in estate.customers if c.name == name)

    return find


@pytest.fixture(scope="module")
def make_msal(server: EmulatorServer) -> Callable[[str, object], msal.ConfidentialClientApplication]:
    return lambda tenant_id, credential: msal_app(server, tenant_id, credential)
