"""Fault injection, per tenant, over real HTTPS."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from audit.emulator import EmulatorServer, Estate
from audit.emulator._faults import FaultEngine

Graph = Callable[..., httpx.Response]


@pytest.fixture()
def contoso(estate: Estate, tenant_of: Callable[[str], str], token_for: Callable[[str], str]) -> str:
    tenant_id = tenant_of("Contoso Retail")
    token_for(tenant_id)   # take the token before faults are injected
    return tenant_id


def test_throttle_budget_gives_429_with_retry_after(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.throttle_budget = 3
    statuses = [graph(contoso, "/subscribedSkus") for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    throttled = statuses[-1]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert throttled.headers["x-ms-throttle-scope"].endswith(contoso)


def test_throttle_window_resets(graph: Graph, estate: Estate, contoso: str) -> None:
    faults = estate.tenants[contoso].faults
    faults.throttle_budget, faults.throttle_window_s = 1, 0.2
    assert graph(contoso, "/subscribedSkus").status_code == 200
    assert graph(contoso, "/subscribedSkus").status_code == 429
    time.sleep(0.25)
    assert graph(contoso, "/subscribedSkus").status_code == 200


def test_sign_in_budget_is_opt_in(graph: Graph, estate: Estate, contoso: str) -> None:
    params = {"$select": "id,signInActivity", "$top": "5"}
    assert all(graph(contoso, "/users", params=params).status_code == 200 for _ in range(12))
    estate.tenants[contoso].faults.signin_budget_per_min = 2
    statuses = [graph(contoso, "/users", params=params).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert graph(contoso, "/users", params={"$select": "id"}).status_code == 200   # other reads unaffected


def test_batch_items_are_throttled_individually(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.throttle_budget = 2
    requests_ = [{"id": str(n), "method": "GET", "url": "/subscribedSkus"} for n in range(4)]
    response = graph(contoso, "/$batch", method="POST", json={"requests": requests_})
    assert response.status_code == 200
    statuses = sorted(r["status"] for r in response.json()["responses"])
    assert statuses == [200, 200, 429, 429]
    throttled = next(r for r in response.json()["responses"] if r["status"] == 429)
    assert int(throttled["headers"]["Retry-After"]) >= 1


def test_transient_503(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.transient_503 = 1.0
    response = graph(contoso, "/users")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    estate.tenants[contoso].faults.transient_503 = 0.5
    statuses = {graph(contoso, "/users", params={"$top": "1"}).status_code for _ in range(30)}
    assert statuses == {200, 503}


def test_fixed_http_error(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.http_errors = {"/subscribedSkus": 403}
    for _ in range(2):
        response = graph(contoso, "/subscribedSkus")
        assert (response.status_code, response.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    assert graph(contoso, "/users").status_code == 200


def test_malformed_json(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.malformed_json = {"/identityGovernance/entitlementManagement"}
    response = graph(contoso, "/identityGovernance/entitlementManagement/assignments")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert graph(contoso, "/users").json()["value"]


def test_truncated_chain(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.truncate_chain = {"/users"}
    body = graph(contoso, "/users", params={"$top": "50"}).json()
    second = graph(contoso, body["@odata.nextLink"])
    assert second.status_code == 200
    third = graph(contoso, second.json()["@odata.nextLink"])
    assert third.status_code == 400
    assert third.json()["error"]["code"] == "Directory_ExpiredPageToken"


def test_tampered_skiptoken(graph: Graph, contoso: str) -> None:
    link = graph(contoso, "/users", params={"$top": "10"}).json()["@odata.nextLink"]
    response = graph(contoso, link.replace("$skiptoken=", "$skiptoken=x"))
    assert response.status_code == 400


def test_connection_reset(graph: Graph, estate: Estate, contoso: str, server: EmulatorServer) -> None:
    estate.tenants[contoso].faults.reset_rate = 1.0
    with pytest.raises(httpx.TransportError):
        graph(contoso, "/users")
    assert any(r.status == 0 and r.tenant_id == contoso for r in server.request_log)
    estate.tenants[contoso].faults.reset_rate = 0.0
    assert graph(contoso, "/users").status_code == 200


def test_latency(graph: Graph, estate: Estate, contoso: str) -> None:
    estate.tenants[contoso].faults.latency_ms = 150
    response = graph(contoso, "/subscribedSkus")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.15


def test_faults_are_reproducible_per_seed(estate: Estate, contoso: str) -> None:
    faults = estate.tenants[contoso].faults
    faults.transient_503 = 0.3

    def outcomes(seed: int) -> list[bool]:
        engine = FaultEngine(seed)
        return [engine.before_graph(contoso, "app", faults, "/users", "") is None for _ in range(40)]

    assert outcomes(5) == outcomes(5)
    assert outcomes(5) != outcomes(6)
